package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
)

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, then holds the body to the input limits (inputlimit:
// lengths, UTF-8, control and bidi characters, duplicate keys, dates of
// birth against this node's clock). Malformed JSON is a 400 problem; an
// unknown field, a value of the wrong type or a broken limit is a 422
// problem naming the field.
func decodeStrict(body []byte, v any) error {
	if err := decodeJSON(body, v); err != nil {
		return err
	}
	if f := inputlimit.Check(body, time.Now()); f != nil {
		return invalid("the request breaks the input limits", f)
	}
	return nil
}

// decodeJSON is decodeStrict without the input limits.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body has data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("malformed JSON: unexpected end of body")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return invalid("a field has the wrong type", map[string]string{field: "must be " + jsonKind(typ.Type.Kind().String())})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return invalid("unknown field "+name, map[string]string{name: "unknown field"})
	}
	return badRequest("malformed JSON: " + err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	}
	return "a number"
}
