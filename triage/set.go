package triage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Set is a parsed, linted set of protocols: exactly one screen and the
// presentations. It is immutable once built and safe for concurrent use.
type Set struct {
	Screen        *Protocol
	Presentations []*Protocol // sorted by id
	byID          map[string]*Protocol
	hash          string
	// clinicianNow is the screen's clinician_now outcome, the target of a
	// presentation's floor: clinician_first.
	clinicianNow *Outcome
}

// Hash identifies the whole set: the hex SHA-256 over the sorted file names and
// their content hashes. Two sets with the same Hash triage identically.
func (s *Set) Hash() string { return s.hash }

// Protocol returns the protocol (screen or presentation) with that id.
func (s *Set) Protocol(id string) (*Protocol, bool) {
	p, ok := s.byID[id]
	return p, ok
}

// LintErrors is the error NewSet returns when a set does not pass lint.
type LintErrors []LintError

func (e LintErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d protocol lint error(s):", len(e))
	for i, x := range e {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e)-10)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(x.Error())
	}
	return b.String()
}

// ErrNoScreen is returned when a set has no screen protocol.
var ErrNoScreen = errors.New("triage: the set has no screen protocol (kind: screen)")

// NewSet parses and lints protocol files (file name -> bytes; names ending in
// .yaml are protocols, others are ignored). Any lint error fails the whole
// set: a session must never run against a protocol that did not pass lint.
func NewSet(files map[string][]byte) (*Set, error) {
	set, errs := build(files)
	if len(errs) > 0 {
		return nil, LintErrors(errs)
	}
	return set, nil
}

// Lint parses and checks protocol files and returns every problem found,
// sorted by file and line. An empty result means NewSet will succeed.
func Lint(files map[string][]byte) []LintError {
	_, errs := build(files)
	return errs
}

func build(files map[string][]byte) (*Set, []LintError) {
	names := make([]string, 0, len(files))
	for name := range files {
		if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var errs []LintError
	set := &Set{byID: make(map[string]*Protocol, len(names))}
	firstFile := map[string]*Protocol{}
	for _, name := range names {
		p, perrs := parseFile(name, files[name])
		errs = append(errs, perrs...)
		if hasRule(perrs, RuleParse) {
			continue // not YAML we can read: further checks would only add noise
		}
		errs = append(errs, lintProtocol(p)...)
		if p.ID == "" {
			continue
		}
		if prev, dup := firstFile[p.ID]; dup {
			errs = append(errs, LintError{File: name, Line: p.Line, Rule: RuleDuplicateID,
				Message: fmt.Sprintf("protocol id %q is also used by %s", p.ID, prev.File), Hint: "give each protocol a unique id matching its file name"})
			continue
		}
		firstFile[p.ID] = p
		set.byID[p.ID] = p
		if p.Kind == KindScreen {
			if set.Screen != nil {
				errs = append(errs, LintError{File: name, Line: p.Line, Rule: RuleDuplicateID,
					Message: fmt.Sprintf("a second screen (the first is %s)", set.Screen.File), Hint: "keep exactly one kind: screen file (screen.yaml)"})
				continue
			}
			set.Screen = p
		} else {
			set.Presentations = append(set.Presentations, p)
		}
	}
	if set.Screen != nil {
		for _, o := range set.Screen.Outcomes {
			if o.Stream == StreamClinicianNow {
				set.clinicianNow = o
				break
			}
		}
	}
	for _, p := range append([]*Protocol{set.Screen}, set.Presentations...) {
		if p == nil {
			continue
		}
		for _, n := range p.Nodes {
			errs = append(errs, lintSameAs(set, p, n)...)
		}
	}
	for _, p := range set.Presentations {
		for _, n := range p.Nodes {
			if n.floorIdx == floorClinicianFirstIdx && set.clinicianNow == nil {
				errs = append(errs, LintError{File: p.File, Line: n.Line, Rule: RuleDanglingRef,
					Message: fmt.Sprintf("floor %s: clinician_first needs a screen outcome with stream: clinician_now", n.ID),
					Hint:    "add the clinician_now and clinician_callback outcomes to screen.yaml"})
			}
		}
	}
	if set.Screen == nil && len(names) > 0 {
		errs = append(errs, LintError{File: "screen.yaml", Line: 1, Rule: RuleMissingOutcome, Message: ErrNoScreen.Error(), Hint: "add screen.yaml with kind: screen"})
	}
	h := sha256.New()
	for _, name := range names {
		sum := sha256.Sum256(files[name])
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(sum[:])
	}
	set.hash = hex.EncodeToString(h.Sum(nil))
	sortLint(errs)
	return set, errs
}

func sortLint(errs []LintError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Rule < errs[j].Rule
	})
}

func hasRule(errs []LintError, rule string) bool {
	for _, e := range errs {
		if e.Rule == rule {
			return true
		}
	}
	return false
}

// lintSameAs checks a question's same_as: yes_no questions only, each name
// a yes_no question of the screen (screen.<id>) or of the same protocol.
func lintSameAs(set *Set, p *Protocol, n *Node) []LintError {
	var errs []LintError
	bad := func(msg, hint string) {
		errs = append(errs, LintError{File: p.File, Line: n.Line, Rule: RuleDanglingRef, Message: msg, Hint: hint})
	}
	if len(n.SameAs) > 0 && (n.NodeKind() != "question" || n.Type != YesNo) {
		bad(fmt.Sprintf("node %s: same_as on a %s %s", n.ID, n.NodeKind(), n.Type), "same_as goes on yes_no questions")
		return errs
	}
	for _, id := range n.SameAs {
		src, nid := p, id
		if strings.HasPrefix(id, ScreenPrefix) {
			src, nid = set.Screen, strings.TrimPrefix(id, ScreenPrefix)
		}
		var q *Node
		if src != nil {
			q, _ = src.NodeByID(nid)
		}
		if q == nil || q.NodeKind() != "question" || q.Type != YesNo || q == n {
			bad(fmt.Sprintf("node %s: same_as %q is not another yes_no question", n.ID, id), "name a yes_no question: screen.<id> or an id of this protocol")
		}
	}
	return errs
}
