package protocolset

import "github.com/frontdoor-ucc/frontdoor/cluster"

// State reads this package's records from a consistent read (a
// cluster.View) or from a command's transaction (a cluster.Tx).
type State struct{ r cluster.Reader }

// In reads from r.
func In(r cluster.Reader) State { return State{r: r} }

// get decodes the record at key into out; cluster.ErrNotFound when absent.
func (v State) get(key string, out any) error {
	found, err := v.r.Get(key, out)
	if err != nil {
		return err
	}
	if !found {
		return cluster.ErrNotFound
	}
	return nil
}
