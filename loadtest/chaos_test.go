package loadtest

import (
	"strings"
	"testing"
	"time"
)

// TestChaosTiming: a failover is timed from the kill to the first
// acknowledgement of an attempt sent after the kill; acknowledgements of
// attempts sent before it (in flight across the kill) do not count as
// recovery but do bound the client gap.
func TestChaosTiming(t *testing.T) {
	ch := &chaos{mode: ChaosKillLeader, every: 10 * time.Second}
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	ch.ack(at(-50), at(0)) // the last acknowledgement before the kill
	kill := at(100)
	ev := &Failover{At: kill, RecoveredMS: -1}
	ch.events, ch.killAt = append(ch.events, ev), append(ch.killAt, kill)

	ch.ack(at(50), at(400))    // sent before the kill: not a recovery
	ch.ack(at(1500), at(2300)) // sent after: recovered 2200 ms after the kill
	ch.ack(at(2350), at(2400)) // later acknowledgements change nothing
	if !ev.recovered || ev.RecoveredMS != 2200 {
		t.Fatalf("recovered %v after %v ms, want 2200", ev.recovered, ev.RecoveredMS)
	}
	if ev.GapMS != 1900 { // 400 -> 2300
		t.Fatalf("gap %v ms, want 1900", ev.GapMS)
	}

	// A second kill that never recovers.
	kill2 := at(5000)
	ev2 := &Failover{At: kill2, RecoveredMS: -1}
	ch.events, ch.killAt = append(ch.events, ev2), append(ch.killAt, kill2)
	ch.ack(at(4990), at(5200)) // in flight across the kill
	r := ch.report()
	if len(r.Failovers) != 2 || r.Unrecovered != 1 || r.OverTarget != 1 || r.MaxRecoverMS != 2200 || r.MeanRecoverMS != 2200 {
		t.Fatalf("report %+v", r)
	}
	// The second gap runs from the last acknowledgement before its kill
	// (2400) to 5200: with no traffic in between, that is all of it.
	if r.UnavailableMS != 1900+2800 || r.MaxGapMS != 2800 {
		t.Fatalf("gaps: max %v total %v", r.MaxGapMS, r.UnavailableMS)
	}
}

// TestPartitionReportNamesTheRefusal: a --chaos partition report says how
// soon the cut-off node refused writes (or that it never did), how soon the
// majority acknowledged one, how soon the node was back after the heal,
// and what the cut-off node acknowledged.
func TestPartitionReportNamesTheRefusal(t *testing.T) {
	r := &ChaosReport{Mode: ChaosPartition, Failovers: []Failover{
		{Killed: []string{"n1"}, WasLeader: true, RecoveredMS: 400, MinorityRefusedMS: 510, MajorityAckedMS: 1620, HealedMS: 230, RejoinedMS: 2300},
		{Killed: []string{"n2"}, WasLeader: true, RecoveredMS: -1, MinorityRefusedMS: -1, MajorityAckedMS: -1, HealedMS: -1, RejoinedMS: -1, MinorityAcked: 1},
	}}
	var b strings.Builder
	r.writeText(&b)
	out := b.String()
	for _, want := range []string{"cut off n1",
		"partition of n1: it refused writes after 510 ms (target 2s); the majority acknowledged a write after 1620 ms; healed, n1 was ready again after 230 ms; writes it acknowledged while cut off: 0",
		"partition of n2: no refusal seen; the majority acknowledged no write; writes it acknowledged while cut off: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
