package api

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// Retention (care/retention.go): an admin reviews what is past the NHS
// Records Management Code's periods, the information governance lead
// approves, and the admin purges it, naming who approved. The node's
// --retention-extra-years (Config.RetentionExtraYears) is the centre's
// setting; the review shows it and the purge carries it.

// retentionRoutes are the route table's rows of retention (routes.go).
func retentionRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/retention", Roles: rolesAdmin, Summary: "Attendances and patients past their retention period (NHS Records Management Code of Practice), by id and period, as of ?as_of (default now)", Query: []string{"as_of", consistencyQuery}, Handler: (*server).retentionReview},
		{Method: "POST", Path: "/v1/retention/purge", Roles: rolesAdmin, Summary: "Purge what is due (as of the approved review's as_of), naming who approved; up to limit attendances a call, the rest reported as remaining", Body: retentionPurgeBody{}, Kinds: []cluster.Kind{care.KindRetentionPurge}, Handler: (*server).retentionPurge},
	}
}

// retentionPurgeBody is the POST body: who approved, the review approved
// (its as_of), and how many attendances this call purges at most.
type retentionPurgeBody struct {
	ApprovedBy string     `json:"approved_by"`
	AsOf       *time.Time `json:"as_of,omitempty"`
	Limit      int        `json:"limit,omitempty"`
}

// retentionReview answers GET /v1/retention.
func (s *server) retentionReview(c *fiber.Ctx) error {
	asOf := time.Now().UTC()
	if q := c.Query("as_of"); q != "" {
		t, err := time.Parse(time.RFC3339, q)
		if err != nil {
			return invalid("as_of is not a time", map[string]string{"as_of": "must be an RFC 3339 time, e.g. 2034-01-31T00:00:00Z"})
		}
		asOf = t.UTC()
	}
	var rv *care.RetentionReview
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		rv, err = care.In(v).RetentionReview(asOf, s.retentionExtra)
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(rv)
}

// retentionPurge answers POST /v1/retention/purge.
func (s *server) retentionPurge(c *fiber.Ctx) error {
	var in retentionPurgeBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.RetentionPurge{ApprovedBy: in.ApprovedBy, AsOf: in.AsOf, ExtraYears: s.retentionExtra, Limit: in.Limit}
	if f := cmd.Validate(); f != nil {
		return invalid("the purge is not valid", f)
	}
	res, handled, err := s.proposeJSON(c, care.KindRetentionPurge, "POST /v1/retention/purge", &cmd)
	var p *Problem
	if errors.As(err, &p) && p.Status == fiber.StatusConflict && p.Errors[care.NothingDueField] != "" {
		// Nothing was due: the leader's check refused it, nothing was
		// proposed. A purge repeated is a no-op, not a failure.
		asOf, _ := time.Parse(time.RFC3339Nano, p.Errors[care.NothingDueField])
		return c.JSON(&care.RetentionPurged{AsOf: asOf, ApprovedBy: cmd.ApprovedBy, ExtraYears: cmd.ExtraYears,
			ByPeriod: map[string]int{}, AttendanceIDs: []string{}, PatientIDs: []string{}})
	}
	if handled || err != nil {
		return err
	}
	var out care.RetentionPurged
	if err := json.Unmarshal(res.Value, &out); err != nil {
		return err
	}
	s.retention.count(&out)
	return c.JSON(&out)
}

// retentionMetrics counts what purges answered by this node deleted (a
// purge is counted once, by the node that answered it: sum over nodes).
type retentionMetrics struct {
	purged *prometheus.CounterVec
}

func newRetentionMetrics(reg prometheus.Registerer) *retentionMetrics {
	if reg == nil {
		return nil
	}
	return &retentionMetrics{purged: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "frontdoor_retention_purged_total",
		Help: "Records purged past their retention period by purges this node answered: attendances by period (adult, child, child_17, age_estimated, age_unknown), and patients.",
	}, []string{"record", "period"})}
}

func (m *retentionMetrics) count(p *care.RetentionPurged) {
	if m == nil {
		return
	}
	for period, n := range p.ByPeriod {
		m.purged.WithLabelValues("attendance", period).Add(float64(n))
	}
	if p.Patients > 0 {
		m.purged.WithLabelValues("patient", "").Add(float64(p.Patients))
	}
}
