package main

import "testing"

func TestNodeMemoryLimit(t *testing.T) {
	tests := []struct {
		name       string
		gomemlimit string
		want       int64
		wantSet    bool
	}{
		{"default when GOMEMLIMIT is unset", "", defaultMemoryLimit, true},
		{"GOMEMLIMIT wins", "1GiB", 0, false},
		{"GOMEMLIMIT off wins", "off", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, set := nodeMemoryLimit(tc.gomemlimit)
			if got != tc.want || set != tc.wantSet {
				t.Fatalf("nodeMemoryLimit(%q) = %d, %v; want %d, %v", tc.gomemlimit, got, set, tc.want, tc.wantSet)
			}
		})
	}
}
