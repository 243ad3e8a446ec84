package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// nhs111Workload is --workload nhs111: NHS 111 call handlers send callers
// already triaged by NHS Pathways over BaRS (bars.go): three calls in four
// are referrals (a servicerequest-request with the Dx code and the 111
// case reference; the cluster routes at once, usually to a GP or pharmacy
// slot), one in four a booking of the first free place found with GET
// /fhir/R4/Slot (a booking-request). Half the referred callers never turn
// up (status left, which frees the slot) and half the bookings are
// cancelled, so capacity is used and freed all through the run.
type nhs111Workload struct {
	bytes    int
	services *serviceCapacity

	target string // the directory service 111 refers and books to

	calls, booked, full, allocated, released atomic.Int64
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
	return w.useServices(sc)
}

// useServices takes the directory's capacity and picks the service 111
// refers and books to: the UCC stream, else the first by id.
func (w *nhs111Workload) useServices(sc *serviceCapacity) error {
	w.services = sc
	w.target = "gp-ucc-stream"
	if _, ok := sc.services[w.target]; !ok {
		ids := make([]string, 0, len(sc.services))
		for id := range sc.services {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) == 0 {
			return errors.New("nhs111: the directory has no slot-capacity service to refer or book to")
		}
		w.target = ids[0]
	}
	return nil
}

func (w *nhs111Workload) SlotCapacity() SlotCapacity {
	if w.services == nil {
		return nil
	}
	return w.services.capacity
}

func (w *nhs111Workload) Summary() string {
	return fmt.Sprintf("%d NHS 111 referrals and %d bookings over BaRS (%d bookings refused: session full); %d did not turn up or cancelled",
		w.calls.Load(), w.booked.Load(), w.full.Load(), w.released.Load())
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
	if req.Patient.DateOfBirth == "" {
		req.Patient.NHSNumber = "" // a UK Core NHS number comes with a traced name and date of birth
	}
	if n%4 == 3 {
		if done, err := w.book(ctx, s, n, req); done || err != nil {
			return err
		}
	}
	key := s.Key(n, "nhs111")
	resp, err := s.WriteWith(ctx, opNHS111, http.MethodPost, barsProcessMessage, barsReferral(key, req), key, barsHeaders(key, w.target), false)
	if err != nil {
		return err
	}
	id, err := barsResourceID(resp.Body, "Encounter")
	if err != nil {
		return fmt.Errorf("%s: acknowledged with an unreadable body (%v): %s", opNHS111, err, trim(resp.Body, 200))
	}
	e := expectAttendance(id, req.attendanceRequest)
	e["case_ref"] = req.CaseRef
	e["triage"] = map[string]any{"dx": map[string]any{"code": req.Dx["code"]}}
	expect, err := NewExpect(e)
	if err != nil {
		return err
	}
	path := "/v1/attendances/" + id
	s.ledger.Add(AckedWrite{Op: opNHS111, Key: key, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.calls.Add(1)
	if s.synth.r.IntN(2) != 0 {
		return nil
	}
	// The caller does not turn up: reception marks them left (which frees
	// any slot the referral was routed to).
	k := s.Key(n, "left")
	resp, err = s.Write(ctx, opAttendanceState, http.MethodPost, path+"/status", []byte(`{"status":"left"}`), k)
	if err != nil {
		return err
	}
	expect, _ = NewExpect(map[string]any{"timeline": []any{map[string]any{"status": "left"}}})
	s.ledger.Add(AckedWrite{Op: opAttendanceState, Key: k, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.released.Add(1)
	return nil
}

// book books the caller a place of the target's first free session
// (done false when there is none: the caller is referred instead); half
// the bookings are cancelled again, freeing the place. A full session is
// an expected refusal (409): the double-booking checker counts what the
// cluster allocated against the sessions' capacity.
func (w *nhs111Workload) book(ctx context.Context, s *Session, n uint64, req nhs111Request) (bool, error) {
	key := s.Key(n, "book")
	resp, err := s.ReadWith(ctx, opBARSSlots, barsSlotQuery(time.Now()), barsHeaders(key+"-slots", w.target))
	if err != nil {
		return false, err
	}
	slot := barsFirstSlot(resp.Body, time.Now())
	if slot == "" {
		return false, nil
	}
	resp, err = s.WriteWith(ctx, opBARSBooking, http.MethodPost, barsProcessMessage, barsBooking(key, slot, req), key, barsHeaders(key, w.target), true)
	var refused *Refusal
	if errors.As(err, &refused) {
		w.full.Add(1)
		return true, nil
	}
	if err != nil {
		return true, err
	}
	id, err := barsResourceID(resp.Body, "Encounter")
	if err != nil {
		return true, fmt.Errorf("%s: acknowledged with an unreadable body (%v): %s", opBARSBooking, err, trim(resp.Body, 200))
	}
	e := expectAttendance(id, req.attendanceRequest)
	e["channel"] = "nhs111"
	expect, err := NewExpect(e)
	if err != nil {
		return true, err
	}
	path := "/v1/attendances/" + id
	s.ledger.Add(AckedWrite{Op: opBARSBooking, Key: key, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.booked.Add(1)
	w.allocated.Add(1)
	if s.synth.r.IntN(2) != 0 {
		return true, nil
	}
	// The caller cancels: the Appointment cancelled, in a new message.
	k := s.Key(n, "unbook")
	body := strings.Replace(string(barsBooking(k, slot, req)), `"status":"booked"`, `"status":"cancelled"`, 1)
	body = strings.ReplaceAll(body, "ap-"+k, "ap-"+key) // the same Appointment
	resp, err = s.WriteWith(ctx, opBARSBooking, http.MethodPost, barsProcessMessage, []byte(body), k, barsHeaders(k, w.target), false)
	if err != nil {
		return true, err
	}
	expect, _ = NewExpect(map[string]any{"timeline": []any{map[string]any{"status": "left"}}})
	s.ledger.Add(AckedWrite{Op: opBARSBooking, Key: k, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.released.Add(1)
	return true, nil
}

// Report names of the BaRS operations.
const (
	opBARSSlots   = "bars.slot_search"
	opBARSBooking = "bars.booking"
)

// opNHS111 is the NHS 111 referral in the report.
const opNHS111 = "attendance.nhs111"
