package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// bodyRows are the route table's rows that take a JSON body.
func bodyRows() []*routeRow {
	var out []*routeRow
	rows := routeTable()
	for i := range rows {
		if rows[i].Body != nil {
			out = append(out, &rows[i])
		}
	}
	return out
}

// FuzzRequestBodies is every route's request body decoder (decodeStrict
// into the route's body type), fed any bytes. A refusal is a 400 or 422
// problem, never a panic or another error; a body it accepts encodes and
// decodes again to the same value.
func FuzzRequestBodies(f *testing.F) {
	rows := bodyRows()
	if len(rows) == 0 {
		f.Fatal("no route takes a body")
	}
	for i, row := range rows {
		zero, _ := json.Marshal(row.Body)
		f.Add(uint8(i), zero)
	}
	for _, b := range []string{
		`{"complaint":"cut hand","context":{"age_weeks":6}}`,
		`{"complaint":"fever","patient":{"given_name":"Ann","family_name":"Smith","date_of_birth":"2024-01-31"}}`,
		`{"answers":[{"question":"q1","value":"not_sure"}]}`,
		`{"name":"Desk","role":"reception"}`,
		`{"a":1} {"b":2}`, `{"x":`, `[]`, `null`, `"\ud800"`, "{\"name\":\"\x00\"}",
	} {
		f.Add(uint8(0), []byte(b))
		f.Add(uint8(3), []byte(b))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		row := rows[int(which)%len(rows)]
		typ := reflect.TypeOf(row.Body)
		v := reflect.New(typ)
		err := decodeStrict(body, v.Interface())
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || (p.Status != 400 && p.Status != 422) {
				t.Fatalf("%s %s: refusal %v is not a 400/422 problem", row.Method, row.Path, err)
			}
			return
		}
		enc, err := json.Marshal(v.Interface())
		if err != nil {
			t.Fatalf("%s %s: accepted body does not encode: %v", row.Method, row.Path, err)
		}
		v2 := reflect.New(typ)
		if err := decodeStrict(enc, v2.Interface()); err != nil {
			t.Fatalf("%s %s: re-encoded body %s refused: %v", row.Method, row.Path, enc, err)
		}
		enc2, _ := json.Marshal(v2.Interface())
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("%s %s: not stable: %s then %s", row.Method, row.Path, enc, enc2)
		}
	})
}

// FuzzDecodeForwarded is the follower-to-leader proposal wire format: a
// refusal is an error, and what it accepts encodes back to a body that
// decodes to the same proposal.
func FuzzDecodeForwarded(f *testing.F) {
	f.Add(encodeForwarded(&forwardedProposal{Route: "POST /v1/attendances", ActorID: "k1", Kind: "attendance.create",
		Payload: []byte(`{"complaint":"cut hand"}`)}))
	f.Add(encodeForwarded(&forwardedProposal{Route: "POST /v1/keys", ActorID: "k2", Kind: "key.create",
		Idempotency: &cluster.Idempotency{Key: "abc", Route: "POST /v1/keys", BodyHash: "00"}, Payload: []byte(`{}`)}))
	f.Add([]byte{})
	f.Add([]byte{forwardWireV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		fp, err := decodeForwarded(body)
		if err != nil {
			return
		}
		again, err := decodeForwarded(encodeForwarded(fp))
		if err != nil {
			t.Fatalf("re-encoded proposal refused: %v", err)
		}
		if !reflect.DeepEqual(normal(fp), normal(again)) {
			t.Fatalf("round trip: %+v then %+v", fp, again)
		}
	})
}

func normal(fp *forwardedProposal) forwardedProposal {
	c := *fp
	if len(c.Payload) == 0 {
		c.Payload = nil
	}
	return c
}

// FuzzDecodeResult is the leader's answer to a forwarded proposal: a
// refusal is an error; what it accepts encodes and decodes to the same.
func FuzzDecodeResult(f *testing.F) {
	for _, r := range []*cluster.Result{
		{Index: 7, Value: json.RawMessage(`{"id":"a1"}`)},
		{Index: 9, Err: &cluster.CommandError{Code: cluster.CodeConflict, Message: "taken"}},
		{Index: 3, Replayed: true, Value: json.RawMessage(`{}`)},
	} {
		b, err := encodeResult(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeResult(body)
		if err != nil {
			return
		}
		b, err := encodeResult(res)
		if err != nil {
			t.Fatalf("accepted result does not encode: %v", err)
		}
		again, err := decodeResult(b)
		if err != nil {
			t.Fatalf("re-encoded result refused: %v", err)
		}
		b2, _ := encodeResult(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("not stable: %q then %q", b, b2)
		}
	})
}
