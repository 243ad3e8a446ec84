// Package coding holds the national code lists frontdoor codes its
// attendances with, vendored as versioned data files (codes/*.csv): the
// Emergency Care Data Set (ECDS) chief complaint, acuity, discharge
// destination and discharge follow-up lists (SNOMED CT), the NHS Pathways
// disposition (Dx) codes frontdoor uses with their NHS 111 meaning, and
// frontdoor's documented LOCAL fallbacks where no national code is known
// with confidence. It also maps an outcome (tier, timeframe, care needs)
// to its ECDS acuity, discharge destination and follow-up (outcome-map.csv).
//
// Every list is a subset: see each file's header for the release it cites.
// The chief complaint, acuity and discharge destination lists are checked
// when parsed against the members of their ECDS reference sets
// (ecds-refset-members.csv): a code that is not a member is refused.
// The package is pure: it imports nothing from the project.
package coding

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
)

//go:embed codes/*.csv
var files embed.FS

// The list names (local-codes.csv's list column uses them too).
const (
	ListChiefComplaint = "chief_complaint"
	ListAcuity         = "acuity"
	ListDestination    = "discharge_destination"
	ListFollowUp       = "discharge_follow_up"
)

// LocalPrefix starts every frontdoor local code (never a SNOMED CT id).
const LocalPrefix = "LOCAL:"

// IsLocal reports whether code is a frontdoor local fallback.
func IsLocal(code string) bool { return strings.HasPrefix(code, LocalPrefix) }

// Code is one entry of a list.
type Code struct {
	Code  string `json:"code"`
	Term  string `json:"term"`
	Local bool   `json:"local,omitempty"`
}

// Dx is one disposition code with what NHS 111 means by it.
type Dx struct {
	Code      string `json:"code"`
	Family    string `json:"family"`    // ambulance, ed, primary_care, dental, pharmacy, prescription, self_care, ...
	Tier      string `json:"tier"`      // frontdoor's tier
	Timeframe string `json:"timeframe"` // "" = the outcome's
	Local     bool   `json:"local"`     // a frontdoor local code, not NHS Pathways
	Meaning   string `json:"meaning"`
}

// Mapping is an outcome's ECDS coding.
type Mapping struct {
	Acuity      string `json:"acuity"`
	Destination string `json:"discharge_destination"`
	FollowUp    string `json:"discharge_follow_up"`
}

type mapRow struct {
	tier, timeframe, careNeed string
	m                         Mapping
}

// Lists is the parsed set of vendored lists.
type Lists struct {
	lists map[string]map[string]Code
	dx    map[string]Dx
	rows  []mapRow
	// Versions is each file's list_version line, by file name.
	Versions map[string]string
}

var defaultLists = sync.OnceValues(func() (*Lists, error) { return parse(files) })

// Default returns the embedded lists, parsed once (read-only afterwards).
func Default() (*Lists, error) { return defaultLists() }

// MustDefault is Default for callers that cannot go on without the lists
// (they are embedded and tested, so an error is a build defect).
func MustDefault() *Lists {
	l, err := Default()
	if err != nil {
		panic(err)
	}
	return l
}

var listFiles = map[string]string{
	ListChiefComplaint: "ecds-chief-complaint.csv",
	ListAcuity:         "ecds-acuity.csv",
	ListDestination:    "ecds-discharge-destination.csv",
	ListFollowUp:       "ecds-discharge-follow-up.csv",
}

// membersFile holds the members of the ECDS reference sets the lists are
// checked against, one row per member: refset id, list name, code.
const membersFile = "ecds-refset-members.csv"

// refsets is the ECDS reference set each checked list's codes must be
// members of. The discharge follow-up list has no vendored member source
// and is not checked.
var refsets = map[string]string{
	ListChiefComplaint: "991401000000107",    // EMERGENCY CARE CHIEF COMPLAINT
	ListAcuity:         "999003061000000107", // EMERGENCY CARE ACUITY
	ListDestination:    "999003011000000105", // EMERGENCY CARE DISCHARGE DESTINATION
}

func parse(fsys fs.FS) (*Lists, error) {
	l := &Lists{lists: map[string]map[string]Code{}, dx: map[string]Dx{}, Versions: map[string]string{}}
	for list, name := range listFiles {
		rows, err := readCSV(fsys, name, l, "code", "term")
		if err != nil {
			return nil, err
		}
		m := map[string]Code{}
		for _, r := range rows {
			if !snomedID(r[0]) {
				return nil, fmt.Errorf("%s: %q is not a SNOMED CT concept id", name, r[0])
			}
			m[r[0]] = Code{Code: r[0], Term: r[1]}
		}
		l.lists[list] = m
	}
	if err := checkMembers(fsys, l); err != nil {
		return nil, err
	}
	rows, err := readCSV(fsys, "local-codes.csv", l, "code", "list", "meaning")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		m, ok := l.lists[r[1]]
		if !ok || !IsLocal(r[0]) {
			return nil, fmt.Errorf("local-codes.csv: %s: bad code or list %q", r[0], r[1])
		}
		m[r[0]] = Code{Code: r[0], Term: r[2], Local: true}
	}
	rows, err = readCSV(fsys, "nhs-pathways-dx.csv", l, "code", "family", "tier", "timeframe", "status", "meaning")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r[4] != "national" && r[4] != "local" {
			return nil, fmt.Errorf("nhs-pathways-dx.csv: %s: status %q", r[0], r[4])
		}
		l.dx[r[0]] = Dx{Code: r[0], Family: r[1], Tier: r[2], Timeframe: r[3], Local: r[4] == "local", Meaning: r[5]}
	}
	rows, err = readCSV(fsys, "outcome-map.csv", l, "tier", "timeframe", "care_need", "acuity", "discharge_destination", "discharge_follow_up")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		m := Mapping{Acuity: r[3], Destination: r[4], FollowUp: r[5]}
		for list, c := range map[string]string{ListAcuity: m.Acuity, ListDestination: m.Destination, ListFollowUp: m.FollowUp} {
			if _, ok := l.lists[list][c]; !ok {
				return nil, fmt.Errorf("outcome-map.csv: %s %s %s: %s %q is not in the vendored lists", r[0], r[1], r[2], list, c)
			}
		}
		l.rows = append(l.rows, mapRow{tier: r[0], timeframe: r[1], careNeed: r[2], m: m})
	}
	return l, nil
}

// checkMembers refuses a code of a checked list (chief complaint, acuity,
// discharge destination) that is not a member of the list's ECDS reference
// set in ecds-refset-members.csv. It runs before the local fallbacks are
// added, so LOCAL: codes are exempt.
func checkMembers(fsys fs.FS, l *Lists) error {
	rows, err := readCSV(fsys, membersFile, l, "refset", "list", "code")
	if err != nil {
		return err
	}
	members := map[string]map[string]bool{}
	for _, r := range rows {
		refset, list, code := r[0], r[1], r[2]
		want, ok := refsets[list]
		if !ok {
			return fmt.Errorf("%s: %s: list %q has no ECDS refset to check", membersFile, code, list)
		}
		if refset != want {
			return fmt.Errorf("%s: %s: refset %s, but the %s refset is %s", membersFile, code, refset, list, want)
		}
		if !snomedID(code) {
			return fmt.Errorf("%s: %q is not a SNOMED CT concept id", membersFile, code)
		}
		if members[list] == nil {
			members[list] = map[string]bool{}
		}
		members[list][code] = true
	}
	for _, list := range slices.Sorted(maps.Keys(refsets)) {
		if len(members[list]) == 0 {
			return fmt.Errorf("%s: no members of the %s refset %s", membersFile, list, refsets[list])
		}
		for _, code := range slices.Sorted(maps.Keys(l.lists[list])) {
			if !members[list][code] {
				return fmt.Errorf("%s: %s (%s) is not a member of the ECDS %s refset %s (%s %s)",
					listFiles[list], code, l.lists[list][code].Term, list, refsets[list], membersFile, l.Versions[membersFile])
			}
		}
	}
	return nil
}

// readCSV reads a vendored file: '#' comment lines (one may be
// "list_version: X"), then a header that must equal cols, then rows.
func readCSV(fsys fs.FS, name string, l *Lists, cols ...string) ([][]string, error) {
	b, err := fs.ReadFile(fsys, "codes/"+name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var body bytes.Buffer
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# list_version:"); ok {
			l.Versions[name] = strings.TrimSpace(v)
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		body.WriteString(line + "\n")
	}
	if l.Versions[name] == "" {
		return nil, fmt.Errorf("%s: no list_version line", name)
	}
	r := csv.NewReader(&body)
	r.FieldsPerRecord = len(cols)
	head, err := r.Read()
	if err != nil || !slices.Equal(head, cols) {
		return nil, fmt.Errorf("%s: header %v, want %v (%v)", name, head, cols, err)
	}
	var out [][]string
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		key := strings.Join(rec[:min(3, len(rec))], ",")
		if seen[key] {
			return nil, fmt.Errorf("%s: duplicate row %s", name, key)
		}
		seen[key] = true
		out = append(out, rec)
	}
}

// snomedID reports whether s looks like a SNOMED CT concept id: 6 to 18
// digits, no leading zero, and a valid Verhoeff check digit.
func snomedID(s string) bool {
	if len(s) < 6 || len(s) > 18 || s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return verhoeff(s)
}

var (
	vD = [10][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1}, {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}
	vP = [8][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1}, {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}}
)

// verhoeff checks the Verhoeff check digit SNOMED CT ids end with.
func verhoeff(s string) bool {
	c := 0
	for i := 0; i < len(s); i++ {
		c = vD[c][vP[i%8][int(s[len(s)-1-i]-'0')]]
	}
	return c == 0
}

// In reports whether code is in list (national or local).
func (l *Lists) In(list, code string) bool {
	_, ok := l.lists[list][code]
	return ok
}

// Lookup returns the entry of code in list.
func (l *Lists) Lookup(list, code string) (Code, bool) {
	c, ok := l.lists[list][code]
	return c, ok
}

// Dx returns what a disposition code means (ok=false when not listed).
func (l *Lists) Dx(code string) (Dx, bool) {
	d, ok := l.dx[code]
	return d, ok
}

// Outcome maps an outcome to its ECDS acuity, discharge destination and
// follow-up: the first row of outcome-map.csv that matches.
func (l *Lists) Outcome(tier, timeframe string, careNeeds []string) (Mapping, bool) {
	for _, r := range l.rows {
		if r.tier != tier || (r.timeframe != "*" && r.timeframe != timeframe) {
			continue
		}
		if r.careNeed != "*" && !slices.Contains(careNeeds, r.careNeed) {
			continue
		}
		return r.m, true
	}
	return Mapping{}, false
}
