package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// walkinWorkload is --workload walkin: one iteration is one walk-in's
// whole journey through reception, as the reception page drives the API:
//
//  1. find the patient (GET /v1/patients by NHS number, else name and date
//     of birth), or record them (POST /v1/patients) — unknown attendees
//     (one in fifty) skip this;
//  2. find the protocol for the complaint (GET /v1/protocols?q=, cached);
//  3. record the attendance with the protocol and what is known for
//     triage (POST /v1/attendances), and link it to the patient;
//  4. three in ten: vital signs (POST /v1/attendances/{id}/observations);
//  5. answer every question the protocol asks until it reaches an outcome
//     (POST /v1/attendances/{id}/answers, one round per question, mostly
//     "no", sometimes "yes" or "not sure"): routing happens inside the
//     cluster and may allocate a GP or pharmacy slot;
//  6. a clinician confirms a redirection when one is awaited;
//  7. a patient with no GP practice (one in five) is registered with one;
//  8. half the patients leave before their slot (status left), which frees
//     it: capacity is used and freed all through the run, so sessions stay
//     at their capacity and the double-booking check has something to find.
//
// Every acknowledged write goes in the ledger with what reading it back
// must show.
type walkinWorkload struct {
	bytes int

	protoMu   sync.Mutex
	protocols map[string][]string // complaint -> matching protocol ids, best first
	catchment []string            // postcode districts and sectors some open practice registers

	services *serviceCapacity // from Setup

	journeys, routed, allocated, released, registered atomic.Int64
}

func newWalkinWorkload(seed uint64) Workload {
	c := newCreateWorkload(seed).(*createWorkload)
	return &walkinWorkload{bytes: c.bytes, protocols: map[string][]string{}}
}

func (w *walkinWorkload) CommandBytes() int  { return w.bytes }
func (*walkinWorkload) AllocatesSlots() bool { return true }
func (*walkinWorkload) Dispatches() bool     { return false }

// Setup checks the cluster has the workflow API and reads the services'
// capacity for the double-booking check.
func (w *walkinWorkload) Setup(ctx context.Context, s *Session) error {
	resp, err := s.client.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/protocols?q=cough", Node: 0})
	if err != nil {
		return fmt.Errorf("walkin: %w", err)
	}
	if resp.Status == http.StatusNotFound {
		return errors.New("--workload walkin needs the attendance workflow API, which the cluster's build does not have (GET /v1/protocols answers 404)")
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("walkin: GET /v1/protocols: %d %s", resp.Status, trim(resp.Body, 200))
	}
	sc, err := readServiceCapacity(ctx, s.client)
	if err != nil {
		return fmt.Errorf("walkin: %w", err)
	}
	w.services = sc
	var practices struct {
		Practices []struct {
			Catchment []string `json:"catchment"`
			ListOpen  bool     `json:"list_open"`
		} `json:"practices"`
	}
	if _, err := s.client.GetJSON(ctx, 0, "/v1/practices", &practices); err != nil {
		return fmt.Errorf("walkin: %w", err)
	}
	for _, p := range practices.Practices {
		if p.ListOpen {
			w.catchment = append(w.catchment, p.Catchment...)
		}
	}
	return nil
}

// inCatchment says whether some open practice registers people living at
// postcode (a district such as "DY1" or a sector such as "DY2 7"):
// reception only offers registration here to them.
func (w *walkinWorkload) inCatchment(postcode string) bool {
	pc := strings.ToUpper(strings.TrimSpace(postcode))
	district, _, _ := strings.Cut(pc, " ")
	for _, c := range w.catchment {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == district || strings.HasPrefix(pc, c+" ") || (strings.Contains(c, " ") && strings.HasPrefix(pc, c)) {
			return true
		}
	}
	return false
}

// SlotCapacity implements slotAllocator.
func (w *walkinWorkload) SlotCapacity() SlotCapacity {
	if w.services == nil {
		return nil
	}
	return w.services.capacity
}

// Summary says what the journeys did, for the report.
func (w *walkinWorkload) Summary() string {
	return fmt.Sprintf("%d journeys finished: %d routed, %d took a GP or pharmacy slot or place, %d left and freed theirs, %d registered with a GP",
		w.journeys.Load(), w.routed.Load(), w.allocated.Load(), w.released.Load(), w.registered.Load())
}

// Operation names in the report.
const (
	opPatientFind     = "patient.find"
	opPatientCreate   = "patient.create"
	opProtocolSearch  = "protocol.search"
	opAttendanceLink  = "attendance.link"
	opObserve         = "attendance.observe"
	opAnswer          = "attendance.answer"
	opConfirm         = "attendance.confirm"
	opRegister        = "registration.create"
	opAttendanceState = "attendance.status"
)

// walkinAttendance is the part of an attendance the journey reads.
type walkinAttendance struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Triage *struct {
		Questions []struct {
			ID      string   `json:"id"`
			Type    string   `json:"type"`
			Min     *float64 `json:"min"`
			Max     *float64 `json:"max"`
			Allowed []string `json:"allowed"`
			Choices []struct {
				Value string `json:"value"`
			} `json:"choices"`
		} `json:"questions"`
	} `json:"triage"`
	Routing *struct {
		Decision struct {
			ServiceID  string `json:"service_id"`
			Tier       string `json:"tier"`
			Allocation *struct {
				Kind string `json:"kind"`
			} `json:"allocation"`
		} `json:"decision"`
	} `json:"routing"`
}

// maxRounds bounds one triage: the longest protocol asks a few dozen questions.
const maxRounds = 60

func (w *walkinWorkload) Step(ctx context.Context, s *Session, n uint64) error {
	now := time.Now()
	req := s.synth.attendance(now)
	key := func(op string) string { return s.Key(n, op) }
	noGP := s.synth.r.IntN(5) == 0

	// 1. The patient, when they can say who they are.
	patientID := ""
	if req.Patient.GivenName != "" {
		id, err := w.findOrCreatePatient(ctx, s, req.Patient, noGP, key("patient"))
		if err != nil {
			return err
		}
		patientID = id
	}

	// 2. The protocols that match the complaint.
	protos, err := w.protocolsFor(ctx, s, req.Complaint)
	if err != nil {
		return err
	}

	// 3. The attendance, with what triage needs to know. A protocol that
	// does not apply to the patient (an adult protocol for a child) is
	// refused: reception takes the next match, or records the arrival
	// without triage when none applies.
	var ctxt *walkinContext
	if req.Patient.DateOfBirth != "" {
		dob, _ := time.Parse("2006-01-02", req.Patient.DateOfBirth)
		age := yearsBetween(dob, now)
		sex := "female"
		if s.synth.r.IntN(2) == 0 {
			sex = "male"
		}
		ctxt = &walkinContext{AgeYears: &age, Sex: sex}
	}
	var att *walkinAttendance
	proto := ""
	for i := 0; att == nil; i++ {
		body := walkinCreate{attendanceRequest: req, Context: ctxt}
		if i < len(protos) {
			body.Protocol = protos[i]
		}
		k := key(fmt.Sprintf("create%d", i))
		a, err := w.tryWrite(ctx, s, opCreate, "/v1/attendances", body, k)
		var refused *Refusal
		if errors.As(err, &refused) {
			if i < len(protos) && strings.Contains(string(refused.Resp.Body), `"protocol"`) {
				continue
			}
			s.stats.failure(opCreate, refused.Kind, "POST /v1/attendances: "+trim(refused.Resp.Body, 300))
		}
		if err != nil {
			return err
		}
		att, proto = a, body.Protocol
		e := expectWalkin(a.ID, req, proto)
		if patientID != "" {
			// Linking names the attendance after the patient record, which
			// may be someone recorded earlier under this (synthetic, so
			// shared) NHS number: what the attendance must show is then
			// that record's identity, checked through patient_id below.
			delete(e, "patient")
		}
		if err := w.expect(s, opCreate, "/v1/attendances/"+a.ID, k, e); err != nil {
			return err
		}
	}
	id := att.ID
	path := "/v1/attendances/" + id
	if patientID != "" {
		if _, err := w.write(ctx, s, opAttendanceLink, path+"/patient", map[string]string{"patient_id": patientID}, key("link"),
			map[string]any{"patient_id": patientID}); err != nil {
			return err
		}
	}

	// 4. Vital signs for some.
	if s.synth.r.IntN(10) < 3 {
		obs := s.synth.observations()
		a, err := w.write(ctx, s, opObserve, path+"/observations", obs, key("observe"),
			map[string]any{"triage": map[string]any{"observations": []any{map[string]any{"observations": obs}}}})
		if err != nil {
			return err
		}
		att = a
	}

	// 5. The questions, one round at a time, until an outcome.
	for round := 0; att.Triage != nil && len(att.Triage.Questions) > 0; round++ {
		if round == maxRounds {
			return fmt.Errorf("%s: still asking after %d rounds", id, maxRounds)
		}
		var answers []map[string]string
		for _, q := range att.Triage.Questions {
			answers = append(answers, map[string]string{"question": q.ID, "value": s.synth.answer(q.Type, q.Min, q.Max, q.Allowed, len(q.Choices))})
		}
		want := make([]any, len(answers))
		for i, a := range answers {
			want[i] = map[string]any{"question": a["question"], "value": a["value"]}
		}
		a, err := w.write(ctx, s, opAnswer, path+"/answers", map[string]any{"answers": answers}, key(fmt.Sprintf("answer%d", round)),
			map[string]any{"triage": map[string]any{"answers": want}})
		if err != nil {
			return err
		}
		att = a
	}

	// 6. A clinician confirms a redirection to pharmacy or self care.
	if att.Status == "awaiting_confirmation" {
		a, err := w.write(ctx, s, opConfirm, path+"/confirm", map[string]string{"note": "confirmed by loadtest"}, key("confirm"),
			map[string]any{"confirmations": []any{map[string]any{"note": "confirmed by loadtest"}}})
		if err != nil {
			return err
		}
		att = a
	}
	slot := att.Routing != nil && att.Routing.Decision.Allocation != nil &&
		(att.Routing.Decision.Allocation.Kind == "slots" || att.Routing.Decision.Allocation.Kind == "places")
	if att.Routing != nil {
		w.routed.Add(1)
	}
	if slot {
		w.allocated.Add(1)
	}

	// 7. Registration with a GP practice for those without one.
	if noGP && patientID != "" && w.inCatchment(req.Patient.Postcode) {
		if err := w.register(ctx, s, id, req.Patient.Postcode, key("register")); err != nil {
			return err
		}
	}

	// 8. Half leave before they are seen, freeing their slot.
	if att.Routing != nil && s.synth.r.IntN(2) == 0 {
		if _, err := w.write(ctx, s, opAttendanceState, path+"/status", map[string]string{"status": "left"}, key("left"),
			map[string]any{"timeline": []any{map[string]any{"status": "left"}}}); err != nil {
			return err
		}
		if slot {
			w.released.Add(1)
		}
	}
	w.journeys.Add(1)
	return nil
}

// walkinCreate is POST /v1/attendances with triage.
type walkinCreate struct {
	attendanceRequest
	Protocol string         `json:"protocol,omitempty"`
	Context  *walkinContext `json:"context,omitempty"`
}

type walkinContext struct {
	AgeYears *int     `json:"age_years,omitempty"`
	Sex      string   `json:"sex,omitempty"`
	Flags    []string `json:"flags,omitempty"`
}

func expectWalkin(id string, req attendanceRequest, proto string) map[string]any {
	e := expectAttendance(id, req)
	if proto != "" {
		e["triage"] = map[string]any{"session": map[string]any{"protocol": proto}}
	}
	return e
}

// write posts body to path with key, records the acknowledgement in the
// ledger when expect is given (what reading the attendance back must
// show), and decodes the attendance answered.
func (w *walkinWorkload) write(ctx context.Context, s *Session, op, path string, body any, key string, expect map[string]any) (*walkinAttendance, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := s.Write(ctx, op, http.MethodPost, path, b, key)
	if err != nil {
		return nil, err
	}
	var a walkinAttendance
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.ID == "" {
		return nil, fmt.Errorf("%s: acknowledged with an unreadable body: %s", op, trim(resp.Body, 200))
	}
	if expect != nil {
		if err := w.expect(s, op, "/v1/attendances/"+a.ID, key, expect); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// tryWrite posts body as TryWrite does (a refusal is a *Refusal) and
// decodes the attendance answered; the caller records the expectation.
func (w *walkinWorkload) tryWrite(ctx context.Context, s *Session, op, path string, body any, key string) (*walkinAttendance, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := s.TryWrite(ctx, op, http.MethodPost, path, b, key)
	if err != nil {
		return nil, err
	}
	var a walkinAttendance
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.ID == "" {
		return nil, fmt.Errorf("%s: acknowledged with an unreadable body: %s", op, trim(resp.Body, 200))
	}
	return &a, nil
}

func (w *walkinWorkload) expect(s *Session, op, path, key string, expect map[string]any) error {
	e, err := NewExpect(expect)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.ledger.Add(AckedWrite{Op: op, Key: key, Path: path, AckedAt: time.Now(), Expect: e})
	return nil
}

// findOrCreatePatient looks the patient up by NHS number, else by name
// and date of birth, and takes an exact match; otherwise records them.
func (w *walkinWorkload) findOrCreatePatient(ctx context.Context, s *Session, p attendancePatient, noGP bool, key string) (string, error) {
	q := url.Values{}
	if p.NHSNumber != "" {
		q.Set("nhs_number", strings.ReplaceAll(p.NHSNumber, " ", ""))
	} else {
		q.Set("given_name", p.GivenName)
		q.Set("family_name", p.FamilyName)
		q.Set("date_of_birth", p.DateOfBirth)
	}
	resp, err := s.Read(ctx, opPatientFind, "/v1/patients?"+q.Encode())
	if err != nil {
		return "", err
	}
	var found struct {
		Candidates []struct {
			Patient struct {
				ID string `json:"id"`
			} `json:"patient"`
			Exact bool `json:"exact"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal(resp.Body, &found); err != nil {
		return "", fmt.Errorf("%s: %w", opPatientFind, err)
	}
	for _, c := range found.Candidates {
		if c.Exact && c.Patient.ID != "" {
			return c.Patient.ID, nil
		}
	}
	create := map[string]any{"given_name": p.GivenName, "family_name": p.FamilyName, "date_of_birth": p.DateOfBirth,
		"postcode": p.Postcode, "confirm_new": true}
	if p.NHSNumber != "" {
		create["nhs_number"] = p.NHSNumber
	}
	if !noGP {
		create["gp_practice"] = "X99001"
	}
	b, _ := json.Marshal(create)
	resp, err = s.Write(ctx, opPatientCreate, http.MethodPost, "/v1/patients", b, key)
	if err != nil {
		// Two journeys may record the same synthetic NHS number at once:
		// the loser is told whose it is (409), as reception would be.
		if id := existingPatient(err); id != "" {
			return id, nil
		}
		return "", err
	}
	var rec struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &rec); err != nil || rec.ID == "" {
		return "", fmt.Errorf("%s: acknowledged with an unreadable body: %s", opPatientCreate, trim(resp.Body, 200))
	}
	expect := map[string]any{"id": rec.ID, "given_name": p.GivenName, "family_name": p.FamilyName, "date_of_birth": p.DateOfBirth}
	if p.NHSNumber != "" {
		expect["nhs_number"] = strings.ReplaceAll(p.NHSNumber, " ", "")
	}
	return rec.ID, w.expect(s, opPatientCreate, "/v1/patients/"+rec.ID, key, expect)
}

// existingPatient is the patient id a 409 "already recorded for patient X"
// names, or "".
func existingPatient(err error) string {
	msg := err.Error()
	const marker = "already recorded for patient "
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	id := msg[i+len(marker):]
	if j := strings.IndexAny(id, `" ,}`); j >= 0 {
		id = id[:j]
	}
	return id
}

// protocolsFor finds the protocols for a complaint once and remembers them.
func (w *walkinWorkload) protocolsFor(ctx context.Context, s *Session, complaint string) ([]string, error) {
	w.protoMu.Lock()
	p, ok := w.protocols[complaint]
	w.protoMu.Unlock()
	if ok {
		return p, nil
	}
	resp, err := s.Read(ctx, opProtocolSearch, "/v1/protocols?q="+url.QueryEscape(complaint))
	if err != nil {
		return nil, err
	}
	var found struct {
		Search []struct {
			ID string `json:"id"`
		} `json:"search"`
	}
	if err := json.Unmarshal(resp.Body, &found); err != nil {
		return nil, fmt.Errorf("%s: %w", opProtocolSearch, err)
	}
	for _, f := range found.Search {
		p = append(p, f.ID)
	}
	w.protoMu.Lock()
	w.protocols[complaint] = p
	w.protoMu.Unlock()
	return p, nil
}

// register asks for a GP registration for the attendee. The patient record
// found by NHS number may be someone an earlier journey registered already
// (synthetic numbers are shared): the centre then refuses with 409, which is
// right, and is counted as an expected refusal.
func (w *walkinWorkload) register(ctx context.Context, s *Session, attendanceID, postcode, key string) error {
	b, _ := json.Marshal(map[string]any{"consent": true, "postcode": postcode})
	path := "/v1/attendances/" + attendanceID + "/registration"
	resp, err := s.TryWrite(ctx, opRegister, http.MethodPost, path, b, key)
	var refused *Refusal
	if errors.As(err, &refused) {
		if refused.Resp.Status == http.StatusConflict && strings.Contains(string(refused.Resp.Body), "registered with practice") {
			return nil
		}
		s.stats.failure(opRegister, refused.Kind, "POST "+path+": "+trim(refused.Resp.Body, 300))
	}
	if err != nil {
		return err
	}
	var rec struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &rec); err != nil || rec.ID == "" {
		return fmt.Errorf("%s: acknowledged with an unreadable body: %s", opRegister, trim(resp.Body, 200))
	}
	w.registered.Add(1)
	return w.expect(s, opRegister, "/v1/registrations/"+rec.ID, key, map[string]any{"id": rec.ID, "attendance_id": attendanceID})
}

func yearsBetween(dob, now time.Time) int {
	y := now.Year() - dob.Year()
	if now.YearDay() < dob.YearDay() {
		y--
	}
	return max(y, 0)
}
