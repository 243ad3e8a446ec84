package loadtest

import (
	"context"
	"fmt"
)

// mixWorkload is --workload mix: the front door's arrivals in the
// proportions of a typical urgent care centre day: 60% walk-ins (the whole
// walkin journey), 35% NHS 111 referrals (nhs111) and 5% urgent community
// response referrals dispatched to a rapid response team (dispatch). The
// dispatch share needs a cluster loadtest spawned (it points the teams'
// webhooks at loadtest); against --target it goes to NHS 111 referrals and
// the report says so.
type mixWorkload struct {
	walkin   *walkinWorkload
	nhs111   *nhs111Workload
	dispatch *dispatchWorkload // nil: not on this cluster
}

// Shares of the mix, in percent.
const (
	mixWalkinPercent   = 60
	mixDispatchPercent = 5
)

func newMixWorkload(seed uint64) Workload {
	return &mixWorkload{walkin: newWalkinWorkload(seed).(*walkinWorkload), nhs111: newNHS111Workload(seed).(*nhs111Workload),
		dispatch: newDispatchWorkload(seed).(*dispatchWorkload)}
}

// spawned implements spawnAware: dispatches only on a spawned cluster.
func (m *mixWorkload) spawned(yes bool) {
	if !yes {
		m.dispatch = nil
	}
}

func (m *mixWorkload) CommandBytes() int {
	return (m.walkin.CommandBytes()*mixWalkinPercent + m.nhs111.CommandBytes()*(100-mixWalkinPercent)) / 100
}
func (*mixWorkload) AllocatesSlots() bool { return true }
func (m *mixWorkload) Dispatches() bool   { return m.dispatch != nil }

func (m *mixWorkload) DispatchCheck() *DispatchCheck {
	if m.dispatch == nil {
		return nil
	}
	return m.dispatch.check
}

func (m *mixWorkload) Setup(ctx context.Context, s *Session) error {
	if err := m.walkin.Setup(ctx, s); err != nil {
		return err
	}
	if err := m.nhs111.useServices(m.walkin.services); err != nil {
		return err
	}
	if m.dispatch != nil {
		return m.dispatch.Setup(ctx, s)
	}
	return nil
}

func (m *mixWorkload) Close() error {
	if m.dispatch != nil {
		return m.dispatch.Close()
	}
	return nil
}

func (m *mixWorkload) SlotCapacity() SlotCapacity { return m.walkin.SlotCapacity() }

func (m *mixWorkload) Summary() string {
	if m.dispatch == nil {
		return fmt.Sprintf("%d%% walk-ins, %d%% NHS 111 (no dispatches: the cluster was not spawned by loadtest): %s; %s",
			mixWalkinPercent, 100-mixWalkinPercent, m.walkin.Summary(), m.nhs111.Summary())
	}
	return fmt.Sprintf("%d%% walk-ins, %d%% NHS 111, %d%% urgent community response: %s; %s; %s", mixWalkinPercent,
		100-mixWalkinPercent-mixDispatchPercent, mixDispatchPercent, m.walkin.Summary(), m.nhs111.Summary(), m.dispatch.Summary())
}

func (m *mixWorkload) Step(ctx context.Context, s *Session, n uint64) error {
	switch x := s.synth.r.IntN(100); {
	case x < mixWalkinPercent:
		return m.walkin.Step(ctx, s, n)
	case x < mixWalkinPercent+mixDispatchPercent && m.dispatch != nil:
		return m.dispatch.Step(ctx, s, n)
	}
	return m.nhs111.Step(ctx, s, n)
}
