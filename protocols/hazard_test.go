package protocols

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type hazardLog struct {
	Hazards []struct {
		ID         string   `yaml:"id"`
		Title      string   `yaml:"title"`
		Causes     []string `yaml:"causes"`
		Effect     string   `yaml:"effect"`
		Severity   string   `yaml:"severity"`
		Likelihood string   `yaml:"likelihood"`
		Controls   []struct {
			Description string `yaml:"description"`
			Test        string `yaml:"test"`
		} `yaml:"controls"`
	} `yaml:"hazards"`
}

// TestHazardLogControlsExist parses hazard-log.yaml and fails when a control's
// test (package dir:Name) has no func Name( in that directory's *_test.go files.
func TestHazardLogControlsExist(t *testing.T) {
	b, err := HazardLog()
	if err != nil {
		t.Fatal(err)
	}
	var log hazardLog
	if err := yaml.Unmarshal(b, &log); err != nil {
		t.Fatalf("hazard-log.yaml: %v", err)
	}
	if len(log.Hazards) < 10 {
		t.Errorf("%d hazards; at least 10 wanted", len(log.Hazards))
	}
	severities := "minor significant considerable major catastrophic"
	likelihoods := "very_low low medium high very_high"
	seen := map[string]bool{}
	sources := map[string]string{}
	nameRE := regexp.MustCompile(`^(Test|Fuzz|Benchmark)[A-Za-z0-9_]*$`)
	for _, h := range log.Hazards {
		if h.ID == "" || seen[h.ID] {
			t.Errorf("hazard id %q empty or repeated", h.ID)
		}
		seen[h.ID] = true
		if h.Title == "" || h.Effect == "" || len(h.Causes) == 0 || len(h.Controls) == 0 {
			t.Errorf("%s: title, causes, effect and controls are required", h.ID)
		}
		if !strings.Contains(" "+severities+" ", " "+h.Severity+" ") || !strings.Contains(" "+likelihoods+" ", " "+h.Likelihood+" ") {
			t.Errorf("%s: severity %q / likelihood %q not in the scales", h.ID, h.Severity, h.Likelihood)
		}
		for _, c := range h.Controls {
			dir, name, ok := strings.Cut(c.Test, ":")
			if !ok || !nameRE.MatchString(name) || c.Description == "" {
				t.Errorf("%s: control test %q is not <package dir>:<TestName> with a description", h.ID, c.Test)
				continue
			}
			src, ok := sources[dir]
			if !ok {
				src = readTestSources(t, filepath.Join("..", filepath.FromSlash(dir)))
				sources[dir] = src
			}
			if !strings.Contains(src, "func "+name+"(") {
				t.Errorf("%s: control test %s does not exist in %s/*_test.go", h.ID, name, dir)
			}
		}
	}
}

func readTestSources(t *testing.T, dir string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}
