package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// nhs111Workload is --workload nhs111: NHS 111 call handlers send callers
// already triaged by NHS Pathways, each with its Dx disposition code, in
// one call (POST /v1/attendances with channel nhs111, the Dx code and the
// 111 case reference); the cluster routes at once, usually to a GP or
// pharmacy slot. Half the callers never turn up (status left, which
// frees the slot), so capacity is used and freed all through the run.
type nhs111Workload struct {
	bytes    int
	services *serviceCapacity

	calls, allocated, released atomic.Int64
}

// nhs111Dx is the mix of dispositions 111 sends to an urgent care centre:
// mostly primary care within hours, some pharmacy, some emergency
// treatment within 4 hours, a few self care. Weights add up to 100.
var nhs111Dx = []struct {
	code   string
	weight int
}{
	{"Dx05", 20}, {"Dx06", 20}, {"Dx07", 5}, {"Dx08", 10}, {"Dx12", 5}, {"Dx13", 5},
	{"Dx28", 20}, {"Dx03", 10}, {"Dx02", 2}, {"Dx25", 3},
}

func newNHS111Workload(seed uint64) Workload {
	s := newSynth(seed, 1<<33)
	total := 0
	const n = 200
	for range n {
		b, _ := json.Marshal(s.nhs111Call(time.Now()))
		total += len(b)
	}
	return &nhs111Workload{bytes: total / n}
}

func (w *nhs111Workload) CommandBytes() int  { return w.bytes }
func (*nhs111Workload) AllocatesSlots() bool { return true }
func (*nhs111Workload) Dispatches() bool     { return false }

// Setup checks the cluster routes Dx attendances and reads the capacity.
func (w *nhs111Workload) Setup(ctx context.Context, s *Session) error {
	resp, err := s.client.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/protocols?q=cough", Node: 0})
	if err != nil {
		return fmt.Errorf("nhs111: %w", err)
	}
	if resp.Status == http.StatusNotFound {
		return errors.New("--workload nhs111 needs the attendance workflow API, which the cluster's build does not have (GET /v1/protocols answers 404)")
	}
	sc, err := readServiceCapacity(ctx, s.client)
	if err != nil {
		return fmt.Errorf("nhs111: %w", err)
	}
	w.services = sc
	return nil
}

func (w *nhs111Workload) SlotCapacity() SlotCapacity {
	if w.services == nil {
		return nil
	}
	return w.services.capacity
}

func (w *nhs111Workload) Summary() string {
	return fmt.Sprintf("%d NHS 111 referrals: %d took a GP or pharmacy slot or place, %d did not turn up and freed theirs",
		w.calls.Load(), w.allocated.Load(), w.released.Load())
}

// nhs111Request is POST /v1/attendances for an NHS 111 referral.
type nhs111Request struct {
	attendanceRequest
	Dx      map[string]string `json:"dx"`
	CaseRef string            `json:"case_ref"`
	Context *walkinContext    `json:"context,omitempty"`
}

func (s *synth) nhs111Call(now time.Time) nhs111Request {
	a := s.attendance(now)
	for a.Patient.GivenName == "" { // 111 always knows who called
		a = s.attendance(now)
	}
	a.Channel = "nhs111"
	if a.Patient.NHSNumber == "" && s.r.IntN(10) < 8 {
		a.Patient.NHSNumber = s.nhsNumber()
	}
	x, code := s.r.IntN(100), ""
	for _, d := range nhs111Dx {
		if x < d.weight {
			code = d.code
			break
		}
		x -= d.weight
	}
	dob, _ := time.Parse("2006-01-02", a.Patient.DateOfBirth)
	age := yearsBetween(dob, now)
	return nhs111Request{attendanceRequest: a, Dx: map[string]string{"code": code},
		CaseRef: fmt.Sprintf("111-%08d", s.r.IntN(100000000)), Context: &walkinContext{AgeYears: &age}}
}

func (w *nhs111Workload) Step(ctx context.Context, s *Session, n uint64) error {
	req := s.synth.nhs111Call(time.Now())
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	key := s.Key(n, "nhs111")
	resp, err := s.Write(ctx, opNHS111, http.MethodPost, "/v1/attendances", b, key)
	if err != nil {
		return err
	}
	var a walkinAttendance
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.ID == "" {
		return fmt.Errorf("%s: acknowledged with an unreadable body: %s", opNHS111, trim(resp.Body, 200))
	}
	e := expectAttendance(a.ID, req.attendanceRequest)
	e["case_ref"] = req.CaseRef
	e["triage"] = map[string]any{"dx": map[string]any{"code": req.Dx["code"]}}
	expect, err := NewExpect(e)
	if err != nil {
		return err
	}
	path := "/v1/attendances/" + a.ID
	s.ledger.Add(AckedWrite{Op: opNHS111, Key: key, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.calls.Add(1)
	slot := a.Routing != nil && a.Routing.Decision.Allocation != nil &&
		(a.Routing.Decision.Allocation.Kind == "slots" || a.Routing.Decision.Allocation.Kind == "places")
	if slot {
		w.allocated.Add(1)
	}
	if a.Routing == nil || strings.HasPrefix(a.Status, "awaiting") || s.synth.r.IntN(2) != 0 {
		return nil
	}
	// The caller does not turn up: reception marks them left.
	k := s.Key(n, "left")
	resp, err = s.Write(ctx, opAttendanceState, http.MethodPost, path+"/status", []byte(`{"status":"left"}`), k)
	if err != nil {
		return err
	}
	expect, _ = NewExpect(map[string]any{"timeline": []any{map[string]any{"status": "left"}}})
	s.ledger.Add(AckedWrite{Op: opAttendanceState, Key: k, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	if slot {
		w.released.Add(1)
	}
	return nil
}

// opNHS111 is the NHS 111 referral in the report.
const opNHS111 = "attendance.nhs111"
