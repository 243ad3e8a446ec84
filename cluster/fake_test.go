package cluster

import (
	"encoding/json"
	"strings"
	"time"
)

// The engine's tests apply a stand-in command, test.create: it records a
// payload under a fresh id with the FSM time and an arrival index, and
// refuses a payload without a complaint, so they exercise the engine
// (batching, clock, idempotency, snapshots, refusals) without the clinic's
// domain, which lives in packages that import this one.
const kindTestCreate Kind = "test.create"

type testRecord struct {
	ID        string          `json:"id"`
	ArrivedAt time.Time       `json:"arrived_at"`
	Payload   json.RawMessage `json:"payload"`
}

func testCommands() []Command {
	return []Command{{Kind: kindTestCreate, Since: 1, IDs: 1, Apply: applyTestCreate}}
}

func applyTestCreate(tx *Tx, raw json.RawMessage) (any, error) {
	var in struct {
		Complaint string `json:"complaint"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, PayloadError(err)
	}
	if strings.TrimSpace(in.Complaint) == "" {
		return nil, Invalid(map[string]string{"complaint": "required"})
	}
	id, err := tx.NewID()
	if err != nil {
		return nil, err
	}
	rec := testRecord{ID: id, ArrivedAt: tx.Now(), Payload: raw}
	tx.PutRaw("tx/arrival/"+SortableTime(rec.ArrivedAt)+"/"+id, nil)
	tx.Audit(string(kindTestCreate), "test/"+id, nil)
	return tx.PutJSON("t/"+id, rec)
}

// testRecords lists the test.create records in arrival order.
func testRecords(v *View) ([]testRecord, error) {
	var out []testRecord
	err := v.Keys("tx/arrival/", "", func(key string) error {
		var r testRecord
		if _, err := v.Get("t/"+key[strings.LastIndexByte(key, '/')+1:], &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
