package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// createWorkload is --workload create: every iteration records one
// synthetic walk-in arrival with POST /v1/attendances.
type createWorkload struct {
	bytes int
}

func newCreateWorkload(seed uint64) Workload {
	// The typical body size, from a sample of what the workers will send.
	s := newSynth(seed, 1<<32)
	total := 0
	const n = 200
	for range n {
		b, _ := json.Marshal(s.attendance(time.Now()))
		total += len(b)
	}
	return &createWorkload{bytes: total / n}
}

func (w *createWorkload) CommandBytes() int  { return w.bytes }
func (*createWorkload) AllocatesSlots() bool { return false }
func (*createWorkload) Dispatches() bool     { return false }

// opCreate is the operation name in the report.
const opCreate = "attendance.create"

func (w *createWorkload) Step(ctx context.Context, s *Session, n uint64) error {
	_, err := createAttendance(ctx, s, s.synth.attendance(time.Now()), s.Key(n, "create"))
	return err
}

// createAttendance posts one attendance and records it in the ledger when
// acknowledged. Other workloads start their journeys with it.
func createAttendance(ctx context.Context, s *Session, req attendanceRequest, key string) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	resp, err := s.Write(ctx, opCreate, http.MethodPost, "/v1/attendances", body, key)
	if err != nil {
		return "", err
	}
	var got struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil || got.ID == "" {
		return "", fmt.Errorf("%s: acknowledged with an unreadable body: %s", opCreate, trim(resp.Body, 200))
	}
	expect, err := NewExpect(expectAttendance(got.ID, req))
	if err != nil {
		return "", fmt.Errorf("%s: %w", opCreate, err)
	}
	s.ledger.Add(AckedWrite{Op: opCreate, Key: key, Path: "/v1/attendances/" + got.ID, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	return got.ID, nil
}

// expectAttendance is what reading the attendance back must show: its id,
// the complaint and channel, and the patient as sent (the NHS number as
// the ten digits the cluster stores).
func expectAttendance(id string, req attendanceRequest) map[string]any {
	p := map[string]any{}
	for k, v := range map[string]string{
		"given_name": req.Patient.GivenName, "family_name": req.Patient.FamilyName,
		"date_of_birth": req.Patient.DateOfBirth, "postcode": req.Patient.Postcode,
		"nhs_number": strings.ReplaceAll(req.Patient.NHSNumber, " ", ""),
	} {
		if v != "" {
			p[k] = v
		}
	}
	e := map[string]any{"id": id, "complaint": req.Complaint, "patient": p}
	if req.Channel != "" {
		e["channel"] = req.Channel
	}
	return e
}
