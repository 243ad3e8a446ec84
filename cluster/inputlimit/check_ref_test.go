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

// checkReference is Check as first written, on encoding/json's token
// reader: the specification the scanner is fuzzed against
// (FuzzCheckMatchesReference).
func checkReference(doc []byte, now time.Time) map[string]string {
	if !utf8.Valid(doc) {
		return map[string]string{BodyField: "not valid UTF-8"}
	}
	w := &refWalker{dec: json.NewDecoder(bytes.NewReader(doc)), now: now, out: map[string]string{}}
	w.dec.UseNumber()
	if err := w.value("", "", 0); err != nil && !errors.Is(err, errRefEnough) {
		return map[string]string{BodyField: err.Error()}
	}
	if len(w.out) == 0 {
		return nil
	}
	return w.out
}

var errRefEnough = errors.New("enough problems")

type refWalker struct {
	dec *json.Decoder
	now time.Time
	out map[string]string
}

func (w *refWalker) problem(path, msg string) error {
	if path == "" {
		path = BodyField
	}
	if _, dup := w.out[path]; !dup {
		w.out[path] = msg
	}
	if len(w.out) >= maxProblems {
		return errRefEnough
	}
	return nil
}

func (w *refWalker) value(path, field string, depth int) error {
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
		return w.array(path, field, depth)
	case string:
		if msg := checkString(t, LimitOf(field)); msg != "" {
			return w.problem(path, msg)
		}
		if strings.EqualFold(field, "date_of_birth") {
			if msg := checkDateOfBirth(t, w.now); msg != "" {
				return w.problem(path, msg)
			}
		}
	}
	return nil
}

func (w *refWalker) object(path string, depth int) error {
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
		switch folded := foldKey(key); {
		case seen[folded]:
			dk := kp
			if dk == "" {
				dk = BodyField
			}
			w.out[dk] = "duplicate key" // says more than what the first value broke
			if len(w.out) >= maxProblems {
				return errRefEnough
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
		if err := w.value(kp, key, depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	if err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}

func (w *refWalker) array(path, field string, depth int) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(fmt.Sprintf("%s[%d]", path, i), field, depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // ']'
	if err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}

// joinPath is the field path of a key below path ("patient.given_name").
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
