package care

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// TestPruneEventsFromTheMarkDeletesTheSame: from logic version 5 the queue
// feed is pruned from the last event pruned (evp/ev/) instead of from the
// start of ev/, past every tombstone; the events deleted are the same as
// before, so the state differs only by that mark.
func TestPruneEventsFromTheMarkDeletesTheSame(t *testing.T) {
	n := int(eventWindow) + 300
	logs := func(lv int) []*raft.Log {
		out := make([]*raft.Log, 0, n)
		for i := 1; i <= n; i++ {
			out = append(out, cmdLog(uint64(i), kindEnvAt(t, lv, KindAttendanceCreate, i, testReception,
				AttendanceCreate{Complaint: "cough"}, "A"+strings.Repeat("0", 6-len(itoa(i)))+itoa(i))))
		}
		return out
	}
	f4, f5 := newTestFSM(t), newTestFSM(t)
	applyInBatches(f4, logs(4), 64)
	applyInBatches(f5, logs(5), 64)
	if f4.FatalCount()+f5.FatalCount() != 0 {
		t.Fatalf("replay stopped: %v %v", f4.Fatals(), f5.Fatals())
	}
	read := func(f *testFSM) map[string][]byte {
		out := map[string][]byte{}
		f.ReadState(t, func(v *cluster.View) error {
			return v.Scan("", "", func(k string, val []byte) error {
				out[k] = append([]byte(nil), val...)
				return nil
			})
		})
		return out
	}
	s4, s5 := read(f4), read(f5)
	events := 0
	for k, v := range s4 {
		if strings.HasPrefix(k, "m/") {
			continue
		}
		if strings.HasPrefix(k, prefixEvent) {
			events++
		}
		if w, ok := s5[k]; !ok || (!strings.HasPrefix(k, "a/") && !bytes.Equal(v, w)) {
			t.Errorf("%s differs between the two layouts", k)
		}
	}
	for k := range s5 {
		if _, ok := s4[k]; !ok && !strings.HasPrefix(k, "ap/") && k != keyPruned(prefixEvent) {
			t.Errorf("%s only under logic version 5", k)
		}
	}
	if mark := s5[keyPruned(prefixEvent)]; len(mark) == 0 || events == 0 || events > int(eventWindow)+64 {
		t.Fatalf("mark %q, %d events kept (window %d)", mark, events, eventWindow)
	}
}

func itoa(i int) string {
	var b [20]byte
	p := len(b)
	for {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[p:])
		}
	}
}
