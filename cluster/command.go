package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind names a command, e.g. "attendance.create".
type Kind string

// LogicVersion is the version of the decision code in this binary. Bump it
// whenever any handler would decide differently for the same state and
// command; handlers branch on Tx.LogicVersion so old entries replay as they
// were first applied.
//
//	2: idempotency records expire after 24 h (idempotency.go)
//	3: triage rules 1 and the context that decides: clinician-first floors
//	   (awaiting_clinician), interim raises, awaiting_address before a
//	   rapid response, reported earlier contacts, ages in months, weeks or
//	   days, pregnancy weeks, the NG133 check for Dx-only attendances
//	   (triage_context.go, clinician_first.go, address.go)
//	4: care needs decide the service: a clinician's override to
//	   another tier takes that tier's generic care need (workflow.go);
//	   routing explains in words (routing.RulesWords: the missing care
//	   need, the gap, the fallback) and the route audit names a gap; the
//	   context's registered_practice, resolved to an ODS code and used by
//	   routing when the patient record names no practice; directory.load
//	   and service.put refuse a care need outside the vocabulary
//	   (care_needs.go)
//	5: attendance.answer runs the triage engine once in Apply, with the
//	   earlier contacts counted afresh (workflow.go logicOneEngineRun); an
//	   attendance is stored as small records, the current state, session
//	   and routing decision apart from the append-only answer and routing
//	   history logs (care/record.go); the queue and dispatch feeds and
//	   idempotency expiry resume pruning from the last key they deleted
//	   (evp/<feed>, ixp) instead of walking every tombstone
//	6: a patient's blocking keys hold the fields matching compares, so
//	   matching reads no patient record outside the few it returns
//	   (care/patient.go logicMatchIndex)
//	7: every write a command makes extends the running state hash, and
//	   the hash is checkpointed every CheckpointEvery entries for members
//	   to compare (statehash.go)
//	8: data protection (issue 18): care's retention.purge deletes
//	   attendances past the NHS Records Management Code's periods and
//	   what is keyed by them (care/retention.go); cluster.restore records
//	   in the audit trail the backup a cluster was seeded from (restore.go);
//	   service.put and directory.load refuse a webhook URL outside the
//	   destination rules and the webhook allow-list (new kind
//	   webhook.allowlist; directory/webhooks.go), and a secret not in
//	   whsec_ form of at least 24 bytes; every command's payload is refused
//	   when a string breaks the input limits (inputlimit) and a date of
//	   birth is before 1900 or after the command's time;
//	   least privilege: service.status only by an admin key or a key
//	   scoped to that service (directory.go), and key.create scopes
//	   reception and clinician keys to a service too (access.go); a
//	   record.read command audits who viewed a patient's record
//	9: speaking NHS (issue 19): directory.import (new kind) adds or
//	   updates GP practices, pharmacies and postcode coordinates from
//	   national data (ODS epraccur and edispensary, ONSPD; the postcodes
//	   under their own key, directory/import.go); a decided disposition
//	   carries its ECDS coding: the protocol's chief complaint and the
//	   acuity, discharge destination and follow-up of its tier, timeframe
//	   and care needs (care/ecds.go); NHS 111 over BaRS: care's
//	   referral.receive makes a
//	   FHIR servicerequest-request an expected nhs111 attendance with the
//	   patient matched or created by NHS number, and referral.cancel
//	   closes it while still expected (care/referral.go); retention.purge
//	   deletes an attendance's referral and booking with it; booking.create takes a
//	   place of a slot-capacity session for an expected nhs111 attendance
//	   and booking.cancel frees it (care/booking.go)
//	10: ECDS "standard" and "low" acuity as their SNOMED CT ids, not the
//	   local fallbacks (care/ecds.go logicECDSAcuity); a BaRS Appointment
//	   follows its attendance: arrived at check-in, fulfilled when seen,
//	   its place freed when the attendance leaves or is handed over, noshow
//	   when an expected patient is marked left; a booking can no longer be
//	   cancelled once its patient is checked in (care/booking.go
//	   bookingFollows, notArrived); a referral or booking linked by NHS
//	   number to a patient recorded with another date of birth or family
//	   name raises an identity_check alert (care/referral.go identityCheck);
//	   a booked patient is checked in only on their session's day and
//	   before it ends (care/booking.go notDueNow)
//	11: an NHS 111 key cancels (booking.cancel, referral.cancel) only the
//	   bookings and referrals it sent; another's are not found
//	   (care/booking.go sentBy)
//	12: a command whose result is a stored resource it can read again
//	   (Apply returns a *Resource: an attendance) keeps in its idempotency
//	   record the resource's name, not its bytes (resource.go); only the
//	   node that proposed the command builds the bytes, for its caller
//	13: a triage session is stored compact: the ids of the questions
//	   waiting, and its outcome's path without the questions' wording, both
//	   read back from the pinned protocol set (care/record.go
//	   logicCompactSession); an attendance's index keys are written only
//	   when its stored record does not have them yet (care/attendance.go
//	   logicIndexOnce)
//	14: an audit event's sequence number counts every event its raft entry
//	   wrote for the same entity, not only its command's: two commands
//	   for one attendance grouped into one entry each keep their event
//	   (tx.go auditSeqPerEntry)
//	15: an attendance's triage decision (observations, disposition,
//	   interim, floors) is stored in a part of its own, ap/<id>/t, written
//	   only when it changes; the current state a/<id> keeps the set key
//	   (care/record.go logicTriagePart)
const LogicVersion = 15

// Actor is who asked for a change.
type Actor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
	// ServiceID is the service a scoped key acts for (access.go): the
	// rapid response team of a responder key, the service whose staff a
	// reception or clinician key belongs to; empty for an unscoped key, so
	// it is absent from the JSON.
	ServiceID string `json:"service_id,omitempty"`
}

// Proposal is what an HTTP handler asks the leader to do. The leader's Store
// stamps the time (leader clock), fresh IDs and the logic version; a follower
// never builds a half command: Propose on a follower returns ErrNotLeader and
// the HTTP layer sends the Proposal it built to the leader.
type Proposal struct {
	Kind        Kind
	Actor       Actor
	Payload     json.RawMessage // request body as validated by the HTTP layer
	Idempotency *Idempotency    // nil without an Idempotency-Key header
}

// Idempotency identifies a retried request: the same Key with the same Route
// and BodyHash returns the first Result; with a different hash it fails with
// CodeIdempotencyMismatch.
type Idempotency struct {
	Key      string `json:"key"`
	Route    string `json:"route"`
	BodyHash string `json:"body_hash"` // hex sha256 of the raw body
}

// Result is what FSM.Apply produced for one command; identical on every
// node, except that a Value named by Ref is built only on the node that
// proposed the command (resource.go).
type Result struct {
	Index    uint64          `json:"index"`           // raft index of the entry that carried the command
	Value    json.RawMessage `json:"value,omitempty"` // the resource as written
	Err      *CommandError   `json:"err,omitempty"`   // business failure: nothing changed
	Replayed bool            `json:"replayed,omitempty"`
	// Ref names the resource of a command that returned a *Resource
	// (logic version 12 on): what its idempotency record keeps instead
	// of Value (resource.go).
	Ref *ResourceRef `json:"ref,omitempty"`
}

// Envelope is one command as it travels in the raft log.
//
// Encoding: JSON, deliberately. Payloads arrive as JSON from the HTTP layer
// and are stored as JSON, so JSON avoids a second schema (protobuf) and keeps
// the log readable when debugging a divergence; encoding/json of structs is
// deterministic. Cost is a few microseconds per command, small beside the
// fsync each raft entry pays, and group commit amortises that fsync over many
// commands. The entry framing around envelopes is binary (see encodeEntry).
type Envelope struct {
	Kind         Kind            `json:"kind"`
	LogicVersion int             `json:"logic_version"`
	Time         time.Time       `json:"time"` // proposer's clock (UTC)
	Actor        Actor           `json:"actor"`
	IDs          []string        `json:"ids,omitempty"` // proposer-generated, sortable
	Idempotency  *Idempotency    `json:"idempotency,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
}

// entryFormatBatchV1 is byte 0 of every command entry: a count of envelopes,
// each as uvarint length + JSON.
const entryFormatBatchV1 byte = 1

func encodeEntry(envs [][]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, e := range envs {
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, n)
	b = append(b, entryFormatBatchV1)
	b = binary.AppendUvarint(b, uint64(len(envs)))
	for _, e := range envs {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

var errBadEntry = errors.New("malformed command entry")

// decodeEntry splits a command entry into raw envelopes (not yet decoded).
func decodeEntry(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", errBadEntry)
	}
	if data[0] != entryFormatBatchV1 {
		return nil, fmt.Errorf("%w: unknown format %d", errBadEntry, data[0])
	}
	rest := data[1:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: bad count", errBadEntry)
	}
	rest = rest[n:]
	out := make([][]byte, 0, count)
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return nil, fmt.Errorf("%w: bad length of command %d", errBadEntry, i)
		}
		out = append(out, rest[n:n+int(l)])
		rest = rest[n+int(l):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadEntry, len(rest))
	}
	return out, nil
}

// EncodeEntry frames encoded envelopes as one command entry's data, as the
// leader's batcher does: for building logs offline (tests, tools).
func EncodeEntry(envs ...[]byte) []byte { return encodeEntry(envs) }

// DecodeEntry splits a command entry's data into its envelopes.
func DecodeEntry(data []byte) ([]Envelope, error) {
	raws, err := decodeEntry(data)
	if err != nil {
		return nil, err
	}
	out := make([]Envelope, len(raws))
	for i, raw := range raws {
		if err := DecodeRecord(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("command %d: %w: %v", i, errBadEntry, err)
		}
	}
	return out, nil
}
