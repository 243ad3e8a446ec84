package care

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// How an attendance is stored.
//
// Up to logic version 4 an attendance is one JSON record under a/<id>,
// rewritten whole by every command: by the end of a walk-in it is over
// 20 KB (every answer with who gave it, the session and its path, the
// routing decision with every service it considered), and every command
// decoded and re-encoded all of it. From logic version 5
// (logicSmallRecords) it is stored as small records:
//
//	a/<id>              the current state (status, patient, context...)
//	                    and how many parts lie beside it (recordParts)
//	ap/<id>/t           from logic version 15 (logicTriagePart): the
//	                    triage decision in force (observations,
//	                    disposition, interim, floors), rewritten only when
//	                    it changes; before, a/<id> held it
//	ap/<id>/tl/<seq>    from logic version 15: one status change each
//	                    (the timeline), append-only; before, a/<id>
//	                    held the timeline
//	ap/<id>/s           the triage session and the questions waiting,
//	                    rewritten only when the session moves on
//	ap/<id>/r           the routing decision in force, with the services it
//	                    considered, rewritten only when it changes
//	ap/<id>/an/<seq>    one answer each, with who gave it: append-only
//	ap/<id>/rh/<seq>    one replaced routing decision each: append-only
//
// A command loads a/<id>, the triage decision, the session and the routing
// decision (what its decisions read), adds to the logs without reading them, and writes only
// what changed. The attendance as the API shows it, and as commands return
// it, is assembled from the stored JSON of the parts without decoding the
// logs (attendanceJSON): byte for byte the record a version 4 command
// would have written. A record stored whole (by a version 4 command) is
// read as it is and split when a version 5 command next writes it.
const logicSmallRecords = 5

const prefixAttendanceParts = "ap/"

func keyAttendancePart(id, part string) string { return prefixAttendanceParts + id + "/" + part }

func keyAttendanceLog(id, log string, seq int) string {
	s := strconv.Itoa(seq)
	if len(s) < 6 {
		s = "000000"[len(s):] + s // zero-padded to 6 digits, one allocation
	}
	return prefixAttendanceParts + id + "/" + log + "/" + s
}

// logicTriagePart is the logic version from which the triage decision is
// stored in ap/<id>/t, apart from the current state: it changes in about
// one command of three (an answer mostly moves only the session on); and
// the timeline in the log ap/<id>/tl, which grew the state by 150 bytes
// with every status change. The state a/<id> that every command rewrites
// stays under 1 KiB.
const logicTriagePart = 15

const (
	partTriage  = "t"
	partSession = "s"
	partRouting = "r"
	logAnswers  = "an"
	logTimeline = "tl"
	logHistory  = "rh"
)

// recordParts is a/<id>'s account of the parts stored beside it.
type recordParts struct {
	Answers int  `json:"answers"` // ap/<id>/an/0..Answers-1
	History int  `json:"history"` // ap/<id>/rh/0..History-1
	Session bool `json:"session"` // ap/<id>/s
	Routing bool `json:"routing"` // ap/<id>/r
	// Triage: ap/<id>/t holds the triage record's decision (wholeTriageRest);
	// omitted when false, so records before logic version 15 are stored
	// byte for byte as they were.
	Triage bool `json:"triage,omitempty"`
	// Timeline: ap/<id>/tl/0..Timeline-1 hold the status changes, and the
	// record's own timeline only those not yet stored (logic version 15).
	Timeline int `json:"timeline,omitempty"`
}

// storedAttendance is the record under a/<id>: the attendance without its
// parts, and the count of them (nil in a record stored whole).
type storedAttendance struct {
	*Attendance
	Parts *recordParts `json:"parts,omitempty"`
}

// sessionPart is ap/<id>/s.
//
// From logic version 13 (logicCompactSession) it is stored compact: the
// ids of the questions waiting instead of the questions (their wording,
// help, choices and allowed answers: two kilobytes for the screen's desk
// form), and the outcome's path without the question each step asked
// (a third of a finished session's nine kilobytes), and without the
// hashes of its protocol and screen. All are the pinned protocol set's,
// word for word, so they come back from it when the part is read
// (expandSession); a part is stored compact only when they do
// (compactSession), so it reads back as the very session and questions a
// version 12 command stored, and the API shows them byte for byte as
// before.
type sessionPart struct {
	Session     *triage.Session   `json:"session,omitempty"`
	Questions   []triage.Question `json:"questions,omitempty"`
	QuestionIDs []string          `json:"question_ids,omitempty"`
	Compact     bool              `json:"compact,omitempty"`
}

const logicCompactSession = 13

// compactSession is the session part of s waiting for qs, compact, or
// false when the set does not give them back exactly (then the part is
// stored whole).
func compactSession(set *triage.Set, s *triage.Session, qs []triage.Question) (*sessionPart, bool) {
	if s == nil {
		return nil, false
	}
	pr, ok := set.Protocol(s.Protocol)
	if !ok || s.Hash != pr.Hash || s.ScreenHash != set.Screen.Hash || s.Hash == "" || s.ScreenHash == "" {
		return nil, false
	}
	cs := *s
	cs.Hash, cs.ScreenHash = "", "" // the pinned set's: put back when read
	out := &sessionPart{Session: &cs, Compact: true}
	if len(qs) > 0 {
		out.QuestionIDs = make([]string, len(qs))
	}
	for i := range qs {
		q, ok := set.QuestionFor(s.Protocol, qs[i].ID)
		if !ok || !q.Equal(&qs[i]) {
			return nil, false
		}
		out.QuestionIDs[i] = qs[i].ID
	}
	if o := s.Outcome; o != nil && len(o.Path) > 0 {
		path := make([]triage.PathStep, len(o.Path))
		for i, st := range o.Path {
			if st.Kind == "question" {
				text, ok := set.NodeQuestion(st.Protocol, st.Node)
				if !ok || text != st.Question {
					return nil, false
				}
				st.Question = ""
			}
			path[i] = st
		}
		co := *o
		co.Path = path
		cs.Outcome = &co
	}
	return out, true
}

// expandSession puts back what compactSession left out of sp.
func expandSession(set *triage.Set, sp *sessionPart) error {
	if !sp.Compact {
		return nil
	}
	s := sp.Session
	if s == nil {
		return errors.New("a compact session part without a session")
	}
	pr, ok := set.Protocol(s.Protocol)
	if !ok {
		return fmt.Errorf("protocol %s is not in its set", s.Protocol)
	}
	s.Hash, s.ScreenHash = pr.Hash, set.Screen.Hash
	if len(sp.QuestionIDs) > 0 {
		sp.Questions = make([]triage.Question, len(sp.QuestionIDs))
		for i, id := range sp.QuestionIDs {
			q, ok := set.QuestionFor(s.Protocol, id)
			if !ok {
				return fmt.Errorf("question %s of protocol %s is not in its set", id, s.Protocol)
			}
			sp.Questions[i] = q
		}
	}
	if o := s.Outcome; o != nil {
		for i := range o.Path {
			if st := &o.Path[i]; st.Kind == "question" {
				text, ok := set.NodeQuestion(st.Protocol, st.Node)
				if !ok {
					return fmt.Errorf("node %s/%s is not in its set", st.Protocol, st.Node)
				}
				st.Question = text
			}
		}
	}
	sp.QuestionIDs, sp.Compact = nil, false
	return nil
}

// loadedParts is what a command loaded of an attendance stored as parts,
// to tell what it changed (never stored).
type loadedParts struct {
	parts      recordParts
	session    *triage.Session
	questions  []triage.Question
	sessionRaw []byte // ap/<id>/s as stored: the session's JSON for the whole record
	routingRaw []byte
	triageRaw  []byte // ap/<id>/t as stored (nil when a/<id> holds the decision)
	// indexed is what the stored record's index keys name (storeAttendance
	// writes them with every record it stores as parts).
	indexed indexedAs
}

// indexedAs is who and what status an attendance's index keys name.
type indexedAs struct {
	status, nhs, patientID string
}

// partReader is what reading parts needs: a command's Tx or a View.
type partReader interface {
	GetRaw(key string) ([]byte, bool, error)
}

// decodeStored decodes the record under a/<id> and, for one stored as
// parts, the session and routing decision beside it: what a command needs
// to decide. The answer and routing history logs are left unread; the
// record remembers what was loaded (Attendance.loaded) so that
// putAttendance writes only what changed.
func decodeStored(r cluster.Reader, id string, raw []byte) (*Attendance, error) {
	var a Attendance
	st := storedAttendance{Attendance: &a}
	if err := cluster.DecodeRecord(raw, &st); err != nil {
		return nil, fmt.Errorf("decode attendance %s: %w", id, err)
	}
	if st.Parts == nil {
		return &a, nil
	}
	ld := &loadedParts{parts: *st.Parts, indexed: indexedAs{a.Status, a.Patient.NHSNumber, a.PatientID}}
	if st.Parts.Timeline > 0 {
		a.Timeline = []StatusChange{} // the log's new status changes only
	}
	if st.Parts.Triage {
		if a.Triage == nil {
			return nil, fmt.Errorf("attendance %s: a triage part but no triage", id)
		}
		var rest wholeTriageRest
		b, err := decodePart(r, id, partTriage, "triage", &rest)
		if err != nil {
			return nil, err
		}
		rest.into(a.Triage)
		ld.triageRaw = b
	}
	if st.Parts.Session {
		var sp sessionPart
		b, err := decodePart(r, id, partSession, "session", &sp)
		if err != nil {
			return nil, err
		}
		if a.Triage == nil {
			return nil, fmt.Errorf("attendance %s: a session part but no triage", id)
		}
		if sp.Compact {
			set, err := protocolset.ReadSet(r, a.Triage.SetKey)
			if err != nil {
				return nil, fmt.Errorf("attendance %s session: %w", id, err)
			}
			if err := expandSession(set, &sp); err != nil {
				return nil, fmt.Errorf("attendance %s session: %w", id, err)
			}
			b = nil // not the JSON the API shows: attendanceJSON encodes it
		}
		a.Triage.Session, a.Triage.Questions = sp.Session, sp.Questions
		ld.session, ld.questions, ld.sessionRaw = sp.Session, sp.Questions, b
	}
	if a.Triage != nil {
		a.Triage.Answers = []AnswerRecord{} // the log's new answers only
	}
	if st.Parts.Routing {
		var rr RoutingRecord
		b, err := decodePart(r, id, partRouting, "routing", &rr)
		if err != nil {
			return nil, err
		}
		a.Routing, ld.routingRaw = &rr, b
	}
	a.loaded = ld
	return &a, nil
}

// putRecord writes a to the store: whole under logic version 4, as parts
// from version 5 (only what changed since it was loaded). It leaves a as
// stored, so attendanceJSON(tx, a) is then the attendance's JSON as the API
// shows it (the command's Result value).
func putRecord(tx *cluster.Tx, a *Attendance) error {
	if tx.LogicVersion() < logicSmallRecords {
		if a.loaded != nil {
			// Stored as parts, written by a version 4 command (a node of an
			// older binary joined): write it whole, as that binary would.
			whole, err := attendanceJSON(tx, a)
			if err != nil {
				return err
			}
			tx.PutRaw(keyAttendance(a.ID), whole)
			return nil
		}
		_, err := tx.PutJSON(keyAttendance(a.ID), a)
		return err
	}
	ld := a.loaded
	if ld == nil {
		ld = &loadedParts{} // new, or stored whole: every part is written
	}
	parts := ld.parts
	sessionRaw := ld.sessionRaw
	var routingRaw, triageRaw []byte
	parts.Triage = false
	id := a.ID
	core := *a
	if tx.LogicVersion() >= logicTriagePart {
		for i := range a.Timeline {
			if _, err := tx.PutJSON(keyAttendanceLog(id, logTimeline, parts.Timeline), &a.Timeline[i]); err != nil {
				return fmt.Errorf("encode status change of %s: %w", id, err)
			}
			parts.Timeline++
		}
		core.Timeline = nil
	} else if parts.Timeline > 0 {
		// A version 14 command (a node of an older binary joined): the
		// timeline back in the record, whole.
		stored, err := readTimeline(tx, id, parts.Timeline)
		if err != nil {
			return err
		}
		a.Timeline = append(stored, a.Timeline...)
		core.Timeline = a.Timeline
		parts.Timeline = 0
	}
	if tr := a.Triage; tr != nil {
		for i := range tr.Answers {
			if _, err := tx.PutJSON(keyAttendanceLog(id, logAnswers, parts.Answers), &tr.Answers[i]); err != nil {
				return fmt.Errorf("encode answer of %s: %w", id, err)
			}
			parts.Answers++
		}
		if tr.Session != ld.session || !sameQuestions(tr.Questions, ld.questions) || !parts.Session {
			part := &sessionPart{Session: tr.Session, Questions: tr.Questions}
			if tx.LogicVersion() >= logicCompactSession && tr.Session != nil {
				set, err := protocolset.ReadSet(tx, tr.SetKey)
				if err != nil {
					return fmt.Errorf("session of %s: %w", id, err)
				}
				if c, ok := compactSession(set, tr.Session, tr.Questions); ok {
					part = c
				}
			}
			b, err := tx.PutJSON(keyAttendancePart(id, partSession), part)
			if err != nil {
				return err
			}
			parts.Session, sessionRaw = true, b
			if part.Compact {
				sessionRaw = nil // attendanceJSON encodes the session whole
			}
		}
		t := *tr
		t.Session, t.Questions, t.Answers = nil, nil, nil
		if tx.LogicVersion() >= logicTriagePart {
			b, err := json.Marshal(restOf(tr))
			if err != nil {
				return fmt.Errorf("encode triage of %s: %w", id, err)
			}
			// Nothing decided yet (a new attendance waiting for its
			// answers): no part, until there is something to keep.
			if len(b) > 2 || ld.triageRaw != nil {
				if !bytes.Equal(b, ld.triageRaw) {
					tx.PutRaw(keyAttendancePart(id, partTriage), b)
				}
				parts.Triage, triageRaw = true, b
				t = TriageRecord{SetKey: tr.SetKey}
			}
		}
		core.Triage = &t
	}
	if rr := a.Routing; rr != nil {
		for _, h := range rr.History {
			if _, err := tx.PutJSON(keyAttendanceLog(id, logHistory, parts.History), &h); err != nil {
				return err
			}
			parts.History++
		}
		cur := *rr
		cur.History = nil
		b, err := json.Marshal(&cur)
		if err != nil {
			return fmt.Errorf("encode routing of %s: %w", id, err)
		}
		if !bytes.Equal(b, ld.routingRaw) {
			tx.PutRaw(keyAttendancePart(id, partRouting), b)
		}
		parts.Routing = true
		core.Routing = nil
		routingRaw = b // what ap/<id>/r holds now, written or not
	}
	core.loaded = nil
	if _, err := tx.PutJSON(keyAttendance(id), &storedAttendance{Attendance: &core, Parts: &parts}); err != nil {
		return err
	}
	// What is stored now is the new baseline (a command may write twice).
	ld2 := &loadedParts{parts: parts, sessionRaw: sessionRaw, triageRaw: triageRaw}
	if parts.Timeline > 0 {
		a.Timeline = []StatusChange{}
	}
	if tr := a.Triage; tr != nil {
		ld2.session, ld2.questions = tr.Session, tr.Questions
		tr.Answers = []AnswerRecord{}
	}
	if rr := a.Routing; rr != nil {
		rr.History = nil
		ld2.routingRaw = routingRaw
	}
	a.loaded = ld2
	return nil
}

// decodePart reads part of attendance id (named what in errors) into v and
// returns its stored bytes.
func decodePart(r cluster.Reader, id, part, what string, v any) ([]byte, error) {
	b, found, err := r.GetRaw(keyAttendancePart(id, part))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("attendance %s: %s part missing", id, what)
	}
	if err := cluster.DecodeRecord(b, v); err != nil {
		return nil, fmt.Errorf("decode attendance %s %s: %w", id, what, err)
	}
	return b, nil
}

// readTimeline decodes the n status changes of attendance id's timeline log.
func readTimeline(r partReader, id string, n int) ([]StatusChange, error) {
	out := make([]StatusChange, 0, n)
	var decodeErr error
	err := readLog(r, id, logTimeline, n, func(_ int, b []byte) {
		var c StatusChange
		if err := cluster.DecodeRecord(b, &c); err != nil && decodeErr == nil {
			decodeErr = err
		}
		out = append(out, c)
	})
	if err = errors.Join(err, decodeErr); err != nil {
		return nil, fmt.Errorf("attendance %s timeline: %w", id, err)
	}
	return out, nil
}

// sameQuestions reports whether q is the very slice the command loaded
// (the engine replaces the questions, it never edits them in place).
func sameQuestions(q, loaded []triage.Question) bool {
	if len(q) != len(loaded) {
		return false
	}
	return len(q) == 0 || &q[0] == &loaded[0]
}

// attendanceJSON is the attendance as the API shows it: a, which a
// command loaded (or wrote) as parts, with its answer and routing history
// logs put back from their stored JSON. a itself must be the state as
// stored (putRecord leaves it so).
func attendanceJSON(r partReader, a *Attendance) (json.RawMessage, error) {
	ld := a.loaded
	if ld == nil {
		return json.Marshal(a)
	}
	// The object is written field by field in Attendance's order: the
	// fields before triage and after routing encoded as usual, the stored
	// JSON of the parts and logs copied in as it is (encoding/json would
	// check and compact every byte of it again). The pieces are collected
	// first and joined in one allocation of the final size: the record of
	// a long walk-in is many kilobytes, and growing it as it is written
	// cost a copy of it per doubling.
	var j jsonPieces
	head, err := json.Marshal(&wholeAttendanceHead{ID: a.ID, ArrivedAt: a.ArrivedAt, Status: a.Status, Channel: a.Channel,
		Patient: a.Patient, Complaint: a.Complaint, CreatedBy: a.CreatedBy, CreatedIndex: a.CreatedIndex,
		UpdatedIndex: a.UpdatedIndex})
	if err != nil {
		return nil, fmt.Errorf("encode attendance %s: %w", a.ID, err)
	}
	j.add(head[:len(head)-1]) // always has fields: id is never omitted
	j.addString(`,"timeline":`)
	if ld.parts.Timeline > 0 {
		if err := j.addLog(r, a.ID, logTimeline, ld.parts.Timeline, len(a.Timeline), func(i int) any { return &a.Timeline[i] }); err != nil {
			return nil, err
		}
	} else {
		tl, err := json.Marshal(a.Timeline)
		if err != nil {
			return nil, fmt.Errorf("encode attendance %s: %w", a.ID, err)
		}
		j.add(tl)
	}
	if err := j.addFields(&wholeAttendanceMiddle{PatientID: a.PatientID, RegistrationID: a.RegistrationID,
		CaseRef: a.CaseRef, Context: a.Context}); err != nil {
		return nil, fmt.Errorf("encode attendance %s: %w", a.ID, err)
	}
	if tr := a.Triage; tr != nil {
		j.addString(`,"triage":{"set_key":`)
		setKey, err := json.Marshal(tr.SetKey)
		if err != nil {
			return nil, err
		}
		j.add(setKey)
		// The session as stored (the command's own write, or as loaded:
		// putRecord leaves a as stored): its fields are the record's
		// "session" and "questions", in that order.
		raw := ld.sessionRaw
		if len(raw) == 0 && ld.parts.Session {
			// Stored compact: the session and questions as a whole part
			// holds them (its JSON is what the API has always shown).
			if raw, err = json.Marshal(&sessionPart{Session: tr.Session, Questions: tr.Questions}); err != nil {
				return nil, fmt.Errorf("encode session of %s: %w", a.ID, err)
			}
		}
		if len(raw) > 2 {
			j.addString(",")
			j.add(raw[1 : len(raw)-1])
		}
		j.addString(`,"answers":`)
		if err := j.addLog(r, a.ID, logAnswers, ld.parts.Answers, len(tr.Answers), func(i int) any { return &tr.Answers[i] }); err != nil {
			return nil, err
		}
		if raw := ld.triageRaw; len(raw) > 0 {
			// ap/<id>/t as stored: wholeTriageRest's JSON.
			if len(raw) > 2 {
				j.addString(",")
				j.add(raw[1 : len(raw)-1])
			}
		} else if err := j.addFields(restOf(tr)); err != nil {
			return nil, fmt.Errorf("encode attendance %s: %w", a.ID, err)
		}
		j.addString("}")
	}
	if rr := a.Routing; rr != nil {
		// The routing decision as stored: RoutingRecord without its
		// history, which is its last field.
		cur := ld.routingRaw
		if len(cur) < 2 || len(rr.History) > 0 {
			c := *rr
			c.History = nil
			if cur, err = json.Marshal(&c); err != nil {
				return nil, fmt.Errorf("encode routing of %s: %w", a.ID, err)
			}
		}
		j.addString(`,"routing":`)
		j.add(cur[:len(cur)-1])
		if ld.parts.History+len(rr.History) > 0 {
			j.addString(`,"history":`)
			if err := j.addLog(r, a.ID, logHistory, ld.parts.History, len(rr.History), func(i int) any { return &rr.History[i] }); err != nil {
				return nil, err
			}
		}
		j.addString("}")
	}
	if err := j.addFields(&wholeAttendanceTail{Overrides: a.Overrides, Confirmations: a.Confirmations,
		Dispatch: a.Dispatch, CheckInStatus: a.CheckInStatus, CheckedInAt: a.CheckedInAt, ClinicianDue: a.ClinicianDue,
		ClinicianLapsed: a.ClinicianLapsed, AskingFor: a.AskingFor}); err != nil {
		return nil, fmt.Errorf("encode attendance %s: %w", a.ID, err)
	}
	j.addString("}")
	return j.join(), nil
}

// jsonPieces is a JSON document as the pieces it is made of, joined in one
// allocation of the final size (join).
type jsonPieces struct {
	pieces []jsonPiece
	n      int
}

// jsonPiece is bytes or, for the literal punctuation and keys between
// them, a string (no conversion, no allocation).
type jsonPiece struct {
	b []byte
	s string
}

func (j *jsonPieces) add(b []byte) {
	j.pieces = append(j.pieces, jsonPiece{b: b})
	j.n += len(b)
}

func (j *jsonPieces) addString(s string) {
	j.pieces = append(j.pieces, jsonPiece{s: s})
	j.n += len(s)
}

func (j *jsonPieces) join() []byte {
	out := make([]byte, 0, j.n)
	for _, p := range j.pieces {
		if p.b != nil {
			out = append(out, p.b...)
		} else {
			out = append(out, p.s...)
		}
	}
	return out
}

// addFields adds the fields of v's JSON object, each after a comma
// (nothing when every field is omitted).
func (j *jsonPieces) addFields(v any) error {
	enc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(enc) > 2 {
		j.addString(",")
		j.add(enc[1 : len(enc)-1])
	}
	return nil
}

// addLog adds a log's JSON array: the stored entries 0..stored-1 as they
// are, then the fresh ones (item(i), i < fresh) encoded.
func (j *jsonPieces) addLog(r partReader, id, log string, stored, fresh int, item func(i int) any) error {
	j.addString("[")
	if err := readLog(r, id, log, stored, func(i int, b []byte) {
		if i > 0 {
			j.addString(",")
		}
		j.add(b)
	}); err != nil {
		return err
	}
	for i := range fresh {
		b, err := json.Marshal(item(i))
		if err != nil {
			return fmt.Errorf("encode %s of %s: %w", log, id, err)
		}
		if stored+i > 0 {
			j.addString(",")
		}
		j.add(b)
	}
	j.addString("]")
	return nil
}

// readLog hands fn the stored entries 0..n-1 of an attendance's log in
// order. A Tx or a View reads them in one pass (a Tx with what its command
// has just appended); one point read per entry cost a lookup through
// every memtable and table for each of the dozens of answers a walk-in
// gives, on every answer.
func readLog(r partReader, id, log string, n int, fn func(i int, b []byte)) error {
	if n == 0 {
		return nil
	}
	var scan func(prefix, from string, fn func(key string, val []byte) error) error
	switch x := r.(type) {
	case *cluster.Tx:
		scan = x.ScanOwn
	case *cluster.View:
		scan = x.Scan
	default:
		for i := range n {
			b, found, err := r.GetRaw(keyAttendanceLog(id, log, i))
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("attendance %s: %s entry %d missing", id, log, i)
			}
			fn(i, b)
		}
		return nil
	}
	i := 0
	err := scan(prefixAttendanceParts+id+"/"+log+"/", "", func(key string, val []byte) error {
		if key != keyAttendanceLog(id, log, i) {
			return fmt.Errorf("attendance %s: %s entry %d missing (found %s)", id, log, i, key)
		}
		fn(i, val)
		i++
		if i == n {
			return cluster.ErrStop
		}
		return nil
	})
	if err == nil && i < n {
		err = fmt.Errorf("attendance %s: %s entry %d missing", id, log, i)
	}
	return err
}

// The attendance's JSON is assembled (attendanceJSON) from these and the
// stored JSON of its parts, in the order of Attendance's fields: the
// fields before Triage (wholeAttendanceHead), the triage record (its
// set_key, the session part's fields, the answers log, then
// wholeTriageRest), the routing part with its history log, and the fields
// after Routing (wholeAttendanceTail). TestWholeRecordMirrorsAttendance
// checks that they mirror Attendance, TriageRecord and RoutingRecord field
// for field (names, tags, order).
type (
	wholeAttendanceHead struct {
		ID           string        `json:"id"`
		ArrivedAt    time.Time     `json:"arrived_at"`
		Status       string        `json:"status"`
		Channel      string        `json:"channel"`
		Patient      Patient       `json:"patient"`
		Complaint    string        `json:"complaint"`
		CreatedBy    cluster.Actor `json:"created_by"`
		CreatedIndex uint64        `json:"created_index"`
		UpdatedIndex uint64        `json:"updated_index"`
	}
	// then "timeline", from the log or the record
	wholeAttendanceMiddle struct {
		PatientID      string         `json:"patient_id,omitempty"`
		RegistrationID string         `json:"registration_id,omitempty"`
		CaseRef        string         `json:"case_ref,omitempty"`
		Context        *TriageContext `json:"context,omitempty"`
	}
	wholeAttendanceTail struct {
		Overrides       []Override       `json:"overrides,omitempty"`
		Confirmations   []Confirmation   `json:"confirmations,omitempty"`
		Dispatch        *DispatchDetails `json:"dispatch,omitempty"`
		CheckInStatus   string           `json:"check_in_status,omitempty"`
		CheckedInAt     *time.Time       `json:"checked_in_at,omitempty"`
		ClinicianDue    *time.Time       `json:"clinician_due,omitempty"`
		ClinicianLapsed bool             `json:"clinician_lapsed,omitempty"`
		AskingFor       []string         `json:"asking_for,omitempty"`
	}
	wholeTriageRest struct {
		Observations          []ObservationRecord `json:"observations,omitempty"`
		Dx                    *DxReferral         `json:"dx,omitempty"`
		DxInfo                *triage.DxInfo      `json:"dx_info,omitempty"`
		NEWS2                 *triage.NEWS2Result `json:"news2,omitempty"`
		Disposition           *Disposition        `json:"disposition,omitempty"`
		Review                string              `json:"review,omitempty"`
		Interim               *triage.Interim     `json:"interim,omitempty"`
		SettledClinicianFirst *ClinicianFirst     `json:"settled_clinician_first,omitempty"`
		ClinicianNow          bool                `json:"clinician_now,omitempty"`
		FloorWaived           bool                `json:"floor_waived,omitempty"`
	}
)

// restOf is tr's decision: what ap/<id>/t holds from logic version 15, and
// what follows the answers in the attendance's JSON.
func restOf(tr *TriageRecord) *wholeTriageRest {
	return &wholeTriageRest{Observations: tr.Observations, Dx: tr.Dx, DxInfo: tr.DxInfo,
		NEWS2: tr.NEWS2, Disposition: tr.Disposition, Review: tr.Review, Interim: tr.Interim,
		SettledClinicianFirst: tr.SettledClinicianFirst, ClinicianNow: tr.ClinicianNow, FloorWaived: tr.FloorWaived}
}

// into puts the decision r back into tr.
func (r *wholeTriageRest) into(tr *TriageRecord) {
	tr.Observations, tr.Dx, tr.DxInfo, tr.NEWS2 = r.Observations, r.Dx, r.DxInfo, r.NEWS2
	tr.Disposition, tr.Review, tr.Interim = r.Disposition, r.Review, r.Interim
	tr.SettledClinicianFirst, tr.ClinicianNow, tr.FloorWaived = r.SettledClinicianFirst, r.ClinicianNow, r.FloorWaived
}
