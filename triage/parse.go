package triage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// keyIssue is an unknown or misplaced key found while decoding, kept for lint.
type keyIssue struct {
	line int
	msg  string
}

// issues collects key problems during one file's decoding. yaml.v3 calls the
// UnmarshalYAML methods below without context, so the parser points this at
// the file being decoded (parsing is single-threaded per call of parseFile).
type issueSink struct{ list []keyIssue }

func checkKeys(v *yaml.Node, sink *issueSink, what string, allowed ...string) {
	if v.Kind != yaml.MappingNode || sink == nil {
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i]
		found := false
		for _, a := range allowed {
			if k.Value == a {
				found = true
				break
			}
		}
		if !found {
			sink.list = append(sink.list, keyIssue{k.Line, fmt.Sprintf("unknown key %q in %s (allowed: %s)", k.Value, what, strings.Join(allowed, ", "))})
		}
	}
}

// keyLine is the line of key in mapping v (the mapping's own line when absent).
func keyLine(v *yaml.Node, key string) int {
	for i := 0; i+1 < len(v.Content); i += 2 {
		if v.Content[i].Value == key {
			return v.Content[i].Line
		}
	}
	return v.Line
}

// Each type gets a decode wrapper that records its line and checks its keys.
// The sink travels in a package-private decoding context stored on the value
// being decoded's parent; to keep this simple and race-free the parser decodes
// into fileDoc, whose UnmarshalYAML walks the tree with an explicit sink.

type fileDoc struct {
	p    Protocol
	sink issueSink
}

func (d *fileDoc) UnmarshalYAML(v *yaml.Node) error {
	s := &d.sink
	checkKeys(v, s, "protocol", "id", "version", "kind", "title", "synonyms", "guidance", "applies_to", "usually", "implies_flags", "chief_complaint", "start", "nodes", "outcomes")
	type plain struct {
		ID             string    `yaml:"id"`
		Version        int       `yaml:"version"`
		Kind           string    `yaml:"kind"`
		Title          string    `yaml:"title"`
		Synonyms       []string  `yaml:"synonyms"`
		Guidance       []string  `yaml:"guidance"`
		AppliesTo      yaml.Node `yaml:"applies_to"`
		Usually        yaml.Node `yaml:"usually"`
		ImpliesFlags   []string  `yaml:"implies_flags"`
		ChiefComplaint []string  `yaml:"chief_complaint"`
		Start          yaml.Node `yaml:"start"`
		Nodes          []yaml.Node
		Outcomes       []yaml.Node
	}
	var raw plain
	var errs []error
	if err := v.Decode(&raw); err != nil {
		errs = append(errs, err)
	}
	p := &d.p
	p.ID, p.Version, p.Kind, p.Title = raw.ID, raw.Version, raw.Kind, raw.Title
	p.Synonyms, p.Guidance, p.ImpliesFlags = raw.Synonyms, raw.Guidance, raw.ImpliesFlags
	p.ChiefComplaint = raw.ChiefComplaint
	p.Line = v.Line
	p.ChiefComplaintLine = keyLine(v, "chief_complaint")
	if raw.Start.Kind != 0 {
		p.Start, p.StartLine = raw.Start.Value, raw.Start.Line
	}
	if raw.AppliesTo.Kind != 0 {
		checkKeys(&raw.AppliesTo, s, "applies_to", "min_age_years", "max_age_years")
		if err := raw.AppliesTo.Decode(&p.AppliesTo); err != nil {
			errs = append(errs, err)
		}
		p.AppliesTo.Line = raw.AppliesTo.Line
	}
	if raw.Usually.Kind != 0 {
		checkKeys(&raw.Usually, s, "usually", "sex", "min_age_years", "max_age_years")
		p.Usually = &Usually{}
		if err := raw.Usually.Decode(p.Usually); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range raw.Nodes {
		n, err := decodeNode(&raw.Nodes[i], s)
		if err != nil {
			errs = append(errs, err)
		}
		p.Nodes = append(p.Nodes, n)
	}
	for i := range raw.Outcomes {
		ov := &raw.Outcomes[i]
		checkKeys(ov, s, "outcome", "id", "tier", "dx", "timeframe", "care_needs", "title", "advice", "safety_net", "guidance", "stream")
		o := &Outcome{Line: ov.Line}
		if err := ov.Decode(o); err != nil {
			errs = append(errs, err)
		}
		p.Outcomes = append(p.Outcomes, o)
	}
	return joinYAML(errs)
}

func decodeNode(v *yaml.Node, s *issueSink) (*Node, error) {
	checkKeys(v, s, "node", "id", "question", "help", "type", "sets", "ng143", "branches", "unit", "min", "max", "ranges", "choices", "not_sure", "switch", "floor", "next", "group", "observed", "follow_up", "ng133", "reason", "same_as")
	type plain struct {
		ID       string      `yaml:"id"`
		Question string      `yaml:"question"`
		Help     string      `yaml:"help"`
		Type     AnswerType  `yaml:"type"`
		Sets     string      `yaml:"sets"`
		NG143    string      `yaml:"ng143"`
		Branches yaml.Node   `yaml:"branches"`
		Unit     string      `yaml:"unit"`
		Min      *float64    `yaml:"min"`
		Max      *float64    `yaml:"max"`
		Ranges   []yaml.Node `yaml:"ranges"`
		Choices  []yaml.Node `yaml:"choices"`
		NotSure  string      `yaml:"not_sure"`
		Switch   []yaml.Node `yaml:"switch"`
		Floor    string      `yaml:"floor"`
		Next     string      `yaml:"next"`
		Group    string      `yaml:"group"`
		Observed bool        `yaml:"observed"`
		FollowUp bool        `yaml:"follow_up"`
		NG133    string      `yaml:"ng133"`
		Reason   string      `yaml:"reason"`
		SameAs   []string    `yaml:"same_as"`
	}
	var raw plain
	var errs []error
	if err := v.Decode(&raw); err != nil {
		errs = append(errs, err)
	}
	n := &Node{ID: raw.ID, Question: raw.Question, Help: raw.Help, Type: raw.Type, Sets: raw.Sets, NG143: raw.NG143,
		Unit: raw.Unit, Min: raw.Min, Max: raw.Max, NotSure: raw.NotSure, Floor: raw.Floor, Next: raw.Next, Line: v.Line,
		Group: raw.Group, Observed: raw.Observed, FollowUp: raw.FollowUp, NG133: raw.NG133, Reason: raw.Reason, SameAs: raw.SameAs}
	if raw.Branches.Kind != 0 {
		checkKeys(&raw.Branches, s, "branches of a yes_no question", "yes", "no", "not_sure")
		n.Branches = &Branches{Line: raw.Branches.Line}
		if err := raw.Branches.Decode(n.Branches); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range raw.Ranges {
		rv := &raw.Ranges[i]
		checkKeys(rv, s, "range", "from", "below", "next")
		r := &Range{Line: rv.Line}
		if err := rv.Decode(r); err != nil {
			errs = append(errs, err)
		}
		n.Ranges = append(n.Ranges, r)
	}
	for i := range raw.Choices {
		cv := &raw.Choices[i]
		checkKeys(cv, s, "choice", "value", "label", "next")
		c := &ChoiceOp{Line: cv.Line}
		if err := cv.Decode(c); err != nil {
			errs = append(errs, err)
		}
		n.Choices = append(n.Choices, c)
	}
	if raw.Switch != nil {
		n.Switch = make([]*SwitchCase, 0, len(raw.Switch))
	}
	for i := range raw.Switch {
		sv := &raw.Switch[i]
		checkKeys(sv, s, "switch entry", "when", "next")
		type plainCase struct {
			When yaml.Node `yaml:"when"`
			Next string    `yaml:"next"`
		}
		var pc plainCase
		if err := sv.Decode(&pc); err != nil {
			errs = append(errs, err)
		}
		c := &SwitchCase{Next: pc.Next, Line: sv.Line}
		if pc.When.Kind != 0 {
			checkKeys(&pc.When, s, "when", "age_under_years", "age_from_years", "age_under_days", "age_from_days", "sex", "pregnant", "channel", "flag", "age_unknown", "news2_complete",
				"observations_normal", "gestation_from_weeks", "postnatal", "temperature_from_c")
			c.When = &When{Line: pc.When.Line}
			if err := pc.When.Decode(c.When); err != nil {
				errs = append(errs, err)
			}
		}
		n.Switch = append(n.Switch, c)
	}
	return n, joinYAML(errs)
}

type yamlErrs []error

func (e yamlErrs) Error() string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = x.Error()
	}
	return strings.Join(s, "; ")
}

func joinYAML(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return yamlErrs(errs)
}

var lineRE = regexp.MustCompile(`line (\d+): (.*)`)

// yamlLintErrors turns a yaml error into lint errors, one per reported line.
func yamlLintErrors(file string, err error) []LintError {
	var msgs []string
	var flatten func(error)
	flatten = func(e error) {
		switch x := e.(type) {
		case yamlErrs:
			for _, y := range x {
				flatten(y)
			}
		case *yaml.TypeError:
			msgs = append(msgs, x.Errors...)
		default:
			msgs = append(msgs, strings.TrimPrefix(e.Error(), "yaml: "))
		}
	}
	flatten(err)
	var out []LintError
	for _, m := range msgs {
		le := LintError{File: file, Line: 1, Rule: RuleParse, Message: m, Hint: "fix the YAML syntax or the value's type (see protocols/FORMAT.md)"}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			le.Line, _ = strconv.Atoi(sm[1])
			le.Message = sm[2]
			if strings.Contains(m, "cannot unmarshal") {
				le.Rule = RuleAnswerType
				le.Hint = "give the field a value of the type FORMAT.md asks for (numbers unquoted, lists as [a, b])"
			}
		}
		out = append(out, le)
	}
	return out
}

// parseFile decodes one protocol file. It returns the protocol (possibly
// partial) and the decoding problems as lint errors.
func parseFile(name string, data []byte) (*Protocol, []LintError) {
	var d fileDoc
	var errs []LintError
	if err := yaml.Unmarshal(data, &d); err != nil {
		errs = append(errs, yamlLintErrors(name, err)...)
	}
	for _, k := range d.sink.list {
		errs = append(errs, LintError{File: name, Line: k.line, Rule: RuleField, Message: k.msg, Hint: "remove the key or correct its spelling (see protocols/FORMAT.md)"})
	}
	p := &d.p
	p.File = name
	sum := sha256.Sum256(data)
	p.Hash = hex.EncodeToString(sum[:])
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return p, errs
}
