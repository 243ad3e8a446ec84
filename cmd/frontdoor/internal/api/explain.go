package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// explainRoutes are the route table's rows of the explanation of an attendance (routes.go).
func explainRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/attendances/:id/explain", Roles: rolesDesk, Summary: "The whole story: protocol version and hash, answers with who and when, scores, deciding rule, services rejected and why, overrides, confirmations", Query: []string{consistencyQuery}, Handler: (*server).explainAttendance},
	}
}

// explainBody is GET /v1/attendances/{id}/explain: the whole story of one
// attendance, for the clinician and the audit.
type explainBody struct {
	AttendanceID  string                   `json:"attendance_id"`
	Status        string                   `json:"status"`
	Channel       string                   `json:"channel"`
	ArrivedAt     time.Time                `json:"arrived_at"`
	Complaint     string                   `json:"complaint"`
	Protocol      *explainProtocol         `json:"protocol,omitempty"`
	Answers       []care.AnswerRecord      `json:"answers"`
	Observations  []care.ObservationRecord `json:"observations"`
	Dx            *explainDx               `json:"dx,omitempty"`
	Scores        explainScores            `json:"scores"`
	Decision      *explainDecision         `json:"decision,omitempty"`
	Routing       *explainRouting          `json:"routing,omitempty"`
	Overrides     []care.Override          `json:"overrides"`
	Confirmations []care.Confirmation      `json:"confirmations"`
	Timeline      []care.StatusChange      `json:"timeline"`
	Audit         []*cluster.AuditEvent    `json:"audit"`
	Review        string                   `json:"review,omitempty"`
	// Interim: what the session demanded while questions remained.
	Interim *triage.Interim `json:"interim,omitempty"`
	// Clinician first: the clock of an attendance awaiting the clinician,
	// whether it lapsed, and the floor a clinician's confirm settled.
	ClinicianDue          *time.Time           `json:"clinician_due,omitempty"`
	ClinicianLapsed       bool                 `json:"clinician_lapsed,omitempty"`
	SettledClinicianFirst *care.ClinicianFirst `json:"settled_clinician_first,omitempty"`
	// AskingFor: what the attendance waits for (awaiting_address).
	AskingFor []string `json:"asking_for,omitempty"`
}

type explainProtocol struct {
	ID            string `json:"id"`
	Version       int    `json:"version"`
	Hash          string `json:"hash"`
	ScreenVersion int    `json:"screen_version"`
	ScreenHash    string `json:"screen_hash"`
	SetKey        string `json:"set_key"`
}

type explainDx struct {
	Referral *care.DxReferral `json:"referral"`
	Mapped   *triage.DxInfo   `json:"mapped,omitempty"` // nil: not mapped, a clinician reviews
}

type explainScores struct {
	NEWS2  *triage.NEWS2Result  `json:"news2,omitempty"`
	NG143  *triage.NG143Result  `json:"ng143,omitempty"`
	Checks []triage.CheckResult `json:"checks,omitempty"`
}

type explainDecision struct {
	Disposition  *care.Disposition `json:"disposition"`
	DecidedBy    string            `json:"decided_by"` // the deciding rule
	TreeOutcome  string            `json:"tree_outcome,omitempty"`
	TreeProtocol string            `json:"tree_protocol,omitempty"`
	Outcome      string            `json:"outcome,omitempty"`
	Path         []triage.PathStep `json:"path,omitempty"`
	// Findings: what was found or not ruled out on the way.
	Findings []string `json:"findings,omitempty"`
	// ClinicianFirst: the session's unresolved uncertainty, with what
	// follows it (then).
	ClinicianFirst *triage.ClinicianFirst `json:"clinician_first,omitempty"`
}

type explainRouting struct {
	Need       routing.Need        `json:"need"`
	Patient    routing.Patient     `json:"patient"`
	At         time.Time           `json:"at"`
	Chosen     explainChosen       `json:"chosen"`
	Considered routing.Rejections  `json:"considered"` // every other service and why it was not chosen
	Gap        *routing.ServiceGap `json:"gap,omitempty"`
	History    []care.RouteChange  `json:"history,omitempty"`
	Override   bool                `json:"override,omitempty"`
}

type explainChosen struct {
	ServiceID   string             `json:"service_id"`
	ServiceName string             `json:"service_name"`
	Tier        routing.Tier       `json:"tier"`
	SeeFrom     time.Time          `json:"see_from"`
	DistanceM   int                `json:"distance_m"`
	Fallback    bool               `json:"fallback,omitempty"`
	Allocation  routing.Allocation `json:"allocation"`

	// FallbackReason says why the ED was the safe default (logic version 4).
	FallbackReason string `json:"fallback_reason,omitempty"`
}

func (s *server) explainAttendance(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var out explainBody
	var patientID string
	handled, err := s.read(c, func(v *cluster.View) error {
		a, err := care.In(v).Attendance(id)
		if err != nil {
			return err
		}
		out = explainOf(a)
		patientID = a.PatientID
		evs, err := v.Audit("attendance/" + id)
		// The story of the care, not of who looked at it: reads of the
		// record (record.read) are in GET /v1/audit, not here, or each
		// explanation would lengthen the next.
		out.Audit = make([]*cluster.AuditEvent, 0, len(evs))
		for _, ev := range evs {
			if ev.Kind != care.KindRecordRead {
				out.Audit = append(out.Audit, ev)
			}
		}
		return err
	})
	if handled || err != nil {
		return err
	}
	s.reads.noteAttendance(c, id, patientID)
	return c.JSON(out)
}

func explainOf(a *care.Attendance) explainBody {
	out := explainBody{AttendanceID: a.ID, Status: a.Status, Channel: a.Channel, ArrivedAt: a.ArrivedAt, Complaint: a.Complaint,
		Answers: []care.AnswerRecord{}, Observations: []care.ObservationRecord{}, Overrides: a.Overrides,
		Confirmations: a.Confirmations, Timeline: a.Timeline, ClinicianDue: a.ClinicianDue, ClinicianLapsed: a.ClinicianLapsed,
		AskingFor: a.AskingFor}
	if out.Overrides == nil {
		out.Overrides = []care.Override{}
	}
	if out.Confirmations == nil {
		out.Confirmations = []care.Confirmation{}
	}
	if tr := a.Triage; tr != nil {
		out.Review, out.Interim, out.SettledClinicianFirst = tr.Review, tr.Interim, tr.SettledClinicianFirst
		if tr.Answers != nil {
			out.Answers = tr.Answers
		}
		if tr.Observations != nil {
			out.Observations = tr.Observations
		}
		if tr.Dx != nil {
			out.Dx = &explainDx{Referral: tr.Dx, Mapped: tr.DxInfo}
		}
		out.Scores.NEWS2 = tr.NEWS2
		if ss := tr.Session; ss != nil {
			out.Protocol = &explainProtocol{ID: ss.Protocol, Version: ss.Version, Hash: ss.Hash, ScreenVersion: ss.ScreenVersion,
				ScreenHash: ss.ScreenHash, SetKey: tr.SetKey}
		}
		if tr.Disposition != nil {
			d := &explainDecision{Disposition: tr.Disposition, DecidedBy: tr.Disposition.DecidedBy}
			if ss := tr.Session; ss != nil && ss.Outcome != nil {
				o := ss.Outcome
				d.TreeOutcome, d.TreeProtocol, d.Outcome, d.Path = o.TreeOutcome, o.TreeProtocol, o.Outcome, o.Path
				d.Findings, d.ClinicianFirst = o.Findings, o.ClinicianFirst
				out.Scores.NEWS2, out.Scores.NG143, out.Scores.Checks = o.NEWS2, o.NG143, o.Checks
			}
			out.Decision = d
		}
	}
	if r := a.Routing; r != nil {
		dec := r.Decision
		out.Routing = &explainRouting{Need: r.Need, Patient: r.Patient, At: r.At, Considered: dec.Rejections, Gap: dec.Gap,
			History: r.History, Override: r.Override,
			Chosen: explainChosen{ServiceID: dec.ServiceID, ServiceName: dec.ServiceName, Tier: dec.Tier, SeeFrom: dec.SeeFrom,
				DistanceM: dec.DistanceM, Fallback: dec.Fallback, FallbackReason: dec.FallbackReason, Allocation: dec.Allocation}}
		if out.Routing.Considered.Len() == 0 {
			out.Routing.Considered = routing.Rejected([]routing.Rejection{})
		}
	}
	return out
}
