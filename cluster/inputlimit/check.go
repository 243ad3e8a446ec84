package inputlimit

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
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
//
// It runs in every command's Apply, so it is a single pass over the bytes
// that allocates only for what it reports, escaped strings and large
// objects' keys (a reference walk on encoding/json's token reader is the
// specification it is fuzzed against).
func Check(doc []byte, now time.Time) map[string]string {
	return checkWith(doc, now, LimitOf)
}

// checkWith is Check with a table of limits by field name.
func checkWith(doc []byte, now time.Time, limitOf func(field string) Limit) map[string]string {
	if !utf8.Valid(doc) {
		return map[string]string{BodyField: "not valid UTF-8"}
	}
	s := &scanner{b: doc, now: now, limitOf: limitOf}
	s.ws()
	err := s.value("", 0)
	if err == nil {
		s.ws()
		if s.i < len(s.b) {
			err = errors.New("malformed JSON: data after the value")
		}
	}
	if err != nil && !errors.Is(err, errEnough) {
		return map[string]string{BodyField: err.Error()}
	}
	if len(s.out) == 0 {
		return nil
	}
	return s.out
}

var (
	errEnough    = errors.New("enough problems")
	errMalformed = errors.New("malformed JSON")
)

// seg is one step of the path to the value being scanned: an object key
// or an array index.
type seg struct {
	key   string
	index int // -1 for a key
}

type scanner struct {
	b       []byte
	i       int
	now     time.Time
	limitOf func(field string) Limit
	out     map[string]string
	path    []seg  // built into a string only when a problem is reported
	buf     []byte // an escaped string, decoded
}

// pathString is the field path of the current value ("a.b[2].c").
func (s *scanner) pathString() string {
	var sb strings.Builder
	for _, p := range s.path {
		if p.index >= 0 {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(p.index))
			sb.WriteByte(']')
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(p.key)
	}
	return sb.String()
}

func (s *scanner) problemAt(path, msg string, overwrite bool) error {
	if path == "" {
		path = BodyField
	}
	if s.out == nil {
		s.out = map[string]string{}
	}
	if _, dup := s.out[path]; !dup || overwrite {
		s.out[path] = msg
	}
	if len(s.out) >= maxProblems {
		return errEnough
	}
	return nil
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; field is the name its limit is looked up by
// (the nearest object key).
func (s *scanner) value(field string, depth int) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: unexpected end", errMalformed)
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return fmt.Errorf("nested deeper than %d", MaxDepth)
		}
		s.i++
		if c == '{' {
			return s.object(depth)
		}
		return s.array(field, depth)
	case c == '"':
		str, err := s.str()
		if err != nil {
			return err
		}
		if msg := checkBytes(str, s.limitOf(field)); msg != "" {
			return s.problemAt(s.pathString(), msg, false)
		}
		if strings.EqualFold(field, "date_of_birth") {
			if msg := checkDateOfBirth(string(str), s.now); msg != "" {
				return s.problemAt(s.pathString(), msg, false)
			}
		}
		return nil
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return fmt.Errorf("%w: unexpected %q at byte %d", errMalformed, s.b[s.i], s.i)
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return fmt.Errorf("%w: bad literal at byte %d", errMalformed, s.i)
	}
	s.i += len(word)
	return nil
}

func (s *scanner) number() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case digits() == 0:
		return fmt.Errorf("%w: bad number at byte %d", errMalformed, start)
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return fmt.Errorf("%w: bad number at byte %d", errMalformed, start)
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return fmt.Errorf("%w: bad number at byte %d", errMalformed, start)
		}
	}
	return nil
}

// str scans a string at s.i (the opening quote) and returns its decoded
// bytes: a slice of the document when it has no escapes, else s.buf
// (valid until the next call). Unpaired surrogate escapes decode to
// U+FFFD, as encoding/json decodes them.
func (s *scanner) str() ([]byte, error) {
	s.i++ // "
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			out := s.b[start:s.i]
			s.i++
			return out, nil
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return nil, fmt.Errorf("%w: control character in a string at byte %d", errMalformed, s.i)
		default:
			s.i++
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errMalformed)
}

func (s *scanner) escaped(start int) ([]byte, error) {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf, nil
		case c < 0x20:
			return nil, fmt.Errorf("%w: control character in a string at byte %d", errMalformed, s.i)
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4(s.i)
			if !ok {
				return nil, fmt.Errorf("%w: bad \\u escape at byte %d", errMalformed, s.i)
			}
			s.i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					r2, ok2 = s.hex4(s.i + 2)
				}
				if d := utf16.DecodeRune(r, r2); ok2 && d != unicode.ReplacementChar {
					r = d
					s.i += 6
				} else {
					r = unicode.ReplacementChar
				}
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, fmt.Errorf("%w: bad escape at byte %d", errMalformed, s.i-1)
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errMalformed)
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// smallObject is how many keys an object's duplicate check compares
// pairwise before it switches to a map of folded keys.
const smallObject = 16

func (s *scanner) object(depth int) error {
	var keys []string          // the keys so far, pairwise compared while few
	var folded map[string]bool // then by case-folded form
	seen := func(k string) bool {
		if folded != nil {
			return folded[foldKey(k)]
		}
		for _, o := range keys {
			if strings.EqualFold(o, k) {
				return true
			}
		}
		return false
	}
	add := func(k string) {
		if folded == nil && len(keys) < smallObject {
			keys = append(keys, k)
			return
		}
		if folded == nil {
			folded = make(map[string]bool, 2*smallObject)
			for _, o := range keys {
				folded[foldKey(o)] = true
			}
		}
		folded[foldKey(k)] = true
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return fmt.Errorf("%w: object key not a string", errMalformed)
		}
		kb, err := s.str()
		if err != nil {
			return err
		}
		key := string(kb)
		parent := s.pathString()
		s.path = append(s.path, seg{key: key, index: -1})
		switch {
		case seen(key):
			if err := s.problemAt(s.pathString(), "duplicate key", true); err != nil {
				return err
			}
		case len(key) > MaxKeyLen:
			if err := s.problemAt(parent, fmt.Sprintf("a key is longer than %d bytes", MaxKeyLen), false); err != nil {
				return err
			}
		default:
			add(key)
			if msg := checkBytes(kb, Limit{MaxKeyLen, Code}); msg != "" {
				if err := s.problemAt(parent, "a key: "+msg, false); err != nil {
					return err
				}
			}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return fmt.Errorf("%w: expected ':' after a key", errMalformed)
		}
		s.i++
		s.ws()
		if err := s.value(key, depth+1); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.ws()
		if s.i >= len(s.b) {
			return fmt.Errorf("%w: unexpected end", errMalformed)
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or '}' at byte %d", errMalformed, s.i)
		}
	}
}

func (s *scanner) array(field string, depth int) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.ws()
		s.path = append(s.path, seg{index: n})
		if err := s.value(field, depth+1); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.ws()
		if s.i >= len(s.b) {
			return fmt.Errorf("%w: unexpected end", errMalformed)
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or ']' at byte %d", errMalformed, s.i)
		}
	}
}

// foldKey is k with every character replaced by the smallest member of
// its simple case-folding orbit: two keys are strings.EqualFold exactly
// when their foldKeys are equal.
func foldKey(k string) string {
	var sb strings.Builder
	for _, r := range k {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		sb.WriteRune(m)
	}
	return sb.String()
}
