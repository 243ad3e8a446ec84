package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

func TestForwardedProposalRoundTrip(t *testing.T) {
	for _, fp := range []*forwardedProposal{
		{Route: "POST /v1/attendances", ActorID: "k1", Kind: "attendance.create", Payload: []byte(`{"complaint":"x"}`)},
		{Route: "POST /v1/attendances/:id/answers", ActorID: "k2", Kind: "attendance.answer",
			Idempotency: &cluster.Idempotency{Key: "retry-1", Route: "POST /v1/attendances/{id}/answers", BodyHash: "ab12"},
			Payload:     []byte(`{}`)},
		{Route: "DELETE /v1/keys/:id", Kind: "key.revoke"}, // no payload, no actor
	} {
		b := encodeForwarded(fp)
		got, err := decodeForwarded(b)
		if err != nil {
			t.Fatalf("%+v: %v", fp, err)
		}
		if len(fp.Payload) == 0 {
			fp.Payload = nil
		}
		if !reflect.DeepEqual(got, fp) {
			t.Fatalf("round trip: got %+v, want %+v", got, fp)
		}
		b[len(b)-1] ^= 0xff // the decoded proposal does not alias the body
		if len(fp.Payload) > 0 && !bytes.Equal(got.Payload, fp.Payload) {
			t.Fatal("decoded payload aliases the body")
		}
	}
}

func TestForwardedResultRoundTrip(t *testing.T) {
	for _, res := range []*cluster.Result{
		{Index: 42, Value: json.RawMessage(`{"id":"a1"}`)},
		{Index: 1 << 40, Value: json.RawMessage(`{"id":"a1"}`), Replayed: true},
		{Err: &cluster.CommandError{Code: cluster.CodeConflict, Message: "no", Fields: map[string]string{"status": "seen"}}},
		{Index: 7},
	} {
		b, err := encodeResult(res)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeResult(b)
		if err != nil {
			t.Fatalf("%+v: %v", res, err)
		}
		if !reflect.DeepEqual(got, res) {
			t.Fatalf("round trip: got %+v, want %+v", got, res)
		}
	}
}

// TestForwardedBodiesRefuseGarbage: truncated or oversized fields are
// errors, never a panic or a partial proposal.
func TestForwardedBodiesRefuseGarbage(t *testing.T) {
	good := encodeForwarded(&forwardedProposal{Route: "POST /v1/attendances", ActorID: "k1", Kind: "attendance.create",
		Idempotency: &cluster.Idempotency{Key: "k", Route: "POST /v1/attendances", BodyHash: "h"}})
	for name, body := range map[string][]byte{
		"empty":            nil,
		"unknown version":  {2, 0, 0, 0, 0},
		"truncated":        good[:len(good)-3],
		"bad flag":         append(encodeForwarded(&forwardedProposal{Route: "r", Kind: "k"})[:6:6], 9),
		"length too large": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"oversized field":  append([]byte{1, 0x81, 0x10}, make([]byte, 2049)...),
	} {
		if fp, err := decodeForwarded(body); err == nil {
			t.Errorf("%s: decoded %+v", name, fp)
		}
	}
	for name, body := range map[string][]byte{
		"empty":           nil,
		"unknown version": {2, 1, 0},
		"no flags":        {1, 5},
		"bad error":       {1, 5, resultErr, 3, 'x', 'y', 'z'},
	} {
		if res, err := decodeResult(body); err == nil {
			t.Errorf("%s: decoded %+v", name, res)
		}
	}
}

func TestIdempotencyRouteOf(t *testing.T) {
	answers := &routeRow{Method: "POST", Path: "/v1/attendances/:id/answers"}
	revoke := &routeRow{Method: "DELETE", Path: "/v1/keys/:id"}
	for _, tt := range []struct {
		row   *routeRow
		route string
		want  bool
	}{
		{answers, "POST /v1/attendances/{id}/answers", true},
		{answers, "POST /v1/attendances/att-1/answers", true},
		{answers, "POST /v1/attendances//answers", false},
		{answers, "POST /v1/attendances/att-1/confirm", false},
		{answers, "PUT /v1/attendances/att-1/answers", false},
		{answers, "POST /v1/keys", false},
		{answers, "POST /v1/attendances/a/b/answers", false},
		{answers, "POST", false},
		{revoke, "DELETE /v1/keys/key-1", true},
		{revoke, "DELETE /v1/keys", false},
	} {
		if got := idempotencyRouteOf(tt.row, tt.route); got != tt.want {
			t.Errorf("%s %s vs %q: %v, want %v", tt.row.Method, tt.row.Path, tt.route, got, tt.want)
		}
	}
}
