package backup

import (
	"io"
	"time"

	"filippo.io/age"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// WriteFrom writes the backup file of an opened consistent copy b to w,
// encrypted to recipients, stamped created.
func WriteFrom(w io.Writer, b *cluster.Backup, recipients []age.Recipient, created time.Time) (Header, error) {
	h := Header{LogicVersion: b.LogicVersion, AppliedIndex: b.Index, Created: created.UTC(),
		NodeID: b.NodeID, NodeVersion: b.Version}
	err := Write(w, h, recipients, func(w io.Writer) error {
		_, err := b.WriteTo(w)
		return err
	})
	h.Format, h.Encryption = FormatVersion, "age"
	return h, err
}
