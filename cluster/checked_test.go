package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// kindTestChecked is a stand-in command whose Check keeps a note for Apply
// and whose Apply answers with the note it got (none: "-"), writing nothing.
const kindTestChecked Kind = "test.checked"

func checkedCommands() []Command {
	return append(testCommands(), Command{Kind: kindTestChecked, Since: 1,
		Check: func(_ Reader, _ Actor, _ time.Time, payload json.RawMessage) (any, error) {
			return "checked " + string(payload), nil
		},
		Apply: func(tx *Tx, _ json.RawMessage) (any, error) {
			note, _ := tx.Checked().(string)
			if note == "" {
				note = "-"
			}
			return map[string]string{"note": note}, nil
		}})
}

// TestCheckedHandsTheCheckToApplyOnThisNodeOnly: what a kind's Check
// returns reaches its Apply on the node that proposed it (Tx.Checked), once;
// a replica replaying the same entry decides without it.
func TestCheckedHandsTheCheckToApplyOnThisNodeOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := soloStore(ctx, t, checkedCommands(), nil)
	res, err := s.Propose(ctx, Proposal{Kind: kindTestChecked, Payload: []byte(`"one"`)})
	if err != nil || res.Err != nil {
		t.Fatalf("propose: %v %+v", err, res)
	}
	if got := string(res.Value); got != `{"note":"checked \"one\""}` {
		t.Fatalf("leader's Apply got %s, want the check's note", got)
	}
	if n := len(s.checked.memos); n != 0 {
		t.Fatalf("%d notes left after apply, want 0", n)
	}
	// The same entry replayed elsewhere: no note.
	env, _ := json.Marshal(Envelope{Kind: kindTestChecked, LogicVersion: LogicVersion, Time: time.Now(), Payload: []byte(`"one"`)})
	f, err := openFSM(t.TempDir(), nil, mustCommandTable(checkedCommands()), testLogger(), nil, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	out := f.ApplyBatch([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: encodeEntry([][]byte{env})}})
	rs, ok := out[0].([]*Result)
	if !ok || len(rs) != 1 || string(rs[0].Value) != `{"note":"-"}` {
		t.Fatalf("replica's Apply: %#v", out[0])
	}
}

// TestCheckedTableIsBoundedAndTakenOnce: at most checkedMax notes are
// kept (the oldest go first) and each is handed out once.
func TestCheckedTableIsBoundedAndTakenOnce(t *testing.T) {
	tab := newCheckedTable()
	for i := range checkedMax + 10 {
		tab.put([]byte(fmt.Sprint("env", i)), i)
	}
	if len(tab.memos) != checkedMax || len(tab.order) != checkedMax {
		t.Fatalf("kept %d notes in order of %d, want %d", len(tab.memos), len(tab.order), checkedMax)
	}
	if got, mine := tab.take([]byte("env0")); got != nil || mine {
		t.Fatalf("oldest note still there: %v %v", got, mine)
	}
	last := []byte(fmt.Sprint("env", checkedMax+9))
	if got, mine := tab.take(last); got != checkedMax+9 || !mine {
		t.Fatalf("newest note = %v %v", got, mine)
	}
	if got, mine := tab.take(last); got != nil || mine {
		t.Fatalf("note handed out twice: %v %v", got, mine)
	}
	// A proposal without a note is still marked as proposed here.
	tab.put([]byte("nothing"), nil)
	if got, mine := tab.take([]byte("nothing")); got != nil || !mine {
		t.Fatalf("proposal without a note: %v %v", got, mine)
	}
}
