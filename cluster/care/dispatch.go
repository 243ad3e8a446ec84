package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Rapid response dispatch. Routing an attendance to a
// rapid_response service creates, in the same Apply, a Dispatch for that
// team and an outbox entry whose webhook-id is fixed here. Only the leader
// delivers outbox entries (outbox.go) and records the outcome with another
// command. Responders accept or decline and report progress; a decline, a
// passed acceptance deadline (checked against FSM time) or a failed webhook
// escalates to the next eligible team, else to ED with an alert (alert.go).
//
// Keys (see keys.go's layout comment):
//
//	dp/<id>                     Dispatch
//	dpa/<attendance id>/<id>    dispatches of one attendance
//	dpo/<id>                    open dispatches (not completed, declined or escalated)
//	dpe/<index>/<id>            dispatch change events for the SSE stream
//	ob/<webhook id>, obq/<webhook id>   outbox entries, and the ones still to deliver
const (
	prefixDispatch       = "dp/"
	prefixDispatchByAtt  = "dpa/"
	prefixDispatchOpen   = "dpo/"
	prefixDispatchEvent  = "dpe/"
	prefixOutbox         = "ob/"
	prefixOutboxPending  = "obq/"
	defaultAcceptMinutes = 15
	// ClockTarget is the urgent community response standard: on scene
	// within two hours of the referral.
	ClockTarget = 2 * time.Hour
)

// Dispatch command kinds.
const (
	KindDispatchAccept         cluster.Kind = "dispatch.accept"
	KindDispatchDecline        cluster.Kind = "dispatch.decline"
	KindDispatchStatus         cluster.Kind = "dispatch.status"
	KindDispatchDelivered      cluster.Kind = "dispatch.delivered"
	KindDispatchDeliveryFailed cluster.Kind = "dispatch.delivery_failed"
	KindDispatchEscalate       cluster.Kind = "dispatch.escalate"
)

// Dispatch statuses.
const (
	DispatchPending   = "pending"
	DispatchNotified  = "notified"
	DispatchAccepted  = "accepted"
	DispatchDeclined  = "declined"
	DispatchEnRoute   = "en_route"
	DispatchOnScene   = "on_scene"
	DispatchCompleted = "completed"
	DispatchEscalated = "escalated"
)

// Outcomes of a completed dispatch.
const (
	OutcomeStayedAtHome = "stayed_at_home"
	OutcomeAdmitted     = "admitted"
	OutcomeReferred     = "referred"
)

var outcomes = map[string]bool{OutcomeStayedAtHome: true, OutcomeAdmitted: true, OutcomeReferred: true}

// Delivery states of an outbox entry.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// DispatchDetails are what the caller knows for a home visit beyond the
// attendance's own fields: optional on the attendance create payload.
type DispatchDetails struct {
	Address        string   `json:"address,omitempty"`
	AccessNotes    string   `json:"access_notes,omitempty"` // key safe, dog, door code...
	CarerContact   string   `json:"carer_contact,omitempty"`
	CallbackNumber string   `json:"callback_number,omitempty"`
	Safeguarding   []string `json:"safeguarding,omitempty"`
}

// Validate adds field errors under "dispatch." to f.
func (d *DispatchDetails) Validate(f map[string]string) {
	if d == nil {
		return
	}
	for name, v := range map[string]string{"address": d.Address, "access_notes": d.AccessNotes,
		"carer_contact": d.CarerContact, "callback_number": d.CallbackNumber} {
		if len(v) > directory.MaxTextLen {
			f["dispatch."+name] = "too long"
		}
	}
	if len(d.Safeguarding) > 20 {
		f["dispatch.safeguarding"] = "at most 20 flags"
	}
	for i, s := range d.Safeguarding {
		if strings.TrimSpace(s) == "" || len(s) > 100 {
			f[fmt.Sprintf("dispatch.safeguarding[%d]", i)] = "must be 1 to 100 characters"
		}
	}
}

// DispatchPatient is who the team visits.
type DispatchPatient struct {
	PatientID   string `json:"patient_id,omitempty"`
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DateOfBirth string `json:"date_of_birth,omitempty"`
	AgeYears    *int   `json:"age_years,omitempty"`
	Sex         string `json:"sex,omitempty"`
	NHSNumber   string `json:"nhs_number,omitempty"`
	Postcode    string `json:"postcode,omitempty"`
	Phone       string `json:"phone,omitempty"`
}

// DispatchDelivery is the state of the dispatch's webhook.
type DispatchDelivery struct {
	WebhookID      string     `json:"webhook_id"`
	Status         string     `json:"status"` // pending | delivered | failed
	Attempts       int        `json:"attempts,omitempty"`
	LastHTTPStatus int        `json:"last_http_status,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	At             *time.Time `json:"at,omitempty"`
}

// DispatchClock is the two-hour clock: referral to on scene.
type DispatchClock struct {
	ReferralAt time.Time  `json:"referral_at"`
	TargetAt   time.Time  `json:"target_at"`
	OnSceneAt  *time.Time `json:"on_scene_at,omitempty"`
	Minutes    *float64   `json:"minutes,omitempty"` // referral to on scene
	Met        *bool      `json:"met,omitempty"`     // set once on scene
}

// DispatchChange is one step of a dispatch's timeline.
type DispatchChange struct {
	Status string        `json:"status"`
	At     time.Time     `json:"at"`
	Index  uint64        `json:"index"`
	Actor  cluster.Actor `json:"actor"`
	Note   string        `json:"note,omitempty"`
}

// Dispatch is one request to one rapid response team.
type Dispatch struct {
	ID           string `json:"id"`
	AttendanceID string `json:"attendance_id"`
	ServiceID    string `json:"service_id"`
	ServiceName  string `json:"service_name"`
	Status       string `json:"status"`
	// Attempt counts the teams asked for this attendance (1 = first);
	// Tried lists the teams asked before this one.
	Attempt    int      `json:"attempt"`
	PreviousID string   `json:"previous_id,omitempty"`
	Tried      []string `json:"tried,omitempty"`

	Patient        DispatchPatient      `json:"patient"`
	Complaint      string               `json:"complaint"`
	Channel        string               `json:"channel"`
	CaseRef        string               `json:"case_ref,omitempty"`
	ConditionGroup []string             `json:"condition_group"` // the ucr:* care needs
	Disposition    *Disposition         `json:"disposition,omitempty"`
	Observations   *triage.Observations `json:"observations,omitempty"`
	Flags          []string             `json:"flags,omitempty"`
	Details        DispatchDetails      `json:"details"`

	CreatedAt    time.Time        `json:"created_at"`
	CreatedIndex uint64           `json:"created_index"`
	UpdatedIndex uint64           `json:"updated_index"`
	AcceptBy     time.Time        `json:"accept_by"`
	Delivery     DispatchDelivery `json:"delivery"`
	Clock        DispatchClock    `json:"clock"`

	AcceptedAt    *time.Time     `json:"accepted_at,omitempty"`
	AcceptedBy    *cluster.Actor `json:"accepted_by,omitempty"`
	ETA           *time.Time     `json:"eta,omitempty"`
	DeclineReason string         `json:"decline_reason,omitempty"`
	CompletedAt   *time.Time     `json:"completed_at,omitempty"`
	Outcome       string         `json:"outcome,omitempty"`
	EscalatedAt   *time.Time     `json:"escalated_at,omitempty"`
	Escalation    string         `json:"escalation,omitempty"`      // why: declined | deadline | delivery_failed
	EscalatedTo   string         `json:"escalated_to,omitempty"`    // the next dispatch id, or the ED service id
	EscalatedToED bool           `json:"escalated_to_ed,omitempty"` // no other team: sent to ED

	Timeline []DispatchChange `json:"timeline"`
}

// Open reports whether the dispatch still needs a team to act.
func (d *Dispatch) Open() bool {
	switch d.Status {
	case DispatchCompleted, DispatchDeclined, DispatchEscalated:
		return false
	}
	return true
}

// AwaitingAcceptance reports whether nobody has accepted yet.
func (d *Dispatch) AwaitingAcceptance() bool {
	return d.Status == DispatchPending || d.Status == DispatchNotified
}

// OutboxEntry is one webhook to deliver. Body is the exact JSON sent; the
// webhook-id (ID) is fixed when the dispatch is created, so a redelivery by
// another leader carries the same id and receivers de-duplicate on it.
type OutboxEntry struct {
	ID             string          `json:"id"`
	DispatchID     string          `json:"dispatch_id"`
	ServiceID      string          `json:"service_id"`
	Type           string          `json:"type"`
	Body           json.RawMessage `json:"body"`
	CreatedAt      time.Time       `json:"created_at"`
	CreatedIndex   uint64          `json:"created_index"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts,omitempty"`
	LastHTTPStatus int             `json:"last_http_status,omitempty"`
	LastError      string          `json:"last_error,omitempty"`
	DoneIndex      uint64          `json:"done_index,omitempty"`
}

// WebhookMessage is the webhook body (Standard Webhooks shape).
type WebhookMessage struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      *Dispatch `json:"data"`
}

func keyDispatch(id string) string { return prefixDispatch + id }

func keyDispatchByAtt(attID, id string) string { return prefixDispatchByAtt + attID + "/" + id }

func keyDispatchEvent(index uint64, id string) string {
	return fmt.Sprintf("%s%020d/%s", prefixDispatchEvent, index, id)
}

// Webhook message types.
const (
	webhookCreated   = "dispatch.created"
	webhookStoodDown = "dispatch.stood_down"
)

// WebhookIDFor is the webhook-id of a dispatch's creation message.
func WebhookIDFor(dispatchID string) string { return "msg_" + dispatchID }

// startDispatch is the rapid response hook of routing (6b's onRapidResponse
// calls it inside Apply, in the routing command's transaction): it creates
// the dispatch for dec's team and its outbox entry. The caller writes a.
// Deterministic: IDs derive from the attendance id and the attempt number.
func startDispatch(tx *cluster.Tx, a *Attendance, dec *routing.Decision) error {
	if dec == nil || dec.Tier != routing.TierRapidResponse {
		return nil
	}
	prior, err := dispatchesOfTx(tx, a.ID)
	if err != nil {
		return err
	}
	attempt := len(prior) + 1
	id := fmt.Sprintf("%s-d%d", a.ID, attempt)
	if _, found, err := tx.GetRaw(keyDispatch(id)); err != nil || found {
		return err // already created by this command (escalation re-routes through the hook)
	}
	for _, p := range prior {
		if p.ServiceID == dec.ServiceID && p.Open() {
			return nil // already with this team
		}
	}
	d := &Dispatch{
		ID: id, AttendanceID: a.ID, ServiceID: dec.ServiceID, ServiceName: dec.ServiceName,
		Status: DispatchPending, Attempt: attempt,
		Complaint: a.Complaint, Channel: a.Channel, CaseRef: a.CaseRef, ConditionGroup: []string{},
		CreatedAt: tx.Now(), CreatedIndex: tx.Index(),
		Delivery: DispatchDelivery{WebhookID: WebhookIDFor(id), Status: DeliveryPending},
		Clock:    DispatchClock{ReferralAt: tx.Now(), TargetAt: tx.Now().Add(ClockTarget)},
	}
	if n := len(prior); n > 0 {
		last := prior[n-1]
		d.PreviousID = last.ID
		d.Clock = DispatchClock{ReferralAt: last.Clock.ReferralAt, TargetAt: last.Clock.TargetAt}
		for _, p := range prior {
			d.Tried = append(d.Tried, p.ServiceID)
		}
	}
	if dec.AcceptBy != nil {
		d.AcceptBy = dec.AcceptBy.UTC()
	} else {
		d.AcceptBy = tx.Now().Add(defaultAcceptMinutes * time.Minute)
	}
	if err := fillDispatchDetails(tx, a, d); err != nil {
		return err
	}
	d.Timeline = []DispatchChange{{Status: DispatchPending, At: tx.Now(), Index: tx.Index(), Actor: tx.Actor(),
		Note: "routed to " + dec.ServiceName}}
	if err := putDispatch(tx, d, ""); err != nil {
		return err
	}
	tx.PutRaw(keyDispatchByAtt(a.ID, id), nil)
	if err := putOutbox(tx, d, webhookCreated); err != nil {
		return err
	}
	tx.Audit("dispatch.create", "dispatch/"+id, map[string]any{"attendance_id": a.ID, "service_id": d.ServiceID,
		"attempt": attempt, "accept_by": d.AcceptBy, "webhook_id": d.Delivery.WebhookID})
	tx.Audit("dispatch.create", "attendance/"+a.ID, map[string]any{"dispatch_id": id, "service_id": d.ServiceID})
	return nil
}

// fillDispatchDetails copies what the records hold about the patient.
func fillDispatchDetails(tx *cluster.Tx, a *Attendance, d *Dispatch) error {
	p := a.Patient
	d.Patient = DispatchPatient{PatientID: a.PatientID, GivenName: p.GivenName, FamilyName: p.FamilyName,
		DateOfBirth: p.DateOfBirth, NHSNumber: p.NHSNumber, Postcode: p.Postcode}
	if a.PatientID != "" {
		var rec PatientRecord
		found, err := tx.Get(prefixPatient+a.PatientID, &rec)
		if err != nil {
			return err
		}
		if found {
			d.Patient.GivenName, d.Patient.FamilyName, d.Patient.DateOfBirth = rec.GivenName, rec.FamilyName, rec.DateOfBirth
			d.Patient.Sex, d.Patient.Phone = rec.Sex, rec.Phone
			if rec.NHSNumber != "" {
				d.Patient.NHSNumber = rec.NHSNumber
			}
			if rec.Postcode != "" {
				d.Patient.Postcode = rec.Postcode
			}
		}
	}
	if c := a.Context; c != nil {
		if c.AgeYears != nil {
			y := *c.AgeYears
			d.Patient.AgeYears = &y
		}
		if d.Patient.Sex == "" && (c.Sex == "female" || c.Sex == "male") {
			d.Patient.Sex = c.Sex
		}
		d.Flags = append([]string(nil), c.Flags...)
		if c.Observations != nil {
			o := *c.Observations
			d.Observations = &o
		}
	}
	if t := a.Triage; t != nil {
		if n := len(t.Observations); n > 0 {
			o := t.Observations[n-1].Observations
			d.Observations = &o
		}
		if t.Disposition != nil {
			disp := *t.Disposition
			disp.CareNeeds = append([]string{}, t.Disposition.CareNeeds...)
			d.Disposition = &disp
			for _, n := range disp.CareNeeds {
				if strings.HasPrefix(n, "ucr:") {
					d.ConditionGroup = append(d.ConditionGroup, n)
				}
			}
		}
	}
	if a.Routing != nil && len(d.ConditionGroup) == 0 {
		for _, n := range a.Routing.Need.CareNeeds {
			if strings.HasPrefix(n, "ucr:") {
				d.ConditionGroup = append(d.ConditionGroup, n)
			}
		}
	}
	if det := attendanceDispatchDetails(a); det != nil {
		d.Details = *det
		d.Details.Safeguarding = append([]string(nil), det.Safeguarding...)
	}
	for _, f := range d.Flags {
		if strings.HasPrefix(f, "safeguarding") && !hasFlag(d.Details.Safeguarding, f) {
			d.Details.Safeguarding = append(d.Details.Safeguarding, f)
		}
	}
	if d.Details.CallbackNumber == "" {
		d.Details.CallbackNumber = d.Patient.Phone
	}
	return nil
}

// putDispatch writes d, keeps the open index in step and records the change
// for the stream. oldStatus is the status before ("" for a new dispatch).
func putDispatch(tx *cluster.Tx, d *Dispatch, oldStatus string) error {
	d.UpdatedIndex = tx.Index()
	b, err := tx.PutJSON(keyDispatch(d.ID), d)
	if err != nil {
		return err
	}
	if d.Open() {
		tx.PutRaw(prefixDispatchOpen+d.ID, nil)
	} else if oldStatus != "" {
		tx.Delete(prefixDispatchOpen + d.ID)
	}
	tx.PutRaw(keyDispatchEvent(tx.Index(), d.ID), b)
	return pruneDispatchEvents(tx)
}

// DispatchEventWindow is how many raft indexes of dispatch events the state
// keeps for stream readers that reconnect; older ones are pruned (at most 64
// per write, deterministically).
const DispatchEventWindow = 100000

func pruneDispatchEvents(tx *cluster.Tx) error {
	return pruneEvents(tx, prefixDispatchEvent, DispatchEventWindow)
}

// pruneEvents deletes, deterministically, at most 64 stream events under
// prefix (keys <prefix><20-digit raft index>...) older than window raft
// indexes: the queue and dispatch streams keep a bounded history.
func pruneEvents(tx *cluster.Tx, prefix string, window uint64) error {
	if tx.Index() <= window {
		return nil
	}
	cutoff := fmt.Sprintf("%s%020d", prefix, tx.Index()-window)
	// From logic version 5 the scan starts at the last event it deleted
	// (keyPruned): scanning from the start of the prefix walked past the
	// tombstone of every event deleted since the last compaction, which
	// grew with the node's uptime (over half the leader's CPU at one
	// client after a few thousand arrivals).
	from := ""
	mark := keyPruned(prefix)
	if tx.LogicVersion() >= logicSmallRecords {
		b, _, err := tx.GetRaw(mark)
		if err != nil {
			return err
		}
		from = string(b)
	}
	errStop := errors.New("stop")
	var old []string
	err := tx.Keys(prefix, from, func(key string) error {
		if key >= cutoff || len(old) >= 64 {
			return errStop
		}
		old = append(old, key)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	for _, k := range old {
		tx.Delete(k)
	}
	if len(old) > 0 && tx.LogicVersion() >= logicSmallRecords {
		tx.PutRaw(mark, []byte(strings.TrimPrefix(old[len(old)-1], prefix)))
	}
	return nil
}

// keyPruned is where pruneEvents notes the last event of prefix it
// deleted (its key after the prefix): every event before it is gone.
func keyPruned(prefix string) string { return "evp/" + prefix }

// putOutbox queues the webhook for d with a body fixed now: the creation
// message under d's webhook id, a later message under its own.
func putOutbox(tx *cluster.Tx, d *Dispatch, typ string) error {
	body, err := json.Marshal(WebhookMessage{Type: typ, Timestamp: tx.Now(), Data: d})
	if err != nil {
		return fmt.Errorf("encode webhook: %w", err)
	}
	id := d.Delivery.WebhookID
	if typ != webhookCreated {
		id = WebhookIDFor(d.ID) + "_" + strings.TrimPrefix(typ, "dispatch.")
	}
	e := &OutboxEntry{ID: id, DispatchID: d.ID, ServiceID: d.ServiceID, Type: typ, Body: body,
		CreatedAt: tx.Now(), CreatedIndex: tx.Index(), Status: DeliveryPending}
	if err := tx.Put(prefixOutbox+e.ID, e); err != nil {
		return err
	}
	tx.PutRaw(prefixOutboxPending+e.ID, nil)
	return nil
}

// dispatchesOfTx lists an attendance's dispatches, oldest first (as the
// batch sees them, plus this command's pending record values).
func dispatchesOfTx(tx *cluster.Tx, attID string) ([]*Dispatch, error) {
	var ids []string
	if err := tx.Scan(prefixDispatchByAtt+attID+"/", "", func(key string, _ []byte) error {
		ids = append(ids, key[strings.LastIndexByte(key, '/')+1:])
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]*Dispatch, 0, len(ids))
	for _, id := range ids {
		var d Dispatch
		found, err := tx.Get(keyDispatch(id), &d)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, &d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attempt < out[j].Attempt })
	return out, nil
}

func loadDispatch(tx *cluster.Tx, id string) (*Dispatch, error) {
	if strings.TrimSpace(id) == "" {
		return nil, cluster.Invalid(map[string]string{"dispatch_id": "required"})
	}
	var d Dispatch
	found, err := tx.Get(keyDispatch(id), &d)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no dispatch " + id}
	}
	return &d, nil
}

func setDispatchStatus(tx *cluster.Tx, d *Dispatch, status, note string) {
	d.Status = status
	d.Timeline = append(d.Timeline, DispatchChange{Status: status, At: tx.Now(), Index: tx.Index(), Actor: tx.Actor(), Note: note})
}

func timePtr(t time.Time) *time.Time { return &t }

// attendanceDispatchDetails is what the attendance create payload said
// for a home visit.
func attendanceDispatchDetails(a *Attendance) *DispatchDetails { return a.Dispatch }

// ---- commands --------------------------------------------------------

// DispatchAccept is the payload of KindDispatchAccept.
type DispatchAccept struct {
	DispatchID string    `json:"dispatch_id"`
	ETA        time.Time `json:"eta"`
}

// maxETA bounds how far ahead an ETA may be.
const maxETA = 12 * time.Hour

// Validate checks the payload against now (the handler's clock, then the
// FSM clock in Apply).
func (p *DispatchAccept) Validate(now time.Time) map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(p.DispatchID) == "" {
		f["dispatch_id"] = "required"
	}
	switch {
	case p.ETA.IsZero():
		f["eta"] = "required (RFC 3339 time)"
	case p.ETA.Before(now.Add(-5 * time.Minute)):
		f["eta"] = "in the past"
	case p.ETA.After(now.Add(maxETA)):
		f["eta"] = "more than 12 hours ahead"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// DispatchDecline is the payload of KindDispatchDecline.
type DispatchDecline struct {
	DispatchID string `json:"dispatch_id"`
	Reason     string `json:"reason"`
}

// Validate checks the payload.
func (p *DispatchDecline) Validate() map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(p.DispatchID) == "" {
		f["dispatch_id"] = "required"
	}
	if strings.TrimSpace(p.Reason) == "" {
		f["reason"] = "required"
	} else if len(p.Reason) > directory.MaxTextLen {
		f["reason"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// DispatchStatusChange is the payload of KindDispatchStatus.
type DispatchStatusChange struct {
	DispatchID string `json:"dispatch_id"`
	Status     string `json:"status"`            // en_route | on_scene | completed
	Outcome    string `json:"outcome,omitempty"` // with completed: stayed_at_home | admitted | referred
	Note       string `json:"note,omitempty"`
}

// Validate checks the payload.
func (p *DispatchStatusChange) Validate() map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(p.DispatchID) == "" {
		f["dispatch_id"] = "required"
	}
	switch p.Status {
	case DispatchEnRoute, DispatchOnScene:
		if p.Outcome != "" {
			f["outcome"] = "only with completed"
		}
	case DispatchCompleted:
		if !outcomes[p.Outcome] {
			f["outcome"] = "must be one of stayed_at_home, admitted, referred"
		}
	default:
		f["status"] = "must be one of en_route, on_scene, completed"
	}
	if len(p.Note) > directory.MaxTextLen {
		f["note"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// DispatchDeliveryReport is the payload of KindDispatchDelivered and
// KindDispatchDeliveryFailed (proposed by the leader's outbox worker).
type DispatchDeliveryReport struct {
	WebhookID  string `json:"webhook_id"`
	Attempts   int    `json:"attempts"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Result     string `json:"result,omitempty"` // failures: permanent_failure | retries_exhausted
	Error      string `json:"error,omitempty"`
}

// Validate checks the payload; failed says which kind carries it.
func (p *DispatchDeliveryReport) Validate(failed bool) map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(p.WebhookID) == "" {
		f["webhook_id"] = "required"
	}
	if p.Attempts < 0 {
		f["attempts"] = "must not be negative"
	}
	if failed && p.Result != NotifyPermanent && p.Result != NotifyExhausted {
		f["result"] = "must be permanent_failure or retries_exhausted"
	}
	if len(p.Error) > 2000 {
		f["error"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// DispatchEscalate is the payload of KindDispatchEscalate: the leader saw
// the acceptance deadline pass; the FSM checks it against its own clock.
type DispatchEscalate struct {
	DispatchID string `json:"dispatch_id"`
}

// ErrDeadlineNotPassed is the CommandError message prefix of an escalation
// proposed before the dispatch's acceptance deadline in FSM time.
const ErrDeadlineNotPassed = "acceptance deadline has not passed"

func dispatchCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindDispatchAccept, Since: 1, Check: cluster.CheckOnly(checkDispatchAccept), Apply: applyDispatchAccept},
		{Kind: KindDispatchDecline, Since: 1, Check: cluster.CheckOnly(checkDispatchDecline), Apply: applyDispatchDecline},
		{Kind: KindDispatchStatus, Since: 1, Check: cluster.CheckOnly(checkDispatchStatus), Apply: applyDispatchStatus},
		{Kind: KindDispatchDelivered, Since: 1, Apply: applyDispatchDelivered},
		{Kind: KindDispatchDeliveryFailed, Since: 1, Apply: applyDispatchDeliveryFailed},
		{Kind: KindDispatchEscalate, Since: 1, Apply: applyDispatchEscalate},
	}
}

// systemOnly refuses a command that only the leader's own worker proposes.
func systemOnly(tx *cluster.Tx) *cluster.CommandError {
	if tx.Actor() != cluster.SystemActor {
		return &cluster.CommandError{Code: access.CodeForbidden, Message: "only the cluster itself records deliveries and escalations"}
	}
	return nil
}

// CanActFor says why actor a may not accept, decline or update d (nil: it
// may): a responder key scoped to a team acts only on that team's
// dispatches. An unscoped responder key, and every other role the route
// table lets through, may act on any dispatch. Apply asks it with the actor
// of the command, which the HTTP layer stamped from the caller's key.
func (d *Dispatch) CanActFor(a cluster.Actor) *cluster.CommandError {
	if a.Role == access.RoleResponder && a.ServiceID != "" && a.ServiceID != d.ServiceID {
		return &cluster.CommandError{Code: access.CodeForbidden, Message: fmt.Sprintf(
			"dispatch %s is for %s: this key acts only for %s", d.ID, d.ServiceID, a.ServiceID)}
	}
	return nil
}

func conflictf(format string, args ...any) *cluster.CommandError {
	return &cluster.CommandError{Code: cluster.CodeConflict, Message: fmt.Sprintf(format, args...)}
}

func applyDispatchAccept(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var req DispatchAccept
	if err := cluster.DecodeStrict(raw, &req); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if f := req.Validate(tx.Now()); f != nil {
		return nil, cluster.Invalid(f)
	}
	d, err := loadDispatch(tx, req.DispatchID)
	if err != nil {
		return nil, err
	}
	if ce := d.CanActFor(tx.Actor()); ce != nil {
		return nil, ce
	}
	if ce := d.CanAccept(); ce != nil {
		return nil, ce
	}
	old := d.Status
	eta := req.ETA.UTC()
	actor := tx.Actor()
	d.AcceptedAt, d.AcceptedBy, d.ETA = timePtr(tx.Now()), &actor, &eta
	setDispatchStatus(tx, d, DispatchAccepted, "eta "+eta.Format(time.RFC3339))
	if err := putDispatch(tx, d, old); err != nil {
		return nil, err
	}
	tx.Audit("dispatch.accept", "dispatch/"+d.ID, map[string]any{"eta": eta,
		"seconds_to_accept": tx.Now().Sub(d.CreatedAt).Seconds()})
	return d, nil
}

func applyDispatchDecline(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	req, err := cluster.DecodeCommand[DispatchDecline](raw)
	if err != nil {
		return nil, err
	}
	d, err := loadDispatch(tx, req.DispatchID)
	if err != nil {
		return nil, err
	}
	if ce := d.CanActFor(tx.Actor()); ce != nil {
		return nil, ce
	}
	if ce := d.CanDecline(); ce != nil {
		return nil, ce
	}
	d.DeclineReason = req.Reason
	tx.Audit("dispatch.decline", "dispatch/"+d.ID, map[string]any{"reason": req.Reason})
	if err := escalate(tx, d, DispatchDeclined, "declined", req.Reason); err != nil {
		return nil, err
	}
	return d, nil
}

// CanAccept says why d cannot be accepted now (nil: it can). Apply and the
// HTTP handler (against local state, before proposing) both ask it.
func (d *Dispatch) CanAccept() *cluster.CommandError {
	if !d.AwaitingAcceptance() {
		return conflictf("dispatch %s is %s: only a pending or notified dispatch can be accepted", d.ID, d.Status)
	}
	return nil
}

// CanDecline says why d cannot be declined now (nil: it can).
func (d *Dispatch) CanDecline() *cluster.CommandError {
	if !d.AwaitingAcceptance() && d.Status != DispatchAccepted {
		return conflictf("dispatch %s is %s: it can no longer be declined", d.ID, d.Status)
	}
	return nil
}

// CanMoveTo says why d cannot move to a responder-reported status now.
func (d *Dispatch) CanMoveTo(status string) *cluster.CommandError {
	for _, s := range statusFrom[status] {
		if d.Status == s {
			return nil
		}
	}
	return conflictf("dispatch %s is %s: cannot move to %s (allowed from %s)", d.ID, d.Status, status,
		strings.Join(statusFrom[status], ", "))
}

// statusFrom lists the statuses each responder-reported status may follow.
var statusFrom = map[string][]string{
	DispatchEnRoute:   {DispatchAccepted},
	DispatchOnScene:   {DispatchAccepted, DispatchEnRoute},
	DispatchCompleted: {DispatchOnScene},
}

func applyDispatchStatus(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	req, err := cluster.DecodeCommand[DispatchStatusChange](raw)
	if err != nil {
		return nil, err
	}
	d, err := loadDispatch(tx, req.DispatchID)
	if err != nil {
		return nil, err
	}
	if ce := d.CanActFor(tx.Actor()); ce != nil {
		return nil, ce
	}
	if ce := d.CanMoveTo(req.Status); ce != nil {
		return nil, ce
	}
	old := d.Status
	switch req.Status {
	case DispatchOnScene:
		now := tx.Now()
		d.Clock.OnSceneAt = &now
		m := now.Sub(d.Clock.ReferralAt).Minutes()
		met := !now.After(d.Clock.TargetAt)
		d.Clock.Minutes, d.Clock.Met = &m, &met
	case DispatchCompleted:
		d.CompletedAt, d.Outcome = timePtr(tx.Now()), req.Outcome
		if err := releaseDispatchPlace(tx, d); err != nil {
			return nil, err
		}
	}
	note := req.Note
	if req.Outcome != "" {
		note = strings.TrimSpace(req.Outcome + " " + note)
	}
	setDispatchStatus(tx, d, req.Status, note)
	if err := putDispatch(tx, d, old); err != nil {
		return nil, err
	}
	tx.Audit("dispatch.status", "dispatch/"+d.ID, map[string]any{"status": req.Status, "outcome": req.Outcome,
		"clock_met": d.Clock.Met})
	return d, nil
}

// releaseDispatchPlace frees the team's place once its visit is over, so
// the next referral can have it. An attendance routed elsewhere meanwhile
// already gave the place back when it was re-routed.
func releaseDispatchPlace(tx *cluster.Tx, d *Dispatch) error {
	a, err := loadAttendance(tx, d.AttendanceID)
	if err != nil {
		return err
	}
	if a.Routing == nil || a.Routing.Decision.ServiceID != d.ServiceID {
		return nil
	}
	return directory.ReleaseSlot(tx, a.ID, a.Routing.Decision.Allocation)
}

func loadOutbox(tx *cluster.Tx, webhookID string) (*OutboxEntry, error) {
	var e OutboxEntry
	found, err := tx.Get(prefixOutbox+webhookID, &e)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no outbox entry " + webhookID}
	}
	return &e, nil
}

// finishDelivery is the common part of recording a delivery outcome (only
// the leader's worker, as the system, may): the report decoded and
// validated, its outbox entry moved from pending to delivered or failed,
// and the entry's dispatch loaded.
func finishDelivery(tx *cluster.Tx, raw json.RawMessage, failed bool) (*DispatchDeliveryReport, *OutboxEntry, *Dispatch, error) {
	if ce := systemOnly(tx); ce != nil {
		return nil, nil, nil, ce
	}
	var req DispatchDeliveryReport
	if err := cluster.DecodeStrict(raw, &req); err != nil {
		return nil, nil, nil, cluster.PayloadError(err)
	}
	if f := req.Validate(failed); f != nil {
		return nil, nil, nil, cluster.Invalid(f)
	}
	e, err := loadOutbox(tx, req.WebhookID)
	if err != nil {
		return nil, nil, nil, err
	}
	if e.Status != DeliveryPending {
		return nil, nil, nil, conflictf("webhook %s is already %s", e.ID, e.Status)
	}
	e.Status, e.LastError = DeliveryDelivered, ""
	if failed {
		e.Status, e.LastError = DeliveryFailed, req.Error
	}
	e.Attempts, e.LastHTTPStatus, e.DoneIndex = req.Attempts, req.HTTPStatus, tx.Index()
	if err := tx.Put(prefixOutbox+e.ID, e); err != nil {
		return nil, nil, nil, err
	}
	tx.Delete(prefixOutboxPending + e.ID)
	d, err := loadDispatch(tx, e.DispatchID)
	if err != nil {
		return nil, nil, nil, err
	}
	return &req, e, d, nil
}

func applyDispatchDelivered(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	req, e, d, err := finishDelivery(tx, raw, false)
	if err != nil {
		return nil, err
	}
	old := d.Status
	if e.Type != webhookCreated {
		tx.Audit("dispatch.delivered", "dispatch/"+d.ID, map[string]any{"webhook_id": e.ID, "type": e.Type,
			"attempts": req.Attempts, "http_status": req.HTTPStatus})
		return d, nil
	}
	d.Delivery = DispatchDelivery{WebhookID: e.ID, Status: DeliveryDelivered, Attempts: req.Attempts,
		LastHTTPStatus: req.HTTPStatus, At: timePtr(tx.Now())}
	if d.Status == DispatchPending {
		setDispatchStatus(tx, d, DispatchNotified, "webhook delivered")
	}
	if err := putDispatch(tx, d, old); err != nil {
		return nil, err
	}
	tx.Audit("dispatch.delivered", "dispatch/"+d.ID, map[string]any{"webhook_id": e.ID, "attempts": req.Attempts,
		"http_status": req.HTTPStatus})
	return d, nil
}

func applyDispatchDeliveryFailed(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	req, e, d, err := finishDelivery(tx, raw, true)
	if err != nil {
		return nil, err
	}
	if e.Type != webhookCreated {
		tx.Audit("dispatch.delivery_failed", "dispatch/"+d.ID, map[string]any{"webhook_id": e.ID, "type": e.Type,
			"attempts": req.Attempts, "http_status": req.HTTPStatus, "result": req.Result, "error": req.Error})
		return d, raiseDispatchAlert(tx, d, AlertDeliveryFailed, fmt.Sprintf("The stand-down message to %s failed for good (%s): phone the team, they may still be on their way.",
			d.ServiceName, req.Result))
	}
	d.Delivery = DispatchDelivery{WebhookID: e.ID, Status: DeliveryFailed, Attempts: req.Attempts,
		LastHTTPStatus: req.HTTPStatus, LastError: req.Error, At: timePtr(tx.Now())}
	tx.Audit("dispatch.delivery_failed", "dispatch/"+d.ID, map[string]any{"webhook_id": e.ID, "attempts": req.Attempts,
		"http_status": req.HTTPStatus, "result": req.Result, "error": req.Error})
	msg := fmt.Sprintf("The dispatch webhook to %s failed for good (%s", d.ServiceName, req.Result)
	if req.HTTPStatus != 0 {
		msg += fmt.Sprintf(", HTTP %d", req.HTTPStatus)
	}
	msg += "): the team has not been told."
	if err := raiseDispatchAlert(tx, d, AlertDeliveryFailed, msg); err != nil {
		return nil, err
	}
	if d.AwaitingAcceptance() {
		if err := escalate(tx, d, DispatchEscalated, "delivery_failed", req.Result); err != nil {
			return nil, err
		}
		return d, nil
	}
	if err := putDispatch(tx, d, d.Status); err != nil {
		return nil, err
	}
	return d, nil
}

func applyDispatchEscalate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	if ce := systemOnly(tx); ce != nil {
		return nil, ce
	}
	var req DispatchEscalate
	if err := cluster.DecodeStrict(raw, &req); err != nil {
		return nil, cluster.PayloadError(err)
	}
	d, err := loadDispatch(tx, req.DispatchID)
	if err != nil {
		return nil, err
	}
	if !d.AwaitingAcceptance() {
		return nil, conflictf("dispatch %s is %s: only a dispatch nobody has accepted is escalated", d.ID, d.Status)
	}
	if tx.Now().Before(d.AcceptBy) {
		return nil, conflictf("%s: dispatch %s accept_by %s, FSM time %s", ErrDeadlineNotPassed, d.ID,
			d.AcceptBy.Format(time.RFC3339), tx.Now().Format(time.RFC3339))
	}
	if err := escalate(tx, d, DispatchEscalated, "deadline", "nobody accepted by "+d.AcceptBy.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return d, nil
}

// escalate closes d (status declined or escalated) and re-routes the
// attendance to the next eligible rapid response team, excluding every team
// already asked, else to ED with an alert. d is written here.
func escalate(tx *cluster.Tx, d *Dispatch, status, why, note string) error {
	old := d.Status
	now := tx.Now()
	d.EscalatedAt, d.Escalation = &now, why
	setDispatchStatus(tx, d, status, strings.TrimSpace(why+": "+note))
	// Closed before the re-route, so the stand-down of open dispatches
	// (standDownDispatches, called by routing) leaves this one alone.
	if err := putDispatch(tx, d, old); err != nil {
		return err
	}
	old = d.Status

	a, found, err := getAttendance(tx, d.AttendanceID)
	if err != nil {
		return err
	}
	if !found || a.Routing == nil {
		if err := putDispatch(tx, d, old); err != nil {
			return err
		}
		return raiseDispatchAlert(tx, d, AlertEscalatedToED, "Dispatch "+d.ID+" could not be escalated: the attendance has no routing. Send the patient to ED.")
	}
	tried := append(append([]string{}, d.Tried...), d.ServiceID)
	need := a.Routing.Need
	if need.MinTier.Rank() < routing.TierRapidResponse.Rank() {
		need.MinTier = routing.TierRapidResponse
	}
	dec, routeErr, err := routeExcluding(tx, need, a.Routing.Patient, tried)
	if err != nil {
		return err // storage: stops the node rather than deciding differently here
	}
	attOld := a.Status
	if routeErr == nil {
		if err := applyDecision(tx, a, a.Routing.Need, a.Routing.Patient, dec, false,
			fmt.Sprintf("dispatch %s %s", d.ID, why)); err != nil {
			return err
		}
		if err := storeAttendance(tx, a, attOld); err != nil {
			return err
		}
	}
	switch {
	case routeErr == nil && dec.Tier == routing.TierRapidResponse:
		// The hook normally created the next dispatch inside applyDecision;
		// make sure it exists whichever way the hook is wired.
		prior, err := dispatchesOfTx(tx, a.ID)
		if err != nil {
			return err
		}
		if err := startDispatch(tx, a, &dec); err != nil {
			return err
		}
		d.EscalatedTo = fmt.Sprintf("%s-d%d", a.ID, len(prior)+1)
	default:
		d.EscalatedToED = true
		msg := fmt.Sprintf("No rapid response team accepted %s (%s after %d team(s)): escalated to ED", d.AttendanceID, why, len(tried))
		if routeErr == nil {
			d.EscalatedTo = dec.ServiceID
			msg += " (" + dec.ServiceName + ")"
		} else {
			msg += "; routing failed: " + routeErr.Error()
		}
		if err := raiseDispatchAlert(tx, d, AlertEscalatedToED, msg+"."); err != nil {
			return err
		}
	}
	if err := putDispatch(tx, d, old); err != nil {
		return err
	}
	tx.Audit("dispatch.escalate", "dispatch/"+d.ID, map[string]any{"reason": why, "to": d.EscalatedTo, "ed": d.EscalatedToED,
		"tried": tried})
	return nil
}

// standDownDispatches closes the attendance's open dispatches to any team
// other than dec's: routing replaced the rapid response decision (NEWS2 rose,
// a clinician overrode). A team that may already know (webhook delivered or
// accepted) is sent a dispatch.stood_down webhook. Called by routing inside
// Apply (6b's applyDecision) before the rapid response hook.
func standDownDispatches(tx *cluster.Tx, a *Attendance, dec *routing.Decision, reason string) error {
	ds, err := dispatchesOfTx(tx, a.ID)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if !d.Open() || d.ServiceID == dec.ServiceID {
			continue
		}
		old := d.Status
		now := tx.Now()
		d.EscalatedAt, d.Escalation, d.EscalatedTo = &now, "rerouted", dec.ServiceID
		setDispatchStatus(tx, d, DispatchEscalated, "stood down: attendance re-routed to "+dec.ServiceName+" ("+reason+")")
		if err := putDispatch(tx, d, old); err != nil {
			return err
		}
		if d.Delivery.Status == DeliveryDelivered || d.AcceptedAt != nil {
			if err := putOutbox(tx, d, webhookStoodDown); err != nil {
				return err
			}
		}
		tx.Audit("dispatch.stand_down", "dispatch/"+d.ID, map[string]any{"to": dec.ServiceID, "reason": reason})
	}
	return nil
}

// routeExcluding routes with the given services taken out of the directory.
// routeErr is a routing outcome every replica shares (no directory, nothing
// can take the patient); err is a storage failure.
func routeExcluding(tx *cluster.Tx, need routing.Need, p routing.Patient, exclude []string) (dec routing.Decision, routeErr, err error) {
	dir, err := directory.DirectoryFromState(tx)
	var ce *cluster.CommandError
	if errors.As(err, &ce) {
		return dec, ce, nil
	}
	if err != nil {
		return dec, nil, err
	}
	skip := map[string]bool{}
	for _, id := range exclude {
		skip[id] = true
	}
	cp := routing.Directory{Name: dir.Name, CentrePostcode: dir.CentrePostcode, Practices: dir.Practices,
		Postcodes: dir.Postcodes, ExtraBankHolidays: dir.ExtraBankHolidays}
	for _, s := range dir.Services {
		if !skip[s.ID] {
			cp.Services = append(cp.Services, s)
		}
	}
	if err := cp.ValidateStructure(); err != nil {
		return dec, fmt.Errorf("directory without %v: %w", exclude, err), nil
	}
	load, err := directory.LoadAt(tx, tx.Now())
	if err != nil {
		return dec, nil, err
	}
	dec, routeErr = routing.RouteRules(need, p, tx.Now(), &cp, load, routingRules(tx.LogicVersion()))
	return dec, routeErr, nil
}

// ---- reads -----------------------------------------------------------

// DispatchQuery filters View.Dispatches.
type DispatchQuery struct {
	Status       string // "" -> every status
	ServiceID    string // "" -> every team
	AttendanceID string // "" -> every attendance
	OpenOnly     bool
	Limit        int
}

// Dispatch reads one dispatch.
func (v State) Dispatch(id string) (*Dispatch, error) {
	var d Dispatch
	if err := v.get(keyDispatch(id), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Dispatches lists dispatches, oldest first.
func (v State) Dispatches(q DispatchQuery) ([]*Dispatch, error) {
	prefix := prefixDispatch
	if q.OpenOnly {
		prefix = prefixDispatchOpen
	}
	if q.AttendanceID != "" {
		// Dispatch ids start with their attendance's id.
		prefix += q.AttendanceID + "-d"
	}
	var out []*Dispatch
	errStop := errors.New("stop")
	err := v.r.Scan(prefix, "", func(key string, val []byte) error {
		var d Dispatch
		if q.OpenOnly {
			if err := v.get(keyDispatch(strings.TrimPrefix(key, prefixDispatchOpen)), &d); err != nil {
				return err
			}
		} else if err := json.Unmarshal(val, &d); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if (q.Status != "" && d.Status != q.Status) || (q.ServiceID != "" && d.ServiceID != q.ServiceID) ||
			(q.AttendanceID != "" && d.AttendanceID != q.AttendanceID) {
			return nil
		}
		out = append(out, &d)
		if q.Limit > 0 && len(out) >= q.Limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

// PendingOutbox lists outbox entries still to deliver.
func (v State) PendingOutbox() ([]*OutboxEntry, error) {
	var out []*OutboxEntry
	err := v.r.Scan(prefixOutboxPending, "", func(key string, _ []byte) error {
		var e OutboxEntry
		if err := v.get(prefixOutbox+strings.TrimPrefix(key, prefixOutboxPending), &e); err != nil {
			return err
		}
		out = append(out, &e)
		return nil
	})
	return out, err
}

// Outbox reads one outbox entry.
func (v State) Outbox(webhookID string) (*OutboxEntry, error) {
	var e OutboxEntry
	if err := v.get(prefixOutbox+webhookID, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// DispatchEvent is one dispatch or alert change for the stream: ID is
// opaque and ordered (raft index, then dispatch or alert id); a client
// resumes after it. Type is "dispatch" or "alert"; Data the record.
type DispatchEvent struct {
	ID    string          `json:"id"`
	Index uint64          `json:"index"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
}

// DispatchEvents returns up to limit events after the event id after ("" =
// from the start).
func (v State) DispatchEvents(after string, limit int) ([]DispatchEvent, error) {
	start := prefixDispatchEvent
	if after != "" {
		start = prefixDispatchEvent + after + "\x00"
	}
	var out []DispatchEvent
	err := v.r.Scan(prefixDispatchEvent, strings.TrimPrefix(start, prefixDispatchEvent), func(key string, val []byte) error {
		if limit > 0 && len(out) >= limit {
			return cluster.ErrStop
		}
		id := strings.TrimPrefix(key, prefixDispatchEvent)
		var idx uint64
		if i := strings.IndexByte(id, '/'); i > 0 {
			_, _ = fmt.Sscanf(id[:i], "%d", &idx)
		}
		typ := "dispatch"
		if i := strings.IndexByte(id, '/'); i > 0 && strings.HasPrefix(id[i+1:], alertIDPrefix) {
			typ = "alert"
		}
		out = append(out, DispatchEvent{ID: id, Index: idx, Type: typ, Data: val})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseDispatchEventID checks a Last-Event-ID: "<20-digit index>/<dispatch id>".
func ParseDispatchEventID(s string) error {
	i := strings.IndexByte(s, '/')
	if i != 20 || len(s) < 22 || strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("event id %q: want <20-digit index>/<dispatch id>", s)
	}
	for _, c := range s[:20] {
		if c < '0' || c > '9' {
			return fmt.Errorf("event id %q: index is not a number", s)
		}
	}
	return nil
}
