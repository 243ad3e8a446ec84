package clinic_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
)

// A kind, once in a log, must be applied by every later binary exactly as
// it was: the list of kinds with the logic version that introduced them and
// the IDs their proposer generates is fixed (testdata/kinds.txt). Adding a
// kind adds a line; removing or changing one is refused here.
func TestKindsAreCompleteAndStable(t *testing.T) {
	var got []string
	for _, c := range clinic.Commands() {
		got = append(got, fmt.Sprintf("%s since=%d ids=%d", c.Kind, c.Since, c.IDs))
	}
	sort.Strings(got)
	b, err := os.ReadFile("testdata/kinds.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("command kinds changed:\ngot:\n%s\nwant (testdata/kinds.txt):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
