package cluster

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestPartTxnReadsAsOneTransaction: a part's reads (get, scan with and
// without values, from a key, stopped early) see the committed state under
// the part's own writes and deletes exactly as one Badger transaction
// would, checked against a plain map over random writes, deletes and
// commits.
func TestPartTxnReadsAsOneTransaction(t *testing.T) {
	f := newTestFSM(t)
	h, err := f.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	if err := h.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("a/00"), []byte("committed")) }); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{"a/00": "committed"}
	part := newPartTxn(h.db)
	key := func() string { return fmt.Sprintf("%s/%02d", []string{"a", "ab", "b"}[rng.IntN(3)], rng.IntN(30)) }
	check := func(step int) {
		for _, prefix := range []string{"a", "a/", "ab/", "b", "b/", "c/"} {
			from := ""
			if rng.IntN(2) == 0 {
				from = fmt.Sprintf("%02d", rng.IntN(30))
			}
			stopAfter := rng.IntN(40)
			var want []string
			for k, v := range model {
				if strings.HasPrefix(k, prefix) && k >= prefix+from {
					want = append(want, k+"="+v)
				}
			}
			sort.Strings(want)
			if len(want) > stopAfter {
				want = want[:stopAfter]
			}
			for _, values := range []bool{true, false} {
				var got []string
				err := part.scan(prefix, from, values, func(k string, v []byte) error {
					if len(got) == stopAfter {
						return ErrStop
					}
					if !values {
						v = []byte(model[k])
					}
					got = append(got, k+"="+string(v))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("step %d scan(%q, %q, values %v):\n got %v\nwant %v", step, prefix, from, values, got, want)
				}
			}
		}
		k := key()
		v, ok, err := part.getRaw(k)
		if err != nil || ok != (model[k] != "") || string(v) != model[k] {
			t.Fatalf("step %d get %s = %q %v %v, want %q", step, k, v, ok, err, model[k])
		}
	}
	for step := range 400 {
		switch r := rng.IntN(10); {
		case r < 6:
			k, v := key(), fmt.Sprint("v", step)
			b := []byte(v)
			part.set(k, &b)
			model[k] = v
		case r < 9:
			k := key()
			part.set(k, nil)
			delete(model, k)
		default:
			if err := part.commit(uint64(step+1), int64(step)); err != nil {
				t.Fatal(err)
			}
			part.discard()
			part = newPartTxn(h.db)
		}
		check(step)
	}
	part.discard()
}
