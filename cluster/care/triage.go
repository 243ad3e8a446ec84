package care

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Triage and routing inside Apply. An attendance created with a protocol
// starts a triage session (the life-threat screen first) pinned to the
// active protocol set; answers and observations advance it; once it has an
// outcome the outcome becomes a Disposition, the Disposition a routing.Need,
// and routing.Route over the directory and load in state picks the service
// and takes its slot, all in the same Apply. Nothing here reads a clock or
// a file: the FSM clock (tx.Now) and the state are the only inputs.

// Attendance statuses of the workflow (arrived is in attendance.go).
const (
	AttendanceTriaged              = "triaged"
	AttendanceRouted               = "routed"
	AttendanceAwaitingConfirmation = "awaiting_confirmation" // walk-in redirected to pharmacy/self care: a clinician confirms first
	AttendanceClinicianReview      = "clinician_review"      // unmapped Dx, or nothing routable: a clinician decides
	AttendanceCalled               = "called"
	AttendanceSeen                 = "seen"
	AttendanceHandedOver           = "handed_over"
	AttendanceLeft                 = "left"     // left without being seen (or, expected, never came)
	AttendanceExpected             = "expected" // announced by NHS 111, not yet checked in
)

// TriageContext is what is known about the patient for triage at arrival.
// Every field is optional.
type TriageContext struct {
	// At most one of the four ages; a date of birth wins over all of them.
	// Months, weeks and days reach the engine as an age in days (months *
	// 1461/48), so the infant rules (NICE NG143 under 3 months, age-banded
	// pulse and breathing) work without a date of birth.
	AgeYears  *int   `json:"age_years,omitempty"`
	AgeMonths *int   `json:"age_months,omitempty"`
	AgeWeeks  *int   `json:"age_weeks,omitempty"`
	AgeDays   *int   `json:"age_days,omitempty"`
	Sex       string `json:"sex,omitempty"`      // female | male | unknown
	Pregnant  string `json:"pregnant,omitempty"` // yes | no | unknown
	// GestationWeeks: completed weeks of pregnancy (implies pregnant);
	// PostnatalWeeks: weeks since giving birth (NICE NG133 applies for 6).
	GestationWeeks *int                 `json:"gestation_weeks,omitempty"`
	PostnatalWeeks *int                 `json:"postnatal_weeks,omitempty"`
	Flags          []string             `json:"flags,omitempty"` // triage.FlagNames(), e.g. usual_residence, alone
	Observations   *triage.Observations `json:"observations,omitempty"`
	// EarlierContacts the patient reports for this problem in 96 hours;
	// they count in the repeat-contact check with those the record shows.
	EarlierContacts []EarlierContact `json:"earlier_contacts,omitempty"`
	// RegisteredPractice is who the person says their GP practice is (logic
	// version 4): an ODS code or a practice name from GET /v1/practices,
	// stored as the ODS code, or "none" (no GP or not known; GP registration
	// is offered). Routing uses it when the patient record names no practice.
	RegisteredPractice string `json:"registered_practice,omitempty"`
}

// DxReferral is an NHS 111 disposition sent with the attendance: a minimum.
type DxReferral struct {
	Code          string `json:"code"`
	SymptomGroup  string `json:"symptom_group,omitempty"`
	Discriminator string `json:"discriminator,omitempty"`
}

// AnswerRecord is one answer with who gave it and when.
type AnswerRecord struct {
	Question string        `json:"question"`
	Value    string        `json:"value"`
	By       cluster.Actor `json:"by"`
	At       time.Time     `json:"at"`
	Index    uint64        `json:"index"`
}

// ObservationRecord is one set of vital signs with who recorded it and when.
type ObservationRecord struct {
	Observations triage.Observations `json:"observations"`
	By           cluster.Actor       `json:"by"`
	At           time.Time           `json:"at"`
	Index        uint64              `json:"index"`
	Raised       bool                `json:"raised"` // the disposition (or, questions remaining, the interim) went up because of it
	Reason       string              `json:"reason,omitempty"`
}

// Disposition is the level of care the attendance needs: the triage
// outcome, an NHS 111 Dx minimum, a global check or a clinician override,
// whichever is the most intensive (overrides replace).
type Disposition struct {
	Tier      triage.Tier      `json:"tier"`
	Timeframe triage.Timeframe `json:"timeframe"`
	Dx        string           `json:"dx,omitempty"`
	CareNeeds []string         `json:"care_needs"`
	Source    string           `json:"source"`               // protocol | dx | news2 | override
	DecidedBy string           `json:"decided_by,omitempty"` // the deciding rule (triage DecidedBy, or "dx")
	Title     string           `json:"title,omitempty"`
	Advice    string           `json:"advice,omitempty"`
	SafetyNet string           `json:"safety_net,omitempty"`
	Action    string           `json:"action,omitempty"`
	// ClinicianFirst: a clinician assesses first (logic version 3); the
	// attendance is awaiting_clinician until one confirms or overrides.
	ClinicianFirst *ClinicianFirst `json:"clinician_first,omitempty"`
	// ECDS is the outcome's Emergency Care Data Set coding (logic version
	// 9, ecds.go).
	ECDS *ECDSCoding `json:"ecds,omitempty"`
}

// Intensity orders dispositions (triage.Intensity).
func (d *Disposition) Intensity() int {
	if d == nil {
		return 0
	}
	return triage.Intensity(d.Tier, d.Timeframe)
}

// TriageRecord is the attendance's triage: the pinned session and its log.
type TriageRecord struct {
	SetKey       string              `json:"set_key"` // the protocol set the session is pinned to
	Session      *triage.Session     `json:"session,omitempty"`
	Questions    []triage.Question   `json:"questions,omitempty"` // what to ask next (empty once done)
	Answers      []AnswerRecord      `json:"answers"`
	Observations []ObservationRecord `json:"observations,omitempty"`
	Dx           *DxReferral         `json:"dx,omitempty"`
	DxInfo       *triage.DxInfo      `json:"dx_info,omitempty"`
	NEWS2        *triage.NEWS2Result `json:"news2,omitempty"` // Dx-only attendances: scored here
	Disposition  *Disposition        `json:"disposition,omitempty"`
	Review       string              `json:"review,omitempty"` // why a clinician must decide
	// Interim is what the session already demands while questions remain
	// (observations scored, a floor passed): the queue orders by it.
	Interim *triage.Interim `json:"interim,omitempty"`
	// SettledClinicianFirst is the clinician-first floor a clinician's
	// confirm settled (the disposition then became its Then).
	SettledClinicianFirst *ClinicianFirst `json:"settled_clinician_first,omitempty"`
	// ClinicianNow: reception's "clinician now" at arrival, a floor of
	// ed/immediate whatever the answers say later.
	ClinicianNow bool `json:"clinician_now,omitempty"`
	// FloorWaived: a clinician's override replaced the floors above.
	FloorWaived bool `json:"floor_waived,omitempty"`
}

// floor is the minimum disposition the attendance's referral and arrival
// set (NHS 111 Dx, "clinician now"); nil when none.
func (tr *TriageRecord) floor() *Disposition {
	if tr.FloorWaived {
		return nil
	}
	var d *Disposition
	if tr.DxInfo != nil {
		d = dxDisposition(tr.DxInfo)
	}
	if tr.ClinicianNow {
		if d == nil {
			d = clinicianNow()
		} else {
			d = higher(d, clinicianNow())
		}
	}
	return d
}

// RouteChange is one earlier routing decision that was replaced.
type RouteChange struct {
	At        time.Time    `json:"at"`
	Index     uint64       `json:"index"`
	ServiceID string       `json:"service_id"`
	Tier      routing.Tier `json:"tier"`
	Reason    string       `json:"reason"`
	// Rejections are the other services that decision considered
	// (omitted when none, as a []routing.Rejection with omitempty was).
	Rejections routing.Rejections `json:"rejections,omitzero"`
}

// RoutingRecord is where the attendance was sent and why.
type RoutingRecord struct {
	Need     routing.Need     `json:"need"`
	Patient  routing.Patient  `json:"patient"`
	At       time.Time        `json:"at"`
	Index    uint64           `json:"index"`
	Decision routing.Decision `json:"decision"`
	Override bool             `json:"override,omitempty"`
	History  []RouteChange    `json:"history,omitempty"`
}

// Override is a clinician's change of tier or service, with the reason.
type Override struct {
	Tier      triage.Tier      `json:"tier,omitempty"`
	Timeframe triage.Timeframe `json:"timeframe,omitempty"`
	ServiceID string           `json:"service_id,omitempty"`
	Reason    string           `json:"reason"`
	By        cluster.Actor    `json:"by"`
	At        time.Time        `json:"at"`
	Index     uint64           `json:"index"`
}

// Confirmation is a clinician's confirmation of a redirection.
type Confirmation struct {
	Note string `json:"note,omitempty"`
	// Settled names the clinician-first stream this confirm settled.
	Settled string        `json:"settled,omitempty"`
	By      cluster.Actor `json:"by"`
	At      time.Time     `json:"at"`
	Index   uint64        `json:"index"`
}

var dxFormat = regexp.MustCompile(`^Dx[0-9]{2,5}$`)

var triageSexes = map[string]bool{"": true, "female": true, "male": true, "unknown": true}
var pregnancies = map[string]bool{"": true, "yes": true, "no": true, "unknown": true}

// validateTriageInput checks the triage part of an attendance payload
// (pure; the handler and Apply both call it through Validate).
func (a *AttendanceCreate) validateTriage(f map[string]string) {
	if c := a.Context; c != nil {
		c.validateContextV3(f)
		c.validatePractice(f)
		if !triageSexes[c.Sex] {
			f["context.sex"] = "must be female, male or unknown"
		}
		if !pregnancies[c.Pregnant] {
			f["context.pregnant"] = "must be yes, no or unknown"
		}
		for i, fl := range c.Flags {
			if !knownFlag(fl) {
				f[fmt.Sprintf("context.flags[%d]", i)] = "unknown flag (allowed: " + strings.Join(triage.FlagNames(), ", ") + ")"
			}
		}
		if o := c.Observations; o != nil {
			validateObservations(o, "context.observations.", f)
		}
	}
	if len(a.Protocol) > 100 {
		f["protocol"] = "too long"
	}
	if d := a.Dx; d != nil {
		if !dxFormat.MatchString(d.Code) {
			f["dx.code"] = "must be an NHS 111 Dx code such as Dx06"
		}
		if len(d.SymptomGroup) > directory.MaxTextLen {
			f["dx.symptom_group"] = "too long"
		}
		if len(d.Discriminator) > directory.MaxTextLen {
			f["dx.discriminator"] = "too long"
		}
	}
	if len(a.CaseRef) > 100 {
		f["case_ref"] = "too long"
	}
}

// validateObservations checks plausible ranges (pure).
func validateObservations(o *triage.Observations, prefix string, f map[string]string) {
	rng := func(name string, v *int, lo, hi int) {
		if v != nil && (*v < lo || *v > hi) {
			f[prefix+name] = fmt.Sprintf("must be between %d and %d", lo, hi)
		}
	}
	rng("respiratory_rate", o.RespiratoryRate, 0, 80)
	rng("spo2", o.SpO2, 40, 100)
	rng("systolic_bp", o.SystolicBP, 30, 300)
	rng("pulse", o.Pulse, 0, 300)
	rng("diastolic_bp", o.DiastolicBP, 20, 200)
	if o.TemperatureC != nil && (*o.TemperatureC < 25 || *o.TemperatureC > 45) {
		f[prefix+"temperature_c"] = "must be between 25 and 45"
	}
	if c := o.Consciousness; c != nil {
		switch *c {
		case triage.Alert, triage.Confusion, triage.Voice, triage.Pain, triage.Unresponsive:
		default:
			f[prefix+"consciousness"] = "must be alert, confusion, voice, pain or unresponsive"
		}
	}
}

// ageDays is the age in whole days at now of someone born on dob (YYYY-MM-DD).
func ageDays(dob string, now time.Time) (int, bool) {
	d, err := time.Parse("2006-01-02", dob)
	if err != nil || d.After(now) {
		return 0, false
	}
	return int(now.Sub(d).Hours() / 24), true
}

// patientRecordOf reads the linked patient record (nil when none).
func patientRecordOf(tx *cluster.Tx, a *Attendance) (*PatientRecord, error) {
	if a.PatientID == "" {
		return nil, nil
	}
	var rec PatientRecord
	found, err := tx.Get(prefixPatient+a.PatientID, &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// Attendances of one person, for previous contacts (see keys.go):
//
//	ax/nhs/<nhs number>/<arrival>/<id>
//	ax/patient/<patient id>/<arrival>/<id>
const (
	prefixByNHS       = "ax/nhs/"
	prefixByPatientID = "ax/patient/"
)

func keyAttendanceByPerson(prefix, who string, at time.Time, id string) string {
	return prefix + who + "/" + cluster.SortableTime(at) + "/" + id
}

// previousContacts counts this patient's other attendances that arrived in
// the 96 hours before a (same patient record or NHS number).
func previousContacts(tx *cluster.Tx, a *Attendance, rec *PatientRecord) (int, error) {
	nhs := a.Patient.NHSNumber
	if rec != nil && rec.NHSNumber != "" {
		nhs = rec.NHSNumber
	}
	if a.PatientID == "" && nhs == "" {
		return 0, nil
	}
	from, to := cluster.SortableTime(a.ArrivedAt.Add(-96*time.Hour)), cluster.SortableTime(a.ArrivedAt)
	seen := map[string]bool{a.ID: true}
	n := 0
	count := func(prefix, who string) error {
		if who == "" {
			return nil
		}
		base := prefix + who + "/"
		return tx.Keys(base, from, func(key string) error {
			rest := key[len(base):]
			if rest >= to {
				return cluster.ErrStop
			}
			id := rest[strings.LastIndexByte(rest, '/')+1:]
			if seen[id] {
				return nil
			}
			seen[id] = true
			// The index may lag a changed identity: check the record.
			// a/<id> alone: who it was for is in the current state, and
			// only who it was for is decoded (a record of a long
			// attendance is kilobytes; every answer counts them).
			var o attendancePerson
			if found, err := tx.Get(keyAttendance(id), &o); err != nil {
				return err
			} else if found && ((a.PatientID != "" && o.PatientID == a.PatientID) || (nhs != "" && o.Patient.NHSNumber == nhs)) {
				n++
			}
			return nil
		})
	}
	if err := count(prefixByNHS, nhs); err != nil {
		return 0, err
	}
	if err := count(prefixByPatientID, a.PatientID); err != nil {
		return 0, err
	}
	return n, nil
}

// attendancePerson is who an attendance is for, as its record a/<id> holds
// it (Attendance's fields of the same names; the rest of the record is
// skipped, not decoded).
type attendancePerson struct {
	Patient struct {
		NHSNumber string `json:"nhs_number"`
	} `json:"patient"`
	PatientID string `json:"patient_id"`
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// triagePatient is the engine's patient context at tx.Now().
func triagePatient(now time.Time, a *Attendance, ctx *TriageContext, rec *PatientRecord) triage.Patient {
	var p triage.Patient
	dob := a.Patient.DateOfBirth
	if rec != nil && rec.DateOfBirth != "" {
		dob = rec.DateOfBirth
	}
	applyAge(&p, dob, now, ctx)
	if ctx != nil {
		p.Sex, p.Pregnant = ctx.Sex, ctx.Pregnant
		p.Flags = append([]string(nil), ctx.Flags...)
		if ctx.Observations != nil {
			p.Observations = *ctx.Observations
		}
		applyPregnancy(&p, ctx)
	}
	if rec != nil && rec.Sex != "" && (p.Sex == "" || p.Sex == "unknown") {
		switch rec.Sex {
		case "female", "male":
			p.Sex = rec.Sex
		}
	}
	p.Channel = triage.ChannelWalkIn
	if a.Channel == ChannelNHS111 {
		p.Channel = triage.ChannelNHS111
	}
	return p
}

// commandStamp is what of a command's Tx routingPatient reads: state,
// the FSM clock and the logic version the command was proposed under.
type commandStamp interface {
	cluster.Reader
	Now() time.Time
	LogicVersion() int
}

// routingPatient is what routing needs to know about the attendee.
func routingPatient(tx commandStamp, a *Attendance, rec *PatientRecord) routing.Patient {
	var p routing.Patient
	var tp triage.Patient
	if a.Triage != nil && a.Triage.Session != nil {
		tp = a.Triage.Session.Patient
	}
	dob := a.Patient.DateOfBirth
	if rec != nil && rec.DateOfBirth != "" {
		dob = rec.DateOfBirth
	}
	if d, ok := ageDays(dob, tx.Now()); dob != "" && ok {
		p.AgeKnown, p.AgeDays = true, d
	} else if tp.AgeDays != nil {
		p.AgeKnown, p.AgeDays = true, *tp.AgeDays
	} else if tp.AgeYears != nil {
		p.AgeKnown, p.AgeDays = true, routing.AgeDaysFromYears(*tp.AgeYears)
	} else if d, ok := a.Context.contextAgeDays(); ok {
		p.AgeKnown, p.AgeDays = true, d
	} else if a.Context != nil && a.Context.AgeYears != nil {
		p.AgeKnown, p.AgeDays = true, routing.AgeDaysFromYears(*a.Context.AgeYears)
	}
	sex := tp.Sex
	if sex == "" && a.Context != nil {
		sex = a.Context.Sex
	}
	if rec != nil && (sex == "" || sex == "unknown") {
		sex = rec.Sex
	}
	if sex == "female" || sex == "male" {
		p.Sex = sex
	}
	p.Postcode = a.Patient.Postcode
	if rec != nil {
		if rec.Postcode != "" {
			p.Postcode = rec.Postcode
		}
		p.RegisteredPractice = rec.GPPractice
	}
	if p.RegisteredPractice == "" {
		// The practice the person named (logic version 4); the record wins.
		p.RegisteredPractice = contextPractice(tx, a)
	}
	flags, pregnant := map[string]bool{}, tp.Pregnant
	if s := sessionOf(a); s != nil && s.Rules >= 1 && s.Outcome != nil {
		// Rules 1: the engine says how the session left the flags.
		for _, f := range s.Outcome.Flags {
			flags[f] = true
		}
		if s.Outcome.Pregnant != "" {
			pregnant = s.Outcome.Pregnant
		}
	} else if a.Triage != nil && a.Triage.Session != nil {
		// The session's answers may have set flags (usual residence, pregnancy).
		set, _ := protocolset.ReadSet(tx, a.Triage.SetKey)
		flags, pregnant = sessionFlags(set, a.Triage.Session)
	} else if a.Context != nil {
		for _, f := range a.Context.Flags {
			flags[f] = true
		}
		pregnant = a.Context.Pregnant
	}
	p.AtUsualResidence = flags[triage.FlagUsualResidence]
	p.Pregnant = pregnant == "yes" || flags[triage.FlagPregnant]
	p.Immunosuppressed = flags[triage.FlagImmunosuppressed]
	return p
}

// sessionOf is the attendance's triage session (nil when none).
func sessionOf(a *Attendance) *triage.Session {
	if a.Triage == nil {
		return nil
	}
	return a.Triage.Session
}

// dispositionOf turns a triage outcome into a Disposition.
func dispositionOf(r *triage.Result) *Disposition {
	return &Disposition{Tier: r.Tier, Timeframe: r.Timeframe, Dx: r.Dx, CareNeeds: append([]string{}, r.CareNeeds...),
		Source: "protocol", DecidedBy: r.DecidedBy, Title: r.Title, Advice: r.Advice, SafetyNet: r.SafetyNet, Action: r.Action}
}

// outcomeDisposition is the Disposition of a finished session: a
// clinician-first one when the outcome is a clinician's assessment first.
func outcomeDisposition(r *triage.Result) *Disposition {
	if d := clinicianFirstOf(r); d != nil {
		return d
	}
	return dispositionOf(r)
}

// dxDisposition is the minimum an NHS 111 Dx code sets.
func dxDisposition(info *triage.DxInfo) *Disposition {
	return &Disposition{Tier: info.Tier, Timeframe: info.Timeframe, Dx: info.Code, CareNeeds: []string{}, Source: "dx",
		DecidedBy: "dx", Title: info.Meaning}
}

// news2Disposition runs the global checks (NEWS2, NG143 fever traffic
// light, NG51 sepsis observations, repeat contact, carer worry) for
// attendances without a protocol session (Dx only), with the engine's own
// mapping: it returns the NEWS2 result, when NEWS2 applied, and the
// disposition of the most intensive check that raises, or nil.
func news2Disposition(tp triage.Patient, obs triage.Observations, rules int) (*triage.NEWS2Result, *Disposition) {
	tp.Observations = obs
	_, news, top := triage.PatientChecksRules(tp, rules)
	if top == nil {
		return news, nil
	}
	careNeeds := []string{}
	if rules >= 1 {
		careNeeds = append(careNeeds, top.CareNeeds...) // a maternity check needs maternity assessment
	}
	return news, &Disposition{Tier: top.Tier, Timeframe: top.Timeframe, Dx: top.Dx, CareNeeds: careNeeds,
		Source: top.Check, DecidedBy: top.Check, Title: top.Reason}
}

// higher returns the more intensive of two dispositions (a on ties).
func higher(a, b *Disposition) *Disposition {
	if b != nil && b.Intensity() > a.Intensity() {
		return b
	}
	return a
}

// setStatus moves the attendance to status, recording it in the timeline.
// While an announced patient is still expected, triage and routing
// statuses wait for check-in (CheckInStatus).
func setStatus(tx *cluster.Tx, a *Attendance, status string) {
	if a.Status == AttendanceExpected {
		switch status {
		case AttendanceTriaged, AttendanceRouted, AttendanceAwaitingConfirmation, AttendanceClinicianReview:
			a.CheckInStatus = status
			return
		}
	}
	if a.Status == status {
		return
	}
	a.Status = status
	a.Timeline = append(a.Timeline, StatusChange{Status: status, At: tx.Now(), Index: tx.Index(), Actor: tx.Actor()})
}

// startTriage starts the session of a new attendance (create payload with
// a protocol and/or an NHS 111 Dx code) and, when an outcome is reached at
// once, routes it. Called by applyAttendanceCreate before the first write.
func startTriage(tx *cluster.Tx, a *Attendance, req *AttendanceCreate) error {
	if req.Protocol == "" && req.Dx == nil && !req.ClinicianNow {
		return nil
	}
	tr := &TriageRecord{Answers: []AnswerRecord{}, Dx: req.Dx}
	a.Triage = tr
	tp := triagePatient(tx.Now(), a, req.Context, nil)
	n, err := previousContactsAt(tx, a, nil)
	if err != nil {
		return err
	}
	tp.PreviousContacts96h = n
	if req.Context != nil && req.Context.Observations != nil {
		tr.Observations = append(tr.Observations, ObservationRecord{Observations: *req.Context.Observations, By: tx.Actor(), At: tx.Now(), Index: tx.Index()})
	}
	var minimum *Disposition
	why := "dx"
	if req.Dx != nil {
		info, ok := triage.DxOutcome(req.Dx.Code)
		if !ok {
			// Well formed (Validate) but not mapped: a clinician decides.
			tr.Review = "NHS 111 Dx code " + req.Dx.Code + " is not mapped to a level of care"
		} else {
			tr.DxInfo = &info
			minimum = dxDisposition(&info)
		}
	}
	if req.ClinicianNow {
		tr.ClinicianNow = true
		minimum, why = clinicianNow(), "clinician_now"
	}
	if req.Protocol != "" {
		key, set, err := protocolset.ActiveSet(tx)
		if err != nil {
			return err
		}
		if set == nil {
			return protocolset.ErrNoProtocols
		}
		s, step, err := triage.StartRules(set, req.Protocol, tp, triageRules(tx.LogicVersion()))
		if err != nil {
			return startError(err)
		}
		tr.SetKey, tr.Session, tr.Questions = key, &s, step.Questions
		if !step.Done {
			if minimum != nil && minimum.Tier == triage.ED && minimum.Timeframe == triage.Immediate {
				// A 999-level Dx, or reception's "clinician now", does not
				// wait for questions.
				return decide(tx, a, minimum, why)
			}
			_, _, err := applyInterim(tx, a, step)
			return err
		}
		return settle(tx, a, higher(outcomeDisposition(step.Outcome), minimum), "triage")
	}
	// Dx only: the Dx is the minimum; NEWS2 on what we know still runs.
	if minimum == nil {
		setStatus(tx, a, AttendanceClinicianReview)
		return nil
	}
	var obs triage.Observations
	if req.Context != nil && req.Context.Observations != nil {
		obs = *req.Context.Observations
	}
	news, nd := news2Disposition(tp, obs, triageRules(tx.LogicVersion()))
	tr.NEWS2 = news
	return decide(tx, a, higher(minimum, nd), why)
}

// startError maps the engine's refusal to start a session.
func startError(err error) *cluster.CommandError {
	switch {
	case errors.Is(err, triage.ErrUnknownProtocol):
		return cluster.Invalid(map[string]string{"protocol": "no such protocol (GET /v1/protocols?q= finds one)"})
	case errors.Is(err, triage.ErrNotApplicable):
		return cluster.Invalid(map[string]string{"protocol": err.Error()})
	case errors.Is(err, triage.ErrBadPatient):
		return cluster.Invalid(map[string]string{"context": err.Error()})
	}
	return &cluster.CommandError{Code: cluster.CodeInvalid, Message: "triage: " + err.Error()}
}

// CheckTriageStart is the handler's check that the attendance's protocol
// can start for this patient on the active set (at now, the handler's
// clock): a *CommandError naming the field when Apply would refuse it.
func (v State) CheckTriageStart(req *AttendanceCreate, now time.Time) error {
	if req.Protocol == "" {
		return nil
	}
	_, set, err := protocolset.ActiveSet(v.r)
	if err != nil {
		return err
	}
	if set == nil {
		return protocolset.ErrNoProtocols
	}
	a := &Attendance{Patient: req.Patient, Channel: req.Channel}
	if a.Channel == "" {
		a.Channel = ChannelWalkIn
	}
	if _, _, err := triage.Start(set, req.Protocol, triagePatient(now, a, req.Context, nil)); err != nil {
		return startError(err)
	}
	return nil
}

// clinicianNow is the disposition of reception's "clinician now": a life
// threat seen at the front door, before any question.
func clinicianNow() *Disposition {
	return &Disposition{Tier: triage.ED, Timeframe: triage.Immediate, Dx: triage.DxAmbulance, CareNeeds: []string{},
		Source: "reception", DecidedBy: "clinician_now", Action: "clinician_now",
		Title: "Life threat at the front door: a clinician now"}
}

// decide records the disposition (status triaged) and routes.
func decide(tx *cluster.Tx, a *Attendance, d *Disposition, why string) error {
	a.Triage.Disposition = d
	if err := codeECDS(tx, a); err != nil {
		return err
	}
	if s := a.Triage.Session; s == nil || s.Done {
		a.Triage.Questions = nil // otherwise questions may still follow
	}
	if a.Routing == nil {
		setStatus(tx, a, AttendanceTriaged)
	}
	return route(tx, a, why)
}

// route chooses the service for the attendance's disposition and takes its
// capacity. An earlier decision is replaced only by one at least as
// intensive (never downward), unless a clinician overrides.
func route(tx *cluster.Tx, a *Attendance, reason string) error {
	d := a.Triage.Disposition
	need, err := routing.NeedFromTimeframe(routingTier(d.Tier), string(d.Timeframe), d.Dx, d.CareNeeds)
	if err != nil {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "disposition cannot be routed: " + err.Error()}
	}
	if waiting, err := awaitAddress(tx, a); waiting || err != nil {
		return err
	}
	dir, err := directory.DirectoryFromState(tx)
	var ce *cluster.CommandError
	if errors.As(err, &ce) {
		// No directory yet: triaged, not routed; a clinician decides.
		a.Triage.Review = ce.Message
		setStatus(tx, a, AttendanceClinicianReview)
		return nil
	}
	if err != nil {
		return err
	}
	load, err := directory.LoadAt(tx, tx.Now())
	if err != nil {
		return err
	}
	rec, err := patientRecordOf(tx, a)
	if err != nil {
		return err
	}
	p := routingPatient(tx, a, rec)
	withoutOwn(load, a)
	rules := routingRules(tx.LogicVersion())
	dec, err := routing.RouteRules(need, p, tx.Now(), dir, load, rules)
	if err != nil {
		a.Triage.Review = "routing: " + err.Error()
		setStatus(tx, a, AttendanceClinicianReview)
		return nil
	}
	dec = earliestOpening(need, p, tx.Now(), dir, load, dec, rules)
	if err := applyDecision(tx, a, need, p, dec, false, reason); err != nil {
		return err
	}
	return afterRouting(tx, a, d, &dec)
}

// withoutOwn takes the attendance's own allocation out of load: when it is
// routed again, the slot or place it holds is free to it.
func withoutOwn(load *routing.Load, a *Attendance) {
	if a.Routing == nil {
		return
	}
	al := a.Routing.Decision.Allocation
	switch al.Kind {
	case routing.CapacitySlots:
		if m := load.Sessions[al.ServiceID]; m != nil && m[al.SessionStart.Unix()] > 0 {
			m[al.SessionStart.Unix()]--
		}
	case routing.CapacityPlaces:
		load.Release(al)
	}
}

// earliestOpening: when the service routing chose at the minimum tier
// cannot see the patient now (everything suitable is closed, as at 03:00),
// the patient goes to the suitable service of that tier that opens first
// within the timeframe, nearest among those opening
// at the same time. It narrows the timeframe to the shortest one in which
// that tier still has a suitable service (a binary search over minutes:
// about a dozen pure Route calls) and takes that decision. Deterministic.
func earliestOpening(need routing.Need, p routing.Patient, now time.Time, dir *routing.Directory, load *routing.Load, dec routing.Decision, rules int) routing.Decision {
	if need.Immediate || dec.Fallback || dec.Tier != need.MinTier || !dec.SeeFrom.After(now) {
		return dec
	}
	lo, hi := 0, need.WithinMinutes
	best := dec
	for lo < hi {
		mid := (lo + hi) / 2
		n := need
		n.WithinMinutes = mid
		n.Immediate = mid == 0
		d, err := routing.RouteRules(n, p, now, dir, load, rules)
		if err == nil && !d.Fallback && d.Tier == need.MinTier {
			hi, best = mid, d
		} else {
			lo = mid + 1
		}
	}
	return best
}

// applyDecision swaps the attendance's routing to dec: the old allocation is
// released, the new one taken, the status set.
func applyDecision(tx *cluster.Tx, a *Attendance, need routing.Need, p routing.Patient, dec routing.Decision, override bool, reason string) error {
	var history []RouteChange
	if old := a.Routing; old != nil {
		if !override && dec.Tier.Rank() < old.Decision.Tier.Rank() {
			return nil // never downward
		}
		if old.Decision.ServiceID == dec.ServiceID && old.Decision.Allocation == dec.Allocation && !override {
			old.Need = need
			return nil
		}
		if err := directory.ReleaseSlot(tx, a.ID, old.Decision.Allocation); err != nil {
			return err
		}
		history = append(old.History, RouteChange{At: old.At, Index: old.Index, ServiceID: old.Decision.ServiceID,
			Tier: old.Decision.Tier, Reason: reason, Rejections: old.Decision.Rejections})
	}
	if err := directory.AllocateSlot(tx, a.ID, dec.Allocation); err != nil {
		return err
	}
	a.Routing = &RoutingRecord{Need: need, Patient: p, At: tx.Now(), Index: tx.Index(), Decision: dec, Override: override, History: history}
	status := AttendanceRouted
	if !override && a.Channel == ChannelWalkIn && (dec.Tier == routing.TierPharmacy || dec.Tier == routing.TierSelfCare) && len(a.Confirmations) == 0 {
		status = AttendanceAwaitingConfirmation
	}
	setStatus(tx, a, status)
	details := map[string]any{"service_id": dec.ServiceID, "tier": dec.Tier,
		"min_tier": need.MinTier, "fallback": dec.Fallback, "reason": reason, "override": override}
	if dec.Gap != nil && tx.LogicVersion() >= directory.CareNeedsSince {
		// Where capacity of the right kind is missing, for commissioners.
		details["gap_tier"], details["gap_care_needs"] = dec.Gap.Tier, dec.Gap.CareNeeds
	}
	tx.Audit("attendance.route", "attendance/"+a.ID, details)
	if err := standDownDispatches(tx, a, &dec, reason); err != nil { // dispatch.go: teams no longer needed
		return err
	}
	if dec.Tier == routing.TierRapidResponse {
		if err := onRapidResponse(tx, a, &dec); err != nil {
			return err
		}
	}
	return nil
}

// onRapidResponse is where rapid response dispatch starts: it
// is called inside Apply, in the same transaction, whenever an attendance is
// routed to a rapid_response service. It must stay deterministic: it will
// write a dispatch record and an outbox entry that the leader's worker
// delivers (the webhook is never called from Apply): see dispatch.go.
func onRapidResponse(tx *cluster.Tx, a *Attendance, dec *routing.Decision) error {
	return startDispatch(tx, a, dec)
}
