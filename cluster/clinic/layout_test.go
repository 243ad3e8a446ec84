package clinic_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
)

// TestSmallRecordsReadAsTheWholeRecord replays the golden log under two
// layouts of an attendance: as recorded (logic version 4: every attendance
// one record, rewritten whole) and with every command stamped logic
// version 5 (small records); and stamped 14 and 15 (from 15 the triage
// decision and the timeline beside the current state, which stays under
// 1 KiB). Every command must answer byte for byte the same (the Result is
// the HTTP answer and what an Idempotency-Key retry gets), every
// attendance must read the same, and every record other than the
// attendances' must be the same. It also reports the largest values each
// layout writes.
func TestSmallRecordsReadAsTheWholeRecord(t *testing.T) {
	dir := t.TempDir()
	untarGz(t, goldenArchive, dir)
	recorded, _ := goldenLog(t, filepath.Join(dir, "raft", "raft.db"))
	for _, c := range []struct{ before, after int }{{4, 5}, {14, 15}} {
		t.Run(itoa(c.before)+"-"+itoa(c.after), func(t *testing.T) {
			logs := recorded
			if c.before != 4 {
				logs = restamp(t, recorded, c.before)
			}
			sameRecords(t, logs, restamp(t, recorded, c.after), c.after)
		})
	}
}

// sameRecords applies logs and v5 (the same commands under a later logic
// version, lv) to two replicas and compares what they answer and store.
func sameRecords(t *testing.T, logs, v5 []*raft.Log, lv int) {

	f4, f5 := fsmtest.Open(t, clinic.Commands()), fsmtest.Open(t, clinic.Commands())
	r4, r5 := fsmtest.ApplyInBatches(f4, logs, 1), fsmtest.ApplyInBatches(f5, v5, 1)
	if f4.FatalCount()+f5.FatalCount() != 0 {
		t.Fatalf("replay stopped: %v %v", f4.Fatals(), f5.Fatals())
	}
	commands := 0
	for i := range r4 {
		a, okA := r4[i][0].([]*cluster.Result)
		b, okB := r5[i][0].([]*cluster.Result)
		if okA != okB || len(a) != len(b) {
			t.Fatalf("entry %d: results %#v vs %#v", logs[i].Index, r4[i], r5[i])
		}
		for j := range a {
			commands++
			if !bytes.Equal(a[j].Value, b[j].Value) || (a[j].Err == nil) != (b[j].Err == nil) ||
				(a[j].Err != nil && a[j].Err.Message != b[j].Err.Message) {
				t.Fatalf("entry %d command %d answers differently:\nv4 %s %v\nv5 %s %v", logs[i].Index, j, a[j].Value, a[j].Err, b[j].Value, b[j].Err)
			}
		}
	}
	s4, s5 := values(t, f4), values(t, f5)
	attendances := 0
	for k, v := range s4 {
		if strings.HasPrefix(k, "a/") || strings.HasPrefix(k, "m/") {
			continue
		}
		if !bytes.Equal(v, s5[k]) {
			t.Errorf("%s differs:\nv4 %s\nv5 %s", k, v, s5[k])
		}
	}
	for k := range s5 {
		if _, ok := s4[k]; !ok && !strings.HasPrefix(k, "ap/") && !strings.HasPrefix(k, "a/") && !strings.HasPrefix(k, "m/") {
			t.Errorf("%s only in the small-record layout", k)
		}
	}
	read := func(f *fsmtest.FSM, id string) []byte {
		var b []byte
		f.ReadState(t, func(v *cluster.View) error {
			a, err := care.In(v).Attendance(id)
			if err != nil {
				return err
			}
			b, err = json.Marshal(a)
			return err
		})
		return b
	}
	for k := range s4 {
		if !strings.HasPrefix(k, "a/") {
			continue
		}
		attendances++
		id := strings.TrimPrefix(k, "a/")
		if a, b := read(f4, id), read(f5, id); !bytes.Equal(a, b) {
			t.Errorf("attendance %s reads differently:\nv4 %s\nv5 %s", id, a, b)
		}
	}
	if commands < 100 || attendances < 10 {
		t.Fatalf("only %d commands and %d attendances compared", commands, attendances)
	}
	t.Logf("%d commands answered alike, %d attendances read alike", commands, attendances)
	t.Logf("largest attendance values before: %s", largest(s4, "a/"))
	t.Logf("largest attendance values, logic version %d: %s; parts %s", lv, largest(s5, "a/"), largest(s5, "ap/"))
	if lv >= 15 {
		for k, v := range s5 {
			if strings.HasPrefix(k, "a/") && len(v) > 1024 {
				t.Errorf("%s is %d bytes at logic version %d:\n%s", k, len(v), lv, v)
			}
		}
	}
}

// restamp returns logs with every command's logic version set to lv.
func restamp(t *testing.T, logs []*raft.Log, lv int) []*raft.Log {
	t.Helper()
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		out[i] = &c
		if l.Type != raft.LogCommand {
			continue
		}
		envs, err := cluster.DecodeEntry(l.Data)
		if err != nil {
			t.Fatal(err)
		}
		raws := make([][]byte, len(envs))
		for j := range envs {
			envs[j].LogicVersion = lv
			if raws[j], err = json.Marshal(&envs[j]); err != nil {
				t.Fatal(err)
			}
		}
		c.Data = cluster.EncodeEntry(raws...)
	}
	return out
}

func values(t *testing.T, f *fsmtest.FSM) map[string][]byte {
	out := map[string][]byte{}
	f.ReadState(t, func(v *cluster.View) error {
		return v.Scan("", "", func(k string, val []byte) error {
			out[k] = append([]byte(nil), val...)
			return nil
		})
	})
	return out
}

// largest names the three largest values under prefix and their sizes.
func largest(vals map[string][]byte, prefix string) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, v := range vals {
		if strings.HasPrefix(k, prefix) {
			all = append(all, kv{k, len(v)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	var parts []string
	for i := 0; i < len(all) && i < 3; i++ {
		parts = append(parts, all[i].k+"="+itoa(all[i].n))
	}
	return strings.Join(parts, ", ")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
