package inputlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// BodyField is the field name of a problem with the document as a whole.
const BodyField = "(body)"

// maxProblems bounds the field errors one Check reports.
const maxProblems = 20

// Check walks a JSON document and returns its problems by field path
// ("patient.given_name", "services[3].address"; nil when none): bytes
// that are not UTF-8, an object key given twice (also differing only in
// case, which encoding/json would fold into one field), keys longer than
// MaxKeyLen, nesting deeper than MaxDepth, strings over their field's
// limit or holding characters their class refuses (Fields), and a
// date_of_birth before 1900 or after now's date (zero now: not checked
// against the clock).
func Check(doc []byte, now time.Time) map[string]string {
	if !utf8.Valid(doc) {
		return map[string]string{BodyField: "not valid UTF-8"}
	}
	w := &walker{dec: json.NewDecoder(bytes.NewReader(doc)), now: now, out: map[string]string{}}
	w.dec.UseNumber()
	if err := w.value("", 0); err != nil && !errors.Is(err, errEnough) {
		return map[string]string{BodyField: err.Error()}
	}
	if len(w.out) == 0 {
		return nil
	}
	return w.out
}

var errEnough = errors.New("enough problems")

type walker struct {
	dec *json.Decoder
	now time.Time
	out map[string]string
}

func (w *walker) problem(path, msg string) error {
	if path == "" {
		path = BodyField
	}
	if _, dup := w.out[path]; !dup {
		w.out[path] = msg
	}
	if len(w.out) >= maxProblems {
		return errEnough
	}
	return nil
}

func (w *walker) value(path string, depth int) error {
	tok, err := w.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("malformed JSON: unexpected end")
		}
		return fmt.Errorf("malformed JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return fmt.Errorf("nested deeper than %d", MaxDepth)
		}
		if t == '{' {
			return w.object(path, depth)
		}
		return w.array(path, depth)
	case string:
		field := lastKey(path)
		if msg := checkString(t, LimitOf(field)); msg != "" {
			return w.problem(path, msg)
		}
		if field == "date_of_birth" {
			if msg := checkDateOfBirth(t, w.now); msg != "" {
				return w.problem(path, msg)
			}
		}
	}
	return nil
}

func (w *walker) object(path string, depth int) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("malformed JSON: object key not a string")
		}
		kp := joinPath(path, key)
		switch folded := strings.ToLower(key); {
		case seen[folded]:
			w.out[kp] = "duplicate key" // says more than what the first value broke
			if len(w.out) >= maxProblems {
				return errEnough
			}
		case len(key) > MaxKeyLen:
			if err := w.problem(path, fmt.Sprintf("a key is longer than %d bytes", MaxKeyLen)); err != nil {
				return err
			}
		default:
			seen[folded] = true
			if msg := checkString(key, Limit{MaxKeyLen, Code}); msg != "" {
				if err := w.problem(path, "a key: "+msg); err != nil {
					return err
				}
			}
		}
		if err := w.value(kp, depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	if err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}

func (w *walker) array(path string, depth int) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // ']'
	if err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}
