package care

import (
	"fmt"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// logicECDS is the logic version from which an attendance's disposition
// carries its ECDS coding (issue 19).
const logicECDS = 9

// logicECDSAcuity is the logic version from which the "standard" and
// "low" acuity levels are coded with their SNOMED CT ids; version 9
// entries replay to the local fallbacks they were coded with then
// (acuityBefore10), so a node of the older binary and one of this binary
// write the same state for the same entry.
const logicECDSAcuity = 10

// acuityBefore10 is the acuity version 9 coded where this binary codes
// acuity: the ids added to the lists at logic version 10 go back to the
// local fallbacks used until then.
func acuityBefore10(acuity string) string {
	switch acuity {
	case "1077241000000103": // standard
		return coding.LocalPrefix + "acuity-standard"
	case "1077251000000100": // low
		return coding.LocalPrefix + "acuity-low"
	}
	return acuity
}

// ChiefComplaintNotRecorded is the local chief complaint of an attendance
// triaged without a coded protocol (an NHS 111 referral by Dx only, or a
// protocol set stored before the code lists).
const ChiefComplaintNotRecorded = coding.LocalPrefix + "cc-not-recorded"

// ECDSCoding is what the Emergency Care Data Set records of an attendance's
// outcome: the chief complaint (from the protocol), the acuity, discharge
// destination and discharge follow-up (from the disposition's tier,
// timeframe and care needs, triage/coding/codes/outcome-map.csv). Codes are
// SNOMED CT ids from the vendored ECDS lists or documented LOCAL: fallbacks.
type ECDSCoding struct {
	ChiefComplaint       []string `json:"chief_complaint"`
	Acuity               string   `json:"acuity"`
	DischargeDestination string   `json:"discharge_destination"`
	DischargeFollowUp    string   `json:"discharge_follow_up"`
}

// codeECDS sets the ECDS coding of the attendance's current disposition
// (from logic version 9; before, dispositions carry none, so a replayed
// log writes what it wrote). Called wherever a disposition is decided.
func codeECDS(tx *cluster.Tx, a *Attendance) error {
	if tx.LogicVersion() < logicECDS || a.Triage == nil || a.Triage.Disposition == nil {
		return nil
	}
	d := a.Triage.Disposition
	if d.Tier == "" {
		return nil // an empty placeholder, nothing decided
	}
	lists, err := coding.Default()
	if err != nil {
		return fmt.Errorf("ecds code lists: %w", err)
	}
	c := &ECDSCoding{}
	if s := a.Triage.Session; s != nil && a.Triage.SetKey != "" {
		set, err := protocolset.ReadSet(tx, a.Triage.SetKey)
		if err != nil {
			return fmt.Errorf("ecds coding of %s: %w", a.ID, err)
		}
		if p, ok := set.Protocol(s.Protocol); ok {
			c.ChiefComplaint = append([]string{}, p.ChiefComplaint...)
		}
	}
	if len(c.ChiefComplaint) == 0 {
		c.ChiefComplaint = []string{ChiefComplaintNotRecorded}
	}
	m, ok := lists.Outcome(string(d.Tier), string(d.Timeframe), d.CareNeeds)
	if !ok {
		// Every tier has a catch-all row (TestOutcomeMap); a new tier
		// without one is a defect, not a reason to refuse the decision.
		m = coding.Mapping{}
	}
	c.Acuity, c.DischargeDestination, c.DischargeFollowUp = m.Acuity, m.Destination, m.FollowUp
	if tx.LogicVersion() < logicECDSAcuity {
		c.Acuity = acuityBefore10(c.Acuity)
	}
	d.ECDS = c
	return nil
}
