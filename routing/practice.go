package routing

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Practice is a GP practice for registration.
type Practice struct {
	ODSCode   string   `json:"ods_code"`
	Name      string   `json:"name"`
	Address   string   `json:"address,omitempty"`
	Postcode  string   `json:"postcode"`
	Lat       float64  `json:"lat,omitempty"`
	Lon       float64  `json:"lon,omitempty"`
	Catchment []string `json:"catchment,omitempty"`
	ListOpen  bool     `json:"list_open"`
	// NoFixedAbode marks the practice designated to register patients
	// with no fixed abode or no proof of address.
	NoFixedAbode bool `json:"no_fixed_abode,omitempty"`
}

// Registration types.
const (
	RegistrationPermanent = "permanent"
	RegistrationTemporary = "temporary" // resident for under 3 months
)

// RegistrationRequest is what Allocate needs about the patient.
type RegistrationRequest struct {
	Postcode         string `json:"postcode,omitempty"`
	NoFixedAbode     bool   `json:"no_fixed_abode,omitempty"`
	NoProofOfAddress bool   `json:"no_proof_of_address,omitempty"`
	// StayDays is the expected stay at this address; under 90 days means
	// a temporary resident registration. 0 means permanent.
	StayDays int `json:"stay_days,omitempty"`
}

// PracticeRejection says why a practice was not offered.
type PracticeRejection struct {
	ODSCode string `json:"ods_code"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
}

// PracticeAllocation is the outcome of Allocate.
type PracticeAllocation struct {
	ODSCode    string              `json:"ods_code"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	DistanceM  int                 `json:"distance_m"`
	Reason     string              `json:"reason"`
	Rejections []PracticeRejection `json:"rejections"`
}

// Practice rejection codes.
const (
	PracticeOutsideCatchment = "outside_catchment"
	PracticeListClosed       = "list_closed"
	PracticeFurther          = "further"
)

// ErrNoPractice is returned when no practice can be offered.
var ErrNoPractice = errors.New("no practice can register the patient")

// Allocate offers the nearest practice with an open list whose catchment
// contains the patient's postcode, with reasons for every other practice.
// Patients with no fixed abode, no proof of address or no postcode are
// never refused: they go to the designated practice (and a practice's
// closed list does not stop that). Stays under 90 days are temporary.
func Allocate(req RegistrationRequest, dir *Directory) (PracticeAllocation, error) {
	idx, err := dir.index()
	if err != nil {
		return PracticeAllocation{}, fmt.Errorf("allocate practice: %w", err)
	}
	out := PracticeAllocation{Type: RegistrationPermanent, Rejections: []PracticeRejection{}}
	if req.StayDays > 0 && req.StayDays < 90 {
		out.Type = RegistrationTemporary
	}
	designated := func(why string) (PracticeAllocation, error) {
		for i := range dir.Practices {
			p := &dir.Practices[i]
			if p.NoFixedAbode {
				out.ODSCode, out.Name = p.ODSCode, p.Name
				out.Reason = why + ": registered at the designated practice, never refused"
				for j := range dir.Practices {
					if j != i {
						out.Rejections = append(out.Rejections, PracticeRejection{dir.Practices[j].ODSCode, "not_designated", "not the designated practice for " + why})
					}
				}
				return out, nil
			}
		}
		return out, fmt.Errorf("allocate practice (%s): %w: no designated practice", why, ErrNoPractice)
	}
	switch {
	case req.NoFixedAbode:
		return designated("no fixed abode")
	case req.NoProofOfAddress:
		return designated("no proof of address")
	case req.Postcode == "":
		return designated("no postcode given")
	}
	loc, ok := lookupPostcode(dir.Postcodes, idx.districts, req.Postcode)
	if !ok {
		loc = idx.centre
	}
	type cand struct {
		i    int
		dist int
	}
	var cands []cand
	for i := range dir.Practices {
		p := &dir.Practices[i]
		if !InCatchment(p.Catchment, req.Postcode) {
			out.Rejections = append(out.Rejections, PracticeRejection{p.ODSCode, PracticeOutsideCatchment, NormalisePostcode(req.Postcode) + " is outside catchment " + strings.Join(p.Catchment, ", ")})
			continue
		}
		if !p.ListOpen {
			out.Rejections = append(out.Rejections, PracticeRejection{p.ODSCode, PracticeListClosed, "list closed to new patients"})
			continue
		}
		pl := LatLon{p.Lat, p.Lon}
		if p.Lat == 0 && p.Lon == 0 {
			pl, _ = lookupPostcode(dir.Postcodes, idx.districts, p.Postcode)
		}
		cands = append(cands, cand{i, haversineM(loc.Lat, loc.Lon, pl.Lat, pl.Lon)})
	}
	if len(cands) == 0 {
		// Out of area: the rejections say why; the caller may still ask a
		// practice to take the patient as an out-of-area registration.
		return out, fmt.Errorf("allocate practice for %s: %w", NormalisePostcode(req.Postcode), ErrNoPractice)
	}
	sort.Slice(cands, func(a, b int) bool {
		if cands[a].dist != cands[b].dist {
			return cands[a].dist < cands[b].dist
		}
		return dir.Practices[cands[a].i].ODSCode < dir.Practices[cands[b].i].ODSCode
	})
	best := dir.Practices[cands[0].i]
	out.ODSCode, out.Name, out.DistanceM = best.ODSCode, best.Name, cands[0].dist
	out.Reason = "nearest practice with an open list whose catchment contains " + NormalisePostcode(req.Postcode)
	for _, c := range cands[1:] {
		out.Rejections = append(out.Rejections, PracticeRejection{dir.Practices[c.i].ODSCode, PracticeFurther,
			"in catchment with an open list, but further away (" + km(c.dist) + " vs " + km(cands[0].dist) + ")"})
	}
	return out, nil
}

// Registration states.
const (
	RegProposed = "proposed"
	RegSent     = "sent"
	RegAccepted = "accepted"
	RegRefused  = "refused"
)

// Consent records the patient's consent to registration.
type Consent struct {
	Given    bool      `json:"given"`
	At       time.Time `json:"at"`
	Recorded string    `json:"recorded_by,omitempty"`
}

// RegistrationEvent is one state change.
type RegistrationEvent struct {
	State  string    `json:"state"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Registration is a GP registration made at the centre.
type Registration struct {
	ID        string              `json:"id"`
	NHSNumber string              `json:"nhs_number,omitempty"`
	ODSCode   string              `json:"ods_code"`
	Type      string              `json:"type"`
	Consent   Consent             `json:"consent"`
	State     string              `json:"state"`
	History   []RegistrationEvent `json:"history"`
}

// ErrIllegalTransition is returned for a state change the registration
// workflow does not allow.
var ErrIllegalTransition = errors.New("illegal registration transition")

// Transition moves r to state to: proposed -> sent (only with consent
// given) -> accepted | refused. Refusals need a reason. It returns the
// updated copy and leaves r untouched on error.
func Transition(r Registration, to string, at time.Time, reason string) (Registration, error) {
	from := r.State
	if from == "" {
		from = RegProposed
	}
	ok := (from == RegProposed && to == RegSent) || (from == RegSent && (to == RegAccepted || to == RegRefused))
	if !ok {
		return r, fmt.Errorf("registration %s %s -> %s: %w", r.ID, from, to, ErrIllegalTransition)
	}
	if to == RegSent && !r.Consent.Given {
		return r, fmt.Errorf("registration %s: cannot send without consent: %w", r.ID, ErrIllegalTransition)
	}
	if to == RegRefused && reason == "" {
		return r, fmt.Errorf("registration %s: refusal needs a reason: %w", r.ID, ErrIllegalTransition)
	}
	r.State = to
	r.History = append(append([]RegistrationEvent(nil), r.History...), RegistrationEvent{State: to, At: at.UTC(), Reason: reason})
	return r, nil
}
