package cluster

import (
	"testing"
	"time"
)

func TestCommonLogicVersion(t *testing.T) {
	cases := []struct {
		name  string
		nodes []Node
		own   int
		want  int
	}{
		{"no registry yet", nil, 3, 3},
		{"all current", []Node{{ID: "a", LogicVersion: 3}, {ID: "b", LogicVersion: 3}}, 3, 3},
		{"one node behind holds the cluster back", []Node{{ID: "a", LogicVersion: 3}, {ID: "b", LogicVersion: 2}}, 3, 2},
		{"a newer node does not lift this binary", []Node{{ID: "a", LogicVersion: 5}}, 3, 3},
		{"unknown version ignored", []Node{{ID: "a", LogicVersion: 0}}, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := commonLogicVersion(tc.nodes, tc.own); got != tc.want {
				t.Fatalf("commonLogicVersion = %d, want %d", got, tc.want)
			}
		})
	}
	if proposable(3, 2) || !proposable(2, 2) || !proposable(1, 2) {
		t.Fatal("proposable: a kind newer than the common version must not be proposed")
	}
}

func TestEntryFraming(t *testing.T) {
	envs := [][]byte{[]byte(`{"a":1}`), {}, []byte(`{"b":2}`)}
	got, err := decodeEntry(encodeEntry(envs))
	if err != nil || len(got) != 3 || string(got[0]) != `{"a":1}` || len(got[1]) != 0 || string(got[2]) != `{"b":2}` {
		t.Fatalf("round trip: %q %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2, 0}, {entryFormatBatchV1, 5, 1}, {entryFormatBatchV1, 1, 9, 'x'}, append(encodeEntry(envs), 0)} {
		if _, err := decodeEntry(bad); err == nil {
			t.Fatalf("decodeEntry(%v) accepted a malformed entry", bad)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry([][]byte{[]byte(`{}`)}))
	f.Add([]byte{entryFormatBatchV1, 0})
	f.Add([]byte{entryFormatBatchV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		envs, err := decodeEntry(data)
		if err != nil {
			return
		}
		// Whatever decodes is made of the input's bytes and round-trips.
		n := 0
		for _, e := range envs {
			n += len(e)
		}
		if n > len(data) {
			t.Fatalf("decoded %d bytes of commands from %d bytes", n, len(data))
		}
		again, err := decodeEntry(encodeEntry(envs))
		if err != nil || len(again) != len(envs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func TestIDsSortByTime(t *testing.T) {
	var g idGen
	t0 := testEpoch
	prev := ""
	for i := 0; i < 1000; i++ {
		id := g.next(t0.Add(time.Duration(i/4) * time.Millisecond))
		if len(id) != 26 || id <= prev {
			t.Fatalf("id %d %q after %q", i, id, prev)
		}
		prev = id
	}
}
