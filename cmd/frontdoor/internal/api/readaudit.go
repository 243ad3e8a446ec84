package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// Reads of a patient's record are audited (care/readaudit.go) without
// slowing the read: the handler queues who read what (never blocking: a
// full queue drops the note, counts it in
// frontdoor_read_audit_dropped_total and logs it), and a worker proposes
// the queue every readAuditFlush, in batches of up to
// care.MaxReadsPerBatch one after another while full batches wait: as a
// system command on the leader, or, on a follower,
// through the leader's POST /v1/cluster/read-audit (members only). A batch
// the leader cannot take is tried again for readAuditRetries flushes, then
// dropped and counted.
//
// Why asynchronous: a synchronous audit write would put a raft commit in
// every record read (slower reads under load), and would make the stale
// reads a node serves without quorum impossible; the price is that a read
// in the last readAuditFlush before a node dies, or beyond the bounded
// queue, is not recorded, and both are counted and logged.

const (
	readAuditQueue   = 8192
	readAuditFlush   = 200 * time.Millisecond
	readAuditRetries = 150 // flushes (about 30 s: an election or two) before a batch is dropped
	readAuditPath    = "/v1/cluster/read-audit"
)

// readAuditor queues this node's record reads and proposes them.
type readAuditor struct {
	s        *server
	ch       chan care.RecordRead
	dropped  prometheus.Counter
	recorded prometheus.Counter
	lastLog  atomic.Int64 // unix nanos of the last drop log line
	total    atomic.Int64 // reads dropped since start, for the log line
}

func newReadAuditor(s *server, reg prometheus.Registerer) *readAuditor {
	a := &readAuditor{s: s, ch: make(chan care.RecordRead, readAuditQueue)}
	opts := func(name, help string) prometheus.CounterOpts { return prometheus.CounterOpts{Name: name, Help: help} }
	dropped := opts("frontdoor_read_audit_dropped_total", "Record reads not audited: the queue was full or the leader could not take them.")
	recorded := opts("frontdoor_read_audit_recorded_total", "Record reads this node had audited in the replicated trail.")
	if reg != nil {
		a.dropped, a.recorded = promauto.With(reg).NewCounter(dropped), promauto.With(reg).NewCounter(recorded)
	} else {
		a.dropped, a.recorded = prometheus.NewCounter(dropped), prometheus.NewCounter(recorded)
	}
	return a
}

// note queues one read of entity by the request's key; it never blocks.
func (a *readAuditor) note(c *fiber.Ctx, entity string) {
	rd := care.RecordRead{Actor: actorFor(c), Entity: entity, At: time.Now().UTC()}
	if row := routeOf(c); row != nil {
		rd.Route = rowKey(row.Method, row.Path)
	}
	select {
	case a.ch <- rd:
	default:
		a.drop(1, "the read audit queue is full")
	}
}

// noteAttendance queues a read of an attendance, and of its patient's
// record when it is linked to one.
func (a *readAuditor) noteAttendance(c *fiber.Ctx, attendanceID, patientID string) {
	a.note(c, "attendance/"+attendanceID)
	if patientID != "" {
		a.note(c, "patient/"+patientID)
	}
}

// drop counts n unaudited reads and logs it, at most once a second.
func (a *readAuditor) drop(n int, why string) {
	a.dropped.Add(float64(n))
	total := a.total.Add(int64(n))
	now := time.Now().UnixNano()
	if last := a.lastLog.Load(); now-last > int64(time.Second) && a.lastLog.CompareAndSwap(last, now) {
		a.s.log.Warn("record reads not audited", "reads", n, "why", why, "dropped_since_start", total)
	}
}

// run proposes the queued reads until ctx ends.
func (a *readAuditor) run(ctx context.Context) {
	t := time.NewTicker(readAuditFlush)
	defer t.Stop()
	var p pendingReads
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.flush(ctx, &p, a.propose)
	}
}

// pendingReads is the batch being proposed and how many flushes have
// failed to propose it.
type pendingReads struct {
	batch []care.RecordRead
	tries int
}

// flush proposes the queue in batches of up to care.MaxReadsPerBatch
// while full batches wait, so a burst of reads (a clinic's morning list,
// a read-back after an outage) drains at the speed of commits instead of
// one batch a flush. It stops when the queue is drained or a proposal
// fails; a failed batch is kept for the next flush, and dropped after
// readAuditRetries of them.
func (a *readAuditor) flush(ctx context.Context, p *pendingReads, propose func(context.Context, []care.RecordRead) error) {
	for {
		for len(p.batch) < care.MaxReadsPerBatch {
			select {
			case rd := <-a.ch:
				p.batch = append(p.batch, rd)
				continue
			default:
			}
			break
		}
		if len(p.batch) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := propose(cctx, p.batch)
		cancel()
		if err != nil {
			if p.tries++; p.tries >= readAuditRetries {
				a.drop(len(p.batch), "the leader did not take them: "+err.Error())
				p.batch, p.tries = p.batch[:0], 0
			}
			return
		}
		a.recorded.Add(float64(len(p.batch)))
		full := len(p.batch) == care.MaxReadsPerBatch
		p.batch, p.tries = p.batch[:0], 0
		if !full || ctx.Err() != nil {
			return
		}
	}
}

// propose has the batch applied: here on the leader, else through it.
func (a *readAuditor) propose(ctx context.Context, reads []care.RecordRead) error {
	in := care.RecordReads{Node: a.s.selfID, Reads: reads}
	if a.s.store.IsLeader() {
		return a.s.proposeReads(ctx, &in)
	}
	li, ok := a.s.store.Leader()
	if !ok || li.HTTPAddr == "" {
		return cluster.ErrNoLeader
	}
	body, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+li.HTTPAddr+readAuditPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	resp, err := a.s.peers.Do(req)
	if err != nil {
		return fmt.Errorf("read audit to %s: %w", li.ID, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read audit to %s: %s", li.ID, resp.Status)
	}
	return nil
}

// proposeReads proposes one record.read command on this node (the leader).
func (s *server) proposeReads(ctx context.Context, in *care.RecordReads) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	res, err := s.store.Propose(ctx, cluster.Proposal{Kind: care.KindRecordRead, Actor: cluster.SystemActor, Payload: b})
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	return nil
}

// readAuditRoutes is the route table's row of the node-to-node read audit
// (routes.go).
func readAuditRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: readAuditPath, Access: accessOpen,
			Summary: "Node to node (members only): a follower's batch of record reads, audited by the leader",
			Body:    care.RecordReads{}, Handler: (*server).acceptReads},
	}
}

// acceptReads: POST /v1/cluster/read-audit on the leader. Only a member
// may send it (over the raft port's mutual TLS when the cluster has it):
// anyone else could write "X viewed Y" into the trail.
func (s *server) acceptReads(c *fiber.Ctx) error {
	if s.peerOnly && !fromPeer(c) {
		return forbidden("read audits come from members only, over the raft port's mutual TLS")
	}
	var in care.RecordReads
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	if f := in.Validate(); f != nil {
		return invalid("the reads are not valid", f)
	}
	if !s.store.IsLeader() {
		return notAccepted(notLeaderDetail)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	if err := s.proposeReads(ctx, &in); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"reads": len(in.Reads)})
}
