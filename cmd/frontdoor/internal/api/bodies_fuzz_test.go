package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// decodedTypes are the types JSON from outside is decoded into: every
// route's request body, the join request (its row has no Body: the join
// token travels in it) and every command payload the state machine
// decodes (what handlers propose after building it from a body, and what a
// follower forwards).
func decodedTypes() []reflect.Type {
	seen := map[reflect.Type]bool{}
	var out []reflect.Type
	add := func(v any) {
		t := reflect.TypeOf(v)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, r := range bodyRows() {
		add(r.Body)
	}
	for _, v := range []any{
		joinBody{},
		access.KeyCreate{}, access.KeyRevoke{},
		care.AlertAck{}, care.AttendanceAddress{}, care.AttendanceCheckIn{}, care.AttendanceAnswers{},
		care.AttendanceObservations{}, care.AttendanceConfirm{}, care.AttendanceOverride{},
		care.AttendanceStatusChange{}, care.PatientCreate{}, care.AttendancePatient{}, care.RegistrationCreate{},
		care.RegistrationStatus{}, care.DispatchAccept{}, care.DispatchDecline{}, care.DispatchStatusChange{},
		care.DispatchDeliveryReport{}, care.DispatchEscalate{}, care.AttendanceCreate{}, care.AttendanceClinicianLapsed{},
		care.ReferralReceive{}, care.ReferralCancel{}, care.BookingCreate{}, care.BookingCancel{},
		routing.Directory{}, routing.Service{}, directory.ServiceStatus{}, directory.ServiceException{},
		directory.BankHolidays{}, directory.Import{}, protocolset.ProtocolsLoad{}, protocolset.ProtocolUpload{}, protocolset.ProtocolActivate{},
	} {
		add(v)
	}
	return out
}

// fuzzNow is the clock Validate methods that take one are called with.
var fuzzNow = time.Date(2026, 12, 5, 14, 30, 0, 0, time.UTC)

// validate calls v's Validate method, whichever of the repository's
// signatures it has: the field problems, and whether it has one.
func validate(v reflect.Value) (map[string]string, bool) {
	m := v.MethodByName("Validate")
	if !m.IsValid() {
		return nil, false
	}
	var args []reflect.Value
	switch mt := m.Type(); {
	case mt.NumIn() == 0:
	case mt.NumIn() == 1 && mt.In(0) == reflect.TypeOf(time.Time{}):
		args = []reflect.Value{reflect.ValueOf(fuzzNow)}
	case mt.NumIn() == 1 && mt.In(0).Kind() == reflect.Bool:
		args = []reflect.Value{reflect.ValueOf(false)}
	default:
		return nil, false
	}
	out := m.Call(args)
	if len(out) != 1 {
		return nil, false
	}
	switch r := out[0].Interface().(type) {
	case map[string]string:
		return r, true
	case error:
		if r != nil {
			return map[string]string{"": r.Error()}, true
		}
		return nil, true
	}
	return nil, false
}

// applyDecode is how Apply reads a payload from logic version 8: the
// input limits first (clinic's withInputLimits), then cluster.DecodeStrict.
func applyDecode(body []byte, v any) error {
	if f := inputlimit.Check(body, time.Now()); f != nil {
		return fmt.Errorf("input limits: %v", f)
	}
	return cluster.DecodeStrict(body, v)
}

// FuzzBodyDecoders feeds any bytes to the HTTP layer's strict decoder
// (decodeStrict) and the state machine's (applyDecode) for every
// type JSON from outside is decoded into. Properties: no panic; the HTTP
// decoder's refusal is a 400/422 problem and it accepts nothing but one
// valid JSON value; on valid JSON the two decoders agree (a body the
// handler accepted is a payload Apply reads the same way, on every node);
// an accepted value's Validate does not panic, and the value encodes to
// JSON both decoders read back to a value that encodes the same and
// validates the same (what a handler proposes with proposeJSON is what it
// validated).
func FuzzBodyDecoders(f *testing.F) {
	types := decodedTypes()
	for i, typ := range types {
		zero, _ := json.Marshal(reflect.New(typ).Interface())
		f.Add(uint8(i), zero)
		f.Add(uint8(i), []byte(`{}`))
	}
	for _, b := range []string{
		`{"complaint":"cut hand","context":{"age_weeks":6}}`,
		`{"patient":{"given_name":"Ada","family_name":"Lovelace","date_of_birth":"1990-12-10","nhs_number":"9434765919","postcode":"DY1 1AA"},"complaint":"sore throat"}`,
		`{"given_name":"Ann","family_name":"Smith","date_of_birth":"2024-01-31","nhs_number":"9434765919"}`,
		`{"answers":[{"question":"q1","value":"not_sure"},{"question":"q2","value":"38.5"}]}`,
		`{"respiratory_rate":22,"spo2":95,"on_oxygen":false,"systolic_bp":120,"pulse":90,"consciousness":"alert","temperature_c":37.9}`,
		`{"name":"Desk","role":"reception"}`, `{"name":"Team","role":"responder","service_id":"rrt-1"}`,
		`{"id":"n2","raft_addr":"10.0.0.2:7000","http_addr":"10.0.0.2:8080","token":"t"}`,
		`{"tier":"gp","timeframe":"within_6h","reason":"seen"}`, `{"status":"on_scene","note":"x"}`,
		`{"eta":"2026-12-05T15:00:00Z"}`, `{"eta":"2026-12-05T15:00:00+01:00"}`, `{"version":3}`, `{"dates":["2026-12-25"]}`,
		`{"content":"id: x\nversion: 1\n"}`, `{"files":[{"name":"a.yaml","content":"id: a"}]}`,
		`{} `, `{}]`, `{}}`, `{} {}`, `{"a":1}`, `{"version":1e400}`, `{"version":1.5}`, `{"version":-0}`,
		`{"note":"\ud800"}`, "{\"note\":\"\xff\"}", `{"Version":2}`, `{"version":1,"VERSION":2}`, `null`, `[]`, `""`, "\xef\xbb\xbf{}",
		"\u00a0", "", "  ",
	} {
		for i := range types {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		typ := types[int(which)%len(types)]
		v := reflect.New(typ)
		err := decodeStrict(body, v.Interface())
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || (p.Status != 400 && p.Status != 422) {
				t.Fatalf("%v: refusal %v is not a 400/422 problem", typ, err)
			}
		} else if !json.Valid(body) {
			t.Fatalf("%v: accepted %q, which is not one JSON value", typ, body)
		}
		fsm := reflect.New(typ)
		ferr := applyDecode(body, fsm.Interface())
		if json.Valid(body) {
			if (err == nil) != (ferr == nil) {
				t.Fatalf("%v %q: the handler's decoder says %v, Apply's %v", typ, body, err, ferr)
			}
			if err == nil && !reflect.DeepEqual(v.Interface(), fsm.Interface()) {
				t.Fatalf("%v %q: the decoders read different values", typ, body)
			}
		}
		if err != nil {
			return
		}
		fields, _ := validate(v)
		enc, err := json.Marshal(v.Interface())
		if err != nil {
			t.Fatalf("%v: accepted value does not encode: %v", typ, err)
		}
		v2 := reflect.New(typ)
		if err := decodeStrict(enc, v2.Interface()); err != nil {
			t.Fatalf("%v: %s, re-encoded, refused: %v", typ, enc, err)
		}
		if err := applyDecode(enc, reflect.New(typ).Interface()); err != nil {
			t.Fatalf("%v: %s, re-encoded, refused by Apply's decoder: %v", typ, enc, err)
		}
		if enc2, _ := json.Marshal(v2.Interface()); !bytes.Equal(enc, enc2) {
			t.Fatalf("%v: not stable: %s then %s", typ, enc, enc2)
		}
		if fields2, _ := validate(v2); !reflect.DeepEqual(fields, fields2) {
			t.Fatalf("%v %q: validates as %v, re-encoded as %v", typ, body, fields, fields2)
		}
	})
}
