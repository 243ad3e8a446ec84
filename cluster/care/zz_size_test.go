package care

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

func TestZZSizes(t *testing.T) {
	f := demoFSM(t)
	age := 30
	idx := uint64(3)
	apply := func(env []byte) *cluster.Result {
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(idx, env)})[0])
		idx++
		if r.Err != nil {
			t.Fatalf("entry %d: %v", idx-1, r.Err)
		}
		return r
	}
	id := "Wbur"
	r := apply(kindEnv(t, KindAttendanceCreate, 10, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
		Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id))
	for step := 0; step < 80; step++ {
		reply, ok := firstQuestionReply(t, r.Value)
		if !ok {
			break
		}
		r = apply(kindEnv(t, KindAttendanceAnswer, 10, testReception, AttendanceAnswers{AttendanceID: id, Answers: []triage.Reply{reply}}))
	}
	f.Read(func(v *cluster.View) error {
		return v.Scan("", "", func(key string, val []byte) error {
			if strings.HasSuffix(key, "/s") && strings.Contains(key, id) {
				var m map[string]json.RawMessage
				json.Unmarshal(val, &m)
				var s map[string]json.RawMessage
				json.Unmarshal(m["session"], &s)
				for k, v := range s {
					t.Logf("session.%s %d", k, len(v))
				}
				var o map[string]json.RawMessage
				json.Unmarshal(s["outcome"], &o)
				for k, v := range o {
					t.Logf("outcome.%s %d", k, len(v))
				}
				t.Logf("%s", s["outcome"])
			}
			return nil
		})
	})
}
