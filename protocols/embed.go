// Package protocols holds frontdoor's clinical protocols as YAML data (see
// FORMAT.md), embedded into the binary, and the case-file harness used by the
// tests and by `frontdoor protocols try`. The protocols are illustrative,
// written from public guidance, and not clinically validated for real patients.
package protocols

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

//go:embed *.yaml
var embedded embed.FS

// HazardLogFile is the clinical hazard log; it lives beside the protocols but is
// not a protocol.
const HazardLogFile = "hazard-log.yaml"

// Files returns the embedded protocol files (name -> bytes), without the hazard log.
func Files() map[string][]byte {
	out, err := readFS(embedded, ".")
	if err != nil {
		panic(fmt.Sprintf("protocols: embedded files unreadable: %v", err)) // cannot happen: embed.FS
	}
	return out
}

// HazardLog returns the embedded hazard log bytes.
func HazardLog() ([]byte, error) { return embedded.ReadFile(HazardLogFile) }

// Load parses and lints the embedded protocols. It returns the set and the raw
// files (kept so that replicated state can rebuild the identical set).
func Load() (*triage.Set, map[string][]byte, error) {
	files := Files()
	set, err := triage.NewSet(files)
	if err != nil {
		return nil, files, fmt.Errorf("protocols: embedded set: %w", err)
	}
	return set, files, nil
}

// ReadDir reads the protocol files of a directory (*.yaml except the hazard log).
func ReadDir(dir string) (map[string][]byte, error) {
	return readFS(os.DirFS(dir), ".")
}

// LoadDir reads, parses and lints the protocols of a directory. The raw files
// are returned even when lint fails, so that callers can run triage.Lint on them.
func LoadDir(dir string) (*triage.Set, map[string][]byte, error) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, files, fmt.Errorf("protocols: no *.yaml files in %s", dir)
	}
	set, err := triage.NewSet(files)
	if err != nil {
		return nil, files, fmt.Errorf("protocols: %s: %w", dir, err)
	}
	return set, files, nil
}

func readFS(fsys fs.FS, dir string) (map[string][]byte, error) {
	names, err := fs.Glob(fsys, filepath.ToSlash(filepath.Join(dir, "*.yaml")))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		base := filepath.Base(n)
		if base == HazardLogFile || strings.HasPrefix(base, ".") {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("protocols: read %s: %w", n, err)
		}
		out[base] = b
	}
	return out, nil
}
