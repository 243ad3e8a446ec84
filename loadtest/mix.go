package loadtest

import (
	"context"
	"fmt"
)

// mixWorkload is --workload mix: the front door's arrivals in the
// proportions of a typical urgent care centre day, 65% walk-ins (the whole
// walkin journey) and 35% NHS 111 referrals (nhs111). Dispatch journeys
// join the mix once the dispatch workload exists.
type mixWorkload struct {
	walkin *walkinWorkload
	nhs111 *nhs111Workload
}

// mixWalkinPercent is the walk-ins' share of the mix.
const mixWalkinPercent = 65

func newMixWorkload(seed uint64) Workload {
	return &mixWorkload{walkin: newWalkinWorkload(seed).(*walkinWorkload), nhs111: newNHS111Workload(seed).(*nhs111Workload)}
}

func (m *mixWorkload) CommandBytes() int {
	return (m.walkin.CommandBytes()*mixWalkinPercent + m.nhs111.CommandBytes()*(100-mixWalkinPercent)) / 100
}
func (*mixWorkload) AllocatesSlots() bool { return true }
func (*mixWorkload) Dispatches() bool     { return false }

func (m *mixWorkload) Setup(ctx context.Context, s *Session) error {
	if err := m.walkin.Setup(ctx, s); err != nil {
		return err
	}
	m.nhs111.services = m.walkin.services
	return nil
}

func (m *mixWorkload) SlotCapacity() SlotCapacity { return m.walkin.SlotCapacity() }

func (m *mixWorkload) Summary() string {
	return fmt.Sprintf("%d%% walk-ins, %d%% NHS 111: %s; %s", mixWalkinPercent, 100-mixWalkinPercent, m.walkin.Summary(), m.nhs111.Summary())
}

func (m *mixWorkload) Step(ctx context.Context, s *Session, n uint64) error {
	if s.synth.r.IntN(100) < mixWalkinPercent {
		return m.walkin.Step(ctx, s, n)
	}
	return m.nhs111.Step(ctx, s, n)
}
