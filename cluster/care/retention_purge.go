package care

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
)

// The review and the purge (retention.go has the periods). The review
// (RetentionReview, a read) lists what is due at a time, by id and period
// only; the purge (KindRetentionPurge, admin only) deletes it. What is due
// is decided in Apply at the command's FSM time, or at the review's time
// the purge names (as_of) if that is earlier, so the purge takes exactly
// what was reviewed and approved, and never more.
//
// A purged attendance takes with it everything keyed by it: its record and
// parts (a/<id>, ap/<id>/...), its index keys (ax/...), its audit events
// (u/attendance/<id>/...), its queue events (ev/...), its dispatches with
// their outbox entries, stream events and audit events, its alerts, the GP
// registration made at it, and the capacity it held (sl/...). A patient
// record goes once no attendance of that patient (linked, or by NHS
// number) remains and its own period has passed (counted from when it was
// created). The audit trail of the purge itself is one event on the
// entity "retention/purge": when, who proposed it, who approved it, the period
// setting, the counts by period and the ids purged, no patient details.
// Every node then takes a raft snapshot and drops its older ones
// (Command.CompactAfter), so the purged records leave the raft log and
// the snapshots too.

// RetentionAuditEntity is the audit entity every purge's event is
// recorded under (GET /v1/audit?entity=retention/purge lists them).
const RetentionAuditEntity = "retention/purge"

// KindRetentionPurge deletes attendances past their retention period.
const KindRetentionPurge cluster.Kind = "retention.purge"

// Purge bounds: one command deletes at most this many attendances (the
// request's limit, default RetentionPurgeDefaultLimit) and stops taking
// more once it has deleted purgeKeyBudget records, so that one command's
// writes always fit one Badger transaction; the rest are "remaining" and
// another purge takes them.
const (
	RetentionPurgeDefaultLimit = 100
	RetentionPurgeMaxLimit     = 500
	purgeKeyBudget             = 4000
	// RetentionReviewList is how many ids the review lists (it counts all).
	RetentionReviewList = 1000
)

// RetentionPurge is the payload of KindRetentionPurge.
type RetentionPurge struct {
	// ApprovedBy names who approved the purge (the centre's information
	// governance lead): recorded in the purge's audit event.
	ApprovedBy string `json:"approved_by"`
	// AsOf is the time of the review that was approved: only what was due
	// then is purged. Absent, or later than the command's time: the
	// command's time.
	AsOf *time.Time `json:"as_of,omitempty"`
	// ExtraYears is the centre's retention setting (the HTTP layer fills
	// it from the node's --retention-extra-years): years added to every
	// period of the code, 0 to MaxRetentionExtra.
	ExtraYears int `json:"extra_years"`
	// Limit is how many attendances this command purges at most (0:
	// RetentionPurgeDefaultLimit).
	Limit int `json:"limit,omitempty"`
}

// Validate returns field errors (nil when valid); pure.
func (p *RetentionPurge) Validate() map[string]string {
	f := map[string]string{}
	switch a := strings.TrimSpace(p.ApprovedBy); {
	case a == "":
		f["approved_by"] = "required: who approved the purge (the information governance lead)"
	case len(p.ApprovedBy) > directory.MaxTextLen:
		f["approved_by"] = "too long"
	}
	if p.ExtraYears < 0 || p.ExtraYears > MaxRetentionExtra {
		f["extra_years"] = fmt.Sprintf("must be 0 to %d: a centre may lengthen the code's periods, never shorten them", MaxRetentionExtra)
	}
	if p.Limit < 0 || p.Limit > RetentionPurgeMaxLimit {
		f["limit"] = fmt.Sprintf("must be 1 to %d", RetentionPurgeMaxLimit)
	}
	if p.AsOf != nil && p.AsOf.IsZero() {
		f["as_of"] = "not a time"
	}
	return nilIfEmpty(f)
}

// RetentionPurged is the result of a purge and the details of its audit
// event.
type RetentionPurged struct {
	AsOf          time.Time      `json:"as_of"`
	ApprovedBy    string         `json:"approved_by"`
	ExtraYears    int            `json:"extra_years"`
	Attendances   int            `json:"attendances"`
	ByPeriod      map[string]int `json:"by_period"`
	Patients      int            `json:"patients"`
	Records       int            `json:"records"`   // keys deleted
	Remaining     int            `json:"remaining"` // attendances still due at as_of: purge again
	AttendanceIDs []string       `json:"attendance_ids"`
	PatientIDs    []string       `json:"patient_ids"`
}

func retentionCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindRetentionPurge, Since: 8, Check: cluster.CheckOnly(checkRetentionPurge), Apply: applyRetentionPurge, CompactAfter: true},
	}
}

// purgeAsOf is when the purge decides what is due: the command's time, or
// the reviewed time if earlier.
func purgeAsOf(in *RetentionPurge, now time.Time) time.Time {
	if in.AsOf != nil && in.AsOf.Before(now) {
		return in.AsOf.UTC()
	}
	return now
}

func checkRetentionPurge(r cluster.Reader, _ cluster.Actor, now time.Time, raw json.RawMessage) error {
	in, err := cluster.DecodeCommand[RetentionPurge](raw)
	if err != nil {
		return err
	}
	asOf := purgeAsOf(in, now)
	due, err := dueAttendances(r, asOf, in.ExtraYears)
	if err != nil {
		return err
	}
	if len(due) > 0 {
		return nil
	}
	n, err := orphanPatientsDue(r, asOf, in.ExtraYears, map[string]bool{}, map[string]bool{}, 1)
	if err != nil {
		return err
	}
	if len(n) == 0 {
		return nothingDue(asOf)
	}
	return nil
}

// NothingDueField names, in the conflict a purge with nothing due gets
// (refused by the leader's check, so never proposed), the field that holds
// the as_of it decided at: the HTTP layer answers such a purge with zero
// counts, so repeating a purge is a harmless no-op.
const NothingDueField = "nothing_due_as_of"

func nothingDue(asOf time.Time) *cluster.CommandError {
	return &cluster.CommandError{Code: cluster.CodeConflict, Message: "nothing is due for purge as of " + asOf.Format(time.RFC3339),
		Fields: map[string]string{NothingDueField: asOf.Format(time.RFC3339Nano)}}
}

func applyRetentionPurge(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[RetentionPurge](raw)
	if err != nil {
		return nil, err
	}
	asOf := purgeAsOf(in, tx.Now())
	due, err := dueAttendances(tx, asOf, in.ExtraYears)
	if err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit == 0 {
		limit = RetentionPurgeDefaultLimit
	}
	p := &purger{tx: tx, gone: map[string]bool{}, goneDispatch: map[string]bool{}}
	out := &RetentionPurged{AsOf: asOf, ApprovedBy: in.ApprovedBy, ExtraYears: in.ExtraYears, ByPeriod: map[string]int{},
		AttendanceIDs: []string{}, PatientIDs: []string{}}
	var patients []string
	for _, d := range due {
		if out.Attendances >= limit || p.deleted >= purgeKeyBudget {
			break
		}
		if err := p.attendance(d.id); err != nil {
			return nil, err
		}
		out.Attendances++
		out.ByPeriod[d.period]++
		out.AttendanceIDs = append(out.AttendanceIDs, d.id)
		if d.patientID != "" {
			patients = append(patients, d.patientID)
		}
	}
	if err := p.feeds(); err != nil {
		return nil, err
	}
	// Patients of the attendances purged, then (once every attendance due
	// is gone) those with no attendance at all.
	sort.Strings(patients)
	seen := map[string]bool{}
	for _, pid := range patients {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		rec, ok, err := patientDue(tx, pid, asOf, in.ExtraYears, p.gone)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := p.patient(rec); err != nil {
				return nil, err
			}
			out.PatientIDs = append(out.PatientIDs, pid)
		}
	}
	if out.Attendances == len(due) && p.deleted < purgeKeyBudget {
		orphans, err := orphanPatientsDue(tx, asOf, in.ExtraYears, p.gone, seen, RetentionPurgeMaxLimit)
		if err != nil {
			return nil, err
		}
		for _, rec := range orphans {
			if p.deleted >= purgeKeyBudget {
				break
			}
			if err := p.patient(rec); err != nil {
				return nil, err
			}
			out.PatientIDs = append(out.PatientIDs, rec.ID)
		}
	}
	out.Patients = len(out.PatientIDs)
	if out.Attendances == 0 && out.Patients == 0 {
		return nil, nothingDue(asOf)
	}
	out.Records = p.deleted
	out.Remaining = len(due) - out.Attendances
	tx.Audit("retention.purge", RetentionAuditEntity, out)
	return out, nil
}

// purger deletes records for one purge command, counting them.
type purger struct {
	tx           *cluster.Tx
	deleted      int
	gone         map[string]bool // attendances purged
	goneDispatch map[string]bool
}

func (p *purger) del(key string) {
	p.tx.Delete(key)
	p.deleted++
}

// prefix deletes every key under prefix (as stored before this command).
func (p *purger) prefix(prefix string) error {
	var keys []string
	if err := p.tx.Keys(prefix, "", func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		p.del(k)
	}
	return nil
}

// delIfPresent deletes key if it is stored.
func (p *purger) delIfPresent(key string) error {
	_, found, err := p.tx.GetRaw(key)
	if err == nil && found {
		p.del(key)
	}
	return err
}

// attendance deletes attendance id and everything keyed by it, except
// the queue and dispatch stream events (feeds deletes those, once).
func (p *purger) attendance(id string) error {
	tx := p.tx
	raw, found, err := tx.GetRaw(keyAttendance(id))
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("purge attendance %s: not found", id)
	}
	a, err := decodeStored(tx, id, raw)
	if err != nil {
		return err
	}
	p.gone[id] = true
	p.del(keyAttendance(id))
	if err := p.prefix(prefixAttendanceParts + id + "/"); err != nil {
		return err
	}
	for _, k := range []string{keyAttendanceByArrival(a.ArrivedAt, id), keyAttendanceByStatus(a.Status, a.ArrivedAt, id)} {
		if err := p.delIfPresent(k); err != nil {
			return err
		}
	}
	if a.Patient.NHSNumber != "" {
		if err := p.delIfPresent(keyAttendanceByPerson(prefixByNHS, a.Patient.NHSNumber, a.ArrivedAt, id)); err != nil {
			return err
		}
	}
	if a.PatientID != "" {
		if err := p.delIfPresent(keyAttendanceByPerson(prefixByPatientID, a.PatientID, a.ArrivedAt, id)); err != nil {
			return err
		}
	}
	if err := p.prefix(auditPrefix("attendance/" + id)); err != nil {
		return err
	}
	if a.Routing != nil {
		n, err := directory.ForgetSlot(tx, id, a.Routing.Decision.Allocation)
		if err != nil {
			return err
		}
		p.deleted += n
	}
	if tx.LogicVersion() >= 9 {
		// A BaRS referral or booking of the attendance (referral.go,
		// booking.go): its record, its indexes and its audit events.
		if err := p.referral(id); err != nil {
			return err
		}
		if err := p.appointment(id); err != nil {
			return err
		}
	}
	if a.RegistrationID != "" {
		var reg RegistrationRecord
		found, err := tx.Get(prefixRegistration+a.RegistrationID, &reg)
		if err != nil {
			return err
		}
		if found {
			p.del(prefixRegistration + reg.ID)
			if err := p.delIfPresent(prefixRegByState + reg.State + "/" + reg.ID); err != nil {
				return err
			}
			if err := p.prefix(auditPrefix("registration/" + reg.ID)); err != nil {
				return err
			}
		}
	}
	var dispatches []string
	if err := tx.Keys(prefixDispatchByAtt+id+"/", "", func(key string) error {
		dispatches = append(dispatches, key[strings.LastIndexByte(key, '/')+1:])
		p.del(key)
		return nil
	}); err != nil {
		return err
	}
	for _, did := range dispatches {
		p.goneDispatch[did] = true
		for _, k := range []string{keyDispatch(did), prefixDispatchOpen + did} {
			if err := p.delIfPresent(k); err != nil {
				return err
			}
		}
		if err := p.prefix(auditPrefix("dispatch/" + did)); err != nil {
			return err
		}
		// Outbox entries: msg_<dispatch id>, and msg_<dispatch id>_<type>.
		msg := WebhookIDFor(did)
		for _, pre := range []string{prefixOutbox, prefixOutboxPending} {
			if err := p.delIfPresent(pre + msg); err != nil {
				return err
			}
			if err := p.prefix(pre + msg + "_"); err != nil {
				return err
			}
		}
	}
	// Alerts about the attendance or one of its dispatches: their ids
	// start with al_<attendance id> (alertID).
	if err := tx.Scan(prefixAlert+alertIDPrefix+id, "", func(key string, val []byte) error {
		var al Alert
		if err := json.Unmarshal(val, &al); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if al.AttendanceID != id && !p.goneDispatch[al.DispatchID] {
			return nil
		}
		p.del(key)
		if err := p.delIfPresent(prefixAlertOpen + al.ID); err != nil {
			return err
		}
		return p.prefix(auditPrefix("alert/" + al.ID))
	}); err != nil {
		return err
	}
	return nil
}

// feeds deletes the queue and dispatch stream events of what was purged:
// the feeds keep a window of recent raft indexes (pruneEvents), so only
// the events after each feed's prune mark can be left.
func (p *purger) feeds() error {
	for _, f := range []struct {
		prefix string
		gone   map[string]bool
	}{{prefixEvent, p.gone}, {prefixDispatchEvent, p.goneDispatch}} {
		if len(f.gone) == 0 {
			continue
		}
		from, _, err := p.tx.GetRaw(keyPruned(f.prefix))
		if err != nil {
			return err
		}
		var keys []string
		if err := p.tx.Keys(f.prefix, string(from), func(key string) error {
			if f.gone[key[strings.LastIndexByte(key, '/')+1:]] {
				keys = append(keys, key)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			p.del(k)
		}
	}
	return nil
}

// patient deletes a patient record, its matching keys and its audit
// events.
func (p *purger) patient(rec *PatientRecord) error {
	p.del(prefixPatient + rec.ID)
	for _, k := range patientIndexKeys(rec) {
		if err := p.delIfPresent(k); err != nil {
			return err
		}
	}
	return p.prefix(auditPrefix("patient/" + rec.ID))
}

// auditPrefix is where the audit events of entity lie (cluster.keyAudit).
func auditPrefix(entity string) string { return "u/" + entity + "/" }

// referral deletes the BaRS referral that made attendance id, if any.
func (p *purger) referral(attendanceID string) error {
	refID, found, err := p.tx.GetRaw(prefixReferralByAtt + attendanceID)
	if err != nil || !found {
		return err
	}
	var r Referral
	ok, err := p.tx.Get(prefixReferral+string(refID), &r)
	if err != nil {
		return err
	}
	p.del(prefixReferralByAtt + attendanceID)
	if ok {
		p.del(prefixReferral + r.ID)
		if err := p.delIfPresent(prefixReferralBySR + r.ServiceRequestID); err != nil {
			return err
		}
		return p.prefix(auditPrefix("referral/" + r.ID))
	}
	return nil
}

// appointment deletes the BaRS booking that made attendance id, if any.
func (p *purger) appointment(attendanceID string) error {
	apID, found, err := p.tx.GetRaw(prefixAppointmentByAtt + attendanceID)
	if err != nil || !found {
		return err
	}
	var ap Appointment
	ok, err := p.tx.Get(prefixAppointment+string(apID), &ap)
	if err != nil {
		return err
	}
	p.del(prefixAppointmentByAtt + attendanceID)
	if ok {
		p.del(prefixAppointment + ap.ID)
		if err := p.delIfPresent(prefixAppointmentBySnd + ap.AppointmentID); err != nil {
			return err
		}
		return p.prefix(auditPrefix("appointment/" + ap.ID))
	}
	return nil
}
