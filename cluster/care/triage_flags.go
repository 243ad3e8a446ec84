package care

import (
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// sessionFlags are the context flags as the session's answers left them:
// the flags given at the start, then every question on the outcome's path
// that sets a flag, in path order, with the engine's rules (yes sets, no
// clears, not_sure sets a risk flag but leaves usual_residence; pregnant is
// yes/no/unknown). Routing needs them: urgent community response requires
// the patient to be at their usual residence, which a protocol may ask.
func sessionFlags(set *triage.Set, s *triage.Session) (flags map[string]bool, pregnant string) {
	flags = map[string]bool{}
	for _, f := range s.Patient.Flags {
		flags[f] = true
	}
	pregnant = s.Patient.Pregnant
	if set == nil || s.Outcome == nil {
		return flags, pregnant
	}
	for _, st := range s.Outcome.Path {
		if st.Kind != "question" {
			continue
		}
		p, ok := set.Protocol(st.Protocol)
		if !ok {
			continue
		}
		n, ok := p.NodeByID(st.Node)
		if !ok || n.Sets == "" {
			continue
		}
		if n.Sets == triage.FlagPregnant {
			if st.Answer == triage.Yes || st.Answer == triage.No {
				pregnant = st.Answer
			}
			continue
		}
		switch st.Answer {
		case triage.Yes:
			flags[n.Sets] = true
		case triage.No:
			delete(flags, n.Sets)
		case triage.NotSure:
			if n.Sets != triage.FlagUsualResidence {
				flags[n.Sets] = true
			}
		}
	}
	return flags, pregnant
}
