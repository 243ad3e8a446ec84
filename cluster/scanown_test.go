package cluster

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// TestScanOwnSeesTheCommandsOwnWrites: ScanOwn merges, in key order, the
// stored keys, the earlier commands' writes and the command's own (new
// keys, replaced values, deletes), from `from` on, and stops on ErrStop.
func TestScanOwnSeesTheCommandsOwnWrites(t *testing.T) {
	type op struct {
		Put  map[string]string `json:"put"`
		Del  []string          `json:"del"`
		From string            `json:"from"`
		Stop int               `json:"stop"` // stop after this many (0: never)
	}
	const kind Kind = "test.scanown"
	cmd := Command{Kind: kind, Since: 1, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
		var in op
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, PayloadError(err)
		}
		for k, v := range in.Put {
			tx.PutRaw(k, []byte(v))
		}
		for _, k := range in.Del {
			tx.Delete(k)
		}
		var seen []string
		err := tx.ScanOwn("l/", in.From, func(key string, val []byte) error {
			seen = append(seen, key+"="+string(val))
			if len(seen) == in.Stop {
				return ErrStop
			}
			return nil
		})
		return seen, err
	}}
	env := func(o op) []byte {
		p, _ := json.Marshal(o)
		b, _ := json.Marshal(&Envelope{Kind: kind, LogicVersion: LogicVersion, Time: testEpoch, Actor: Actor{ID: "r1"}, Payload: p})
		return b
	}
	cases := []struct {
		name string
		op   op
		want string
	}{
		{"nothing of its own", op{}, "[l/1=a l/3=c l/5=e]"},
		{"new keys between, before and after", op{Put: map[string]string{"l/0": "z", "l/4": "d", "l/6": "f"}}, "[l/0=z l/1=a l/3=c l/4=d l/5=e l/6=f]"},
		{"a replaced value and a delete", op{Put: map[string]string{"l/3": "C"}, Del: []string{"l/5"}}, "[l/1=a l/3=C]"},
		{"from", op{Put: map[string]string{"l/2": "b", "l/0": "z"}, From: "2"}, "[l/2=b l/3=c l/5=e]"},
		{"stop among stored keys", op{Put: map[string]string{"l/9": "i"}, Stop: 2}, "[l/1=a l/3=c]"},
		{"stop on an own key", op{Put: map[string]string{"l/2": "b"}, Stop: 2}, "[l/1=a l/2=b]"},
		{"stop on the last own key", op{Put: map[string]string{"l/8": "h", "l/9": "i"}, Stop: 4}, "[l/1=a l/3=c l/5=e l/8=h]"},
	}
	for _, c := range cases {
		f := newTestFSMWith(t, []Command{cmd})
		// Stored: l/1, l/3, l/5 (and m/1 outside the prefix).
		f.ApplyBatch([]*raft.Log{cmdLog(1, env(op{Put: map[string]string{"l/1": "a", "l/3": "c", "l/5": "e", "m/1": "x"}}))})
		res := f.ApplyBatch([]*raft.Log{cmdLog(2, env(c.op))})[0].([]*Result)[0]
		if f.fatalCount() != 0 {
			t.Fatalf("%s: the FSM stopped", c.name)
		}
		if res.Err != nil {
			t.Fatalf("%s: %v", c.name, res.Err)
		}
		var got []string
		if err := json.Unmarshal(res.Value, &got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
}
