package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

func TestSingleNodeCreateAndRead(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	a, res, err := clustertest.CreateAttendance(ctx, nd, "sore throat", nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if a.Status != cluster.AttendanceArrived || a.Channel != cluster.ChannelWalkIn || a.CreatedIndex != res.Index {
		t.Fatalf("attendance = %+v, result index %d", a, res.Index)
	}
	err = nd.Store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		got, err := v.Attendance(a.ID)
		if err != nil {
			return err
		}
		if got.Complaint != "sore throat" || !got.ArrivedAt.Equal(a.ArrivedAt) {
			t.Errorf("read back %+v", got)
		}
		list, err := v.Attendances(cluster.AttendanceQuery{Status: cluster.AttendanceArrived})
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].ID != a.ID {
			t.Errorf("list = %v", list)
		}
		audit, err := v.Audit("attendance/" + a.ID)
		if err != nil {
			return err
		}
		if len(audit) != 1 || audit[0].Action != "attendance.create" || audit[0].Index != res.Index || audit[0].Actor.ID != "test" {
			t.Errorf("audit = %+v", audit)
		}
		_, err = v.Attendance("nope")
		if !errors.Is(err, cluster.ErrNotFound) {
			t.Errorf("missing attendance: err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
