package care

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// Who viewed whom: each read of a patient's record (the patient, an
// attendance, its explanation or slip, a dispatch) is an audit event on
// that record, in the replicated trail like every change, so
// GET /v1/audit?entity=patient/<id> answers an information governance
// review's "who looked at this person". The node that served the reads
// proposes them in batches (cmd/frontdoor/internal/api/readaudit.go): a
// read never waits for raft.
const KindRecordRead cluster.Kind = "record.read"

// MaxReadsPerBatch bounds one record.read command.
const MaxReadsPerBatch = 256

// RecordReads is the payload of KindRecordRead: reads served by one node.
type RecordReads struct {
	Node  string       `json:"node"`
	Reads []RecordRead `json:"reads"`
}

// RecordRead is one read of one record by one key's holder.
type RecordRead struct {
	Actor  cluster.Actor `json:"actor"`  // the key that read it
	Entity string        `json:"entity"` // patient/<id> or attendance/<id>
	Route  string        `json:"route"`  // e.g. GET /v1/patients/:id
	At     time.Time     `json:"at"`     // when the node served it (its clock)
}

// readEntityKinds are the records whose reads are audited.
var readEntityKinds = map[string]bool{"patient": true, "attendance": true}

// Validate returns field errors (nil when valid).
func (r *RecordReads) Validate() map[string]string {
	f := map[string]string{}
	if len(r.Reads) == 0 || len(r.Reads) > MaxReadsPerBatch {
		f["reads"] = fmt.Sprintf("between 1 and %d reads", MaxReadsPerBatch)
	}
	for i, rd := range r.Reads {
		kind, id, ok := strings.Cut(rd.Entity, "/")
		if !ok || !readEntityKinds[kind] || id == "" || strings.Contains(id, "/") || len(rd.Entity) > 200 {
			f[fmt.Sprintf("reads[%d].entity", i)] = "patient/<id> or attendance/<id>"
		}
		if rd.Actor.ID == "" || len(rd.Route) > 200 || rd.At.IsZero() {
			f[fmt.Sprintf("reads[%d]", i)] = "actor, route (at most 200 characters) and at required"
		}
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

func readAuditCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindRecordRead, Since: 8, Apply: applyRecordRead},
	}
}

// applyRecordRead writes one audit event per read on the record read,
// naming the reader as its actor. Only the cluster proposes it (a member
// passing on its reads), never a key.
func applyRecordRead(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	if tx.Actor() != cluster.SystemActor {
		return nil, &cluster.CommandError{Code: access.CodeForbidden, Message: "only the cluster itself records reads"}
	}
	in, err := cluster.DecodeCommand[RecordReads](raw) // validates too
	if err != nil {
		return nil, err
	}
	for _, rd := range in.Reads {
		tx.AuditBy(rd.Actor, "record.read", rd.Entity, map[string]any{"route": rd.Route, "at": rd.At, "node": in.Node})
	}
	return map[string]int{"reads": len(in.Reads)}, nil
}
