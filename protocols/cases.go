package protocols

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/triage"
	"gopkg.in/yaml.v3"
)

// CaseFile is a file of cases: protocols/testdata/cases/<id>.yaml (one protocol)
// or protocols/testdata/accuracy/*.yaml (each case names its protocol).
type CaseFile struct {
	Protocol string `yaml:"protocol"`
	// Presentation is the presentation run after the screen when Protocol is
	// the screen (screen cases): the screen alone cannot start a session.
	Presentation string `yaml:"presentation"`
	Cases        []Case `yaml:"cases"`
}

// Case is one scripted patient with the expected (or clinically correct) outcome.
type Case struct {
	Name         string         `yaml:"name"`
	Vignette     string         `yaml:"vignette"`
	Protocol     string         `yaml:"protocol"`     // accuracy files: per case
	Presentation string         `yaml:"presentation"` // screen cases: per case override
	Patient      triage.Patient `yaml:"patient"`
	Answers      map[string]any `yaml:"answers"`
	Expect       *Expect        `yaml:"expect"`
	Correct      *Expect        `yaml:"correct"`
	// AlsoAcceptable (accuracy files) lists other tiers the vignette's author
	// accepted before the engine ran (rare: where guidance supports both).
	AlsoAcceptable []string `yaml:"acceptable"`
	// Source says who wrote an accuracy vignette and from what.
	Source string `yaml:"source"`
	Line   int    `yaml:"-"`
}

// Expect is the outcome a case expects. Empty fields are not checked.
type Expect struct {
	Outcome   string `yaml:"outcome"`
	Tier      string `yaml:"tier"`
	Dx        string `yaml:"dx"`
	Timeframe string `yaml:"timeframe"`
	DecidedBy string `yaml:"decided_by"`
}

// UnmarshalYAML records the case's line.
func (c *Case) UnmarshalYAML(v *yaml.Node) error {
	type plain Case
	if err := v.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Line = v.Line
	return nil
}

// ParseCaseFile decodes a case or accuracy file.
func ParseCaseFile(data []byte) (*CaseFile, error) {
	var f CaseFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("case file: %w", err)
	}
	return &f, nil
}

// ReadCaseFile reads and decodes a case or accuracy file.
func ReadCaseFile(path string) (*CaseFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseCaseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Replies turns a case's answers into engine replies, sorted by question id.
func Replies(answers map[string]any) ([]triage.Reply, error) {
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]triage.Reply, 0, len(keys))
	for _, k := range keys {
		v, err := answerString(answers[k])
		if err != nil {
			return nil, fmt.Errorf("answer %s: %w", k, err)
		}
		out = append(out, triage.Reply{Question: k, Value: v})
	}
	return out, nil
}

func answerString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return triage.Yes, nil
		}
		return triage.No, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", fmt.Errorf("empty answer")
	}
	return "", fmt.Errorf("unsupported answer %v (%T)", v, v)
}

// DefaultAnswer is the harness default for a question a case does not answer:
// "no" to a screen yes/no question, "not_sure" (the safer branch) otherwise.
func DefaultAnswer(q triage.Question) string {
	if strings.HasPrefix(q.ID, triage.ScreenPrefix) && q.Type == triage.YesNo {
		return triage.No
	}
	return triage.NotSure
}

// RunCase runs a case through the engine: start, all its answers at once, then
// the harness defaults until an outcome. protocolID is the presentation (for a
// screen case, the presentation that follows the screen).
func RunCase(set *triage.Set, protocolID string, c Case) (triage.Session, *triage.Result, error) {
	return runCase(set, protocolID, c, DefaultAnswer)
}

// runCase runs a case with its answers, then def for what they leave open.
func runCase(set *triage.Set, protocolID string, c Case, def func(triage.Question) string) (triage.Session, *triage.Result, error) {
	s, step, err := triage.Start(set, protocolID, c.Patient)
	if err != nil {
		return s, nil, err
	}
	replies, err := Replies(c.Answers)
	if err != nil {
		return s, nil, err
	}
	if !step.Done && len(replies) > 0 {
		if s, step, err = triage.Answer(set, s, replies...); err != nil {
			return s, nil, err
		}
	}
	return Finish(set, s, step, def)
}

// Finish answers the pending questions with def until the session has an outcome.
func Finish(set *triage.Set, s triage.Session, step triage.Step, def func(triage.Question) string) (triage.Session, *triage.Result, error) {
	var err error
	for i := 0; !step.Done; i++ {
		if i > 1000 || len(step.Questions) == 0 {
			return s, nil, fmt.Errorf("session of %s did not reach an outcome", s.Protocol)
		}
		q := step.Questions[0]
		if s, step, err = triage.Answer(set, s, triage.Reply{Question: q.ID, Value: def(q)}); err != nil {
			return s, nil, err
		}
	}
	return s, step.Outcome, nil
}

// ProtocolFor returns the presentation a case runs: the case's own protocol
// (accuracy files), else the file's; for the screen, the presentation named.
func ProtocolFor(set *triage.Set, f *CaseFile, c Case) (string, error) {
	id := c.Protocol
	if id == "" {
		id = f.Protocol
	}
	if set.Screen != nil && id == set.Screen.ID {
		id = c.Presentation
		if id == "" {
			id = f.Presentation
		}
		if id == "" {
			return "", fmt.Errorf("screen case %q needs presentation:", c.Name)
		}
	}
	if id == "" {
		return "", fmt.Errorf("case %q names no protocol", c.Name)
	}
	return id, nil
}

// Check compares a result with an expectation and returns the mismatches.
func (e *Expect) Check(r *triage.Result) []string {
	var bad []string
	cmp := func(field, want, got string) {
		if want != "" && want != got {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", field, got, want))
		}
	}
	cmp("outcome", e.Outcome, r.Outcome)
	cmp("tier", e.Tier, string(r.Tier))
	cmp("dx", e.Dx, r.Dx)
	cmp("timeframe", e.Timeframe, string(r.Timeframe))
	cmp("decided_by", e.DecidedBy, r.DecidedBy)
	return bad
}

// ReadAnswersFile reads an answers file for `frontdoor protocols try`: either a
// bare case (patient: and answers: at the top level) or a case file, of which
// the first case is used.
func ReadAnswersFile(path string) (Case, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Case{}, err
	}
	var doc struct {
		Case  `yaml:",inline"`
		Cases []Case `yaml:"cases"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Case{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Cases) > 0 {
		return doc.Cases[0], nil
	}
	return doc.Case, nil
}
