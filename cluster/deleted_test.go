package cluster

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// TestDeletedIsThisCommandsDelete: Tx.Deleted is true for a key this
// command deleted and has not written again, whether or not it was
// stored; false for a key deleted by an earlier command of the batch (the
// stored state then lacks it), written, or untouched.
func TestDeletedIsThisCommandsDelete(t *testing.T) {
	type op struct {
		Put  []string `json:"put"`
		Del  []string `json:"del"`
		Then []string `json:"then"` // written after the deletes
		Ask  []string `json:"ask"`
	}
	const kind Kind = "test.deleted"
	cmd := Command{Kind: kind, Since: 1, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
		var in op
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, PayloadError(err)
		}
		for _, k := range in.Put {
			tx.PutRaw(k, nil)
		}
		for _, k := range in.Del {
			tx.Delete(k)
		}
		for _, k := range in.Then {
			tx.PutRaw(k, nil)
		}
		out := map[string]bool{}
		for _, k := range in.Ask {
			out[k] = tx.Deleted(k)
		}
		return out, nil
	}}
	env := func(o op) []byte {
		p, _ := json.Marshal(o)
		b, _ := json.Marshal(&Envelope{Kind: kind, LogicVersion: LogicVersion, Time: testEpoch, Actor: Actor{ID: "r1"}, Payload: p})
		return b
	}
	f := newTestFSMWith(t, []Command{cmd})
	f.ApplyBatch([]*raft.Log{cmdLog(1, env(op{Put: []string{"k/stored", "k/gone"}}))})
	// One batch: the first command deletes k/gone, the second asks.
	res := f.ApplyBatch([]*raft.Log{cmdLog(2, env(op{Del: []string{"k/gone"}}),
		env(op{Del: []string{"k/stored", "k/never", "k/back"}, Then: []string{"k/back"}, Ask: []string{"k/stored", "k/never", "k/back", "k/gone", "k/other"}}))})[0].([]*Result)
	if f.fatalCount() != 0 || res[1].Err != nil {
		t.Fatalf("the FSM stopped or refused: %v", res[1].Err)
	}
	var got map[string]bool
	if err := json.Unmarshal(res[1].Value, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"k/stored": true, "k/never": true, "k/back": false, "k/gone": false, "k/other": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Deleted: %v, want %v", got, want)
	}
}
