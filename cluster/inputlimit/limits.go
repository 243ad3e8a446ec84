// Package inputlimit holds the input limits of every command payload and
// request body (issue 18): one table of maximum lengths by JSON field
// name, strict UTF-8, no control or bidirectional-formatting characters
// where they have no business, no duplicate object keys, and plausible
// dates of birth. It is pure (no clock, no I/O): the HTTP layer runs Check
// on a request body before proposing (a clear 422, nothing proposed), and
// every command's Apply runs it again from logic version 8 with the
// command's own time, so every replica refuses the same entries.
package inputlimit

import (
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London must load on machines without zoneinfo
)

// Class says which characters a string field may hold.
type Class int

const (
	// Name: a person's, service's or key's name. No control characters
	// at all (tab and newline included), no bidirectional formatting.
	Name Class = iota
	// Code: identifiers, codes, enumerations, dates, postcodes, numbers,
	// URLs. As Name.
	Code
	// Text: free text (notes, reasons, addresses, the complaint). Tab,
	// newline and carriage return allowed; other controls and
	// bidirectional formatting not.
	Text
)

// Limit is one field's maximum length (bytes of UTF-8) and class.
type Limit struct {
	Max   int
	Class Class
}

// Fields is the one table of limits, by JSON field name (an array's
// elements take the array's). A field not listed takes Default. Lengths
// are in bytes of UTF-8; the NHS Data Dictionary's lengths (person given
// and family name an35, address lines 5 x an35, postcode an8, NHS number
// n10) are the floor, with room for names from other systems.
var Fields = map[string]Limit{
	// People and names.
	"given_name":          {100, Name},
	"family_name":         {100, Name},
	"name":                {200, Name}, // service, practice, key holder, directory, protocol file
	"set_by":              {200, Name},
	"registered_practice": {200, Name}, // an ODS code or a practice's name, as the caller says it
	"title":               {200, Name},
	"approved_by":         {200, Name}, // who approved a retention purge
	// Identifiers and codes.
	"id":                  {64, Code},
	"patient_id":          {64, Code},
	"service_id":          {64, Code},
	"attendance_id":       {64, Code},
	"dispatch_id":         {64, Code},
	"webhook_id":          {128, Code},
	"case_ref":            {64, Code},
	"nhs_number":          {12, Code}, // ten digits, or 3-3-4 with spaces
	"ods_code":            {10, Code},
	"gp_practice":         {10, Code},
	"postcode":            {10, Code},
	"catchment":           {10, Code},
	"phone":               {32, Code},
	"callback_number":     {32, Code},
	"code":                {16, Code},
	"discriminator":       {16, Code},
	"symptom_group":       {16, Code},
	"protocol":            {64, Code},
	"question":            {64, Code},
	"need":                {64, Code},
	"service":             {64, Code},
	"flags":               {64, Code},
	"channel":             {32, Code},
	"tier":                {32, Code},
	"kind":                {32, Code},
	"status":              {32, Code},
	"type":                {32, Code},
	"role":                {32, Code},
	"sex":                 {16, Code},
	"timeframe":           {32, Code},
	"pregnant":            {32, Code},
	"consciousness":       {32, Code},
	"days":                {32, Code},
	"date":                {10, Code},
	"dates":               {10, Code},
	"date_of_birth":       {10, Code},
	"start":               {5, Code},
	"end":                 {5, Code},
	"set_at":              {40, Code},
	"url":                 {2048, Code},
	"secret":              {128, Code},
	"hosts":               {253, Code},
	"cidrs":               {64, Code},
	"key":                 {128, Code},
	"hash":                {128, Code},
	"alert_id":            {64, Code},
	"registration_id":     {64, Code},
	"centre_postcode":     {10, Code},
	"extra_bank_holidays": {10, Code},
	"result":              {32, Code},
	"entity":              {140, Code}, // an audited record: kind/id
	"route":               {200, Code}, // the route a record read was served on
	"node":                {64, Code},  // a node id
	"node_id":             {64, Code},
	// Joining a node (POST /v1/cluster/join).
	"http_addr": {262, Code}, // a host name and a port
	"raft_addr": {262, Code},
	"token":     {256, Code},
	"version":   {64, Code},
	"csr":       {8 << 10, Text}, // a PEM certificate request
	// Free text.
	"value":         {500, Text}, // an answer: an option, a number, or a few words
	"outcome":       {200, Text},
	"carer_contact": {200, Text},
	"safeguarding":  {500, Text},
	"address":       {500, Text}, // five lines of 35, the town and more
	"complaint":     {1000, Text},
	// A BaRS referral (care/referral.go): the sender's ids, the target
	// service, and each Observation as sent.
	"message_id":     {64, Code},
	"appointment_id": {64, Code}, // a BaRS booking (care/booking.go): the sender's Appointment id
	"at":             {40, Code}, // the time a booking wants (RFC 3339)
	// The outline of a FHIR message body (the rest of a FHIR Bundle is
	// checked against FHIRFields, fhir.go).
	"resourcetype":        {64, Code},
	"op":                  {16, Code},  // a JSON Patch operation (PATCH of a FHIR resource)
	"path":                {200, Code}, // its JSON Pointer
	"fullurl":             {500, Code},
	"service_request_id":  {64, Code},
	"target":              {100, Code},
	"observation_id":      {64, Code},
	"code_system":         {500, Code},
	"observation_code":    {200, Code},
	"observation_display": {1000, Text},
	"observation_value":   {4000, Text},
	"observation_note":    {4000, Text},
	"note":                {2000, Text},
	"reason":              {2000, Text},
	"access_notes":        {2000, Text},
	"error":               {2000, Text},
	"content":             {256 << 10, Text}, // a protocol file's YAML (the largest is under 50 KB)
}

// Default is the limit of a string field not in Fields (payloads of
// system commands and the bootstrap directory; every request body's
// fields are listed, TestEveryBodyFieldHasALimit).
var Default = Limit{1000, Text}

// Structural limits.
const (
	MaxKeyLen = 128 // an object key: a field name, or a map key (a postcode, a file name)
	MaxDepth  = 32  // nesting of objects and arrays
)

// EarliestDateOfBirth is the earliest plausible date of birth.
const EarliestDateOfBirth = "1900-01-01"

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(fmt.Sprintf("inputlimit: load Europe/London: %v", err))
	}
	return loc
}()

// LimitOf is the limit of a field.
func LimitOf(field string) Limit {
	if l, ok := Fields[strings.ToLower(field)]; ok {
		return l
	}
	return Default
}

// Table is Fields as lines "field max class", sorted (README).
func Table() []string {
	names := make([]string, 0, len(Fields))
	for k := range Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%s %d %s", n, Fields[n].Max, Fields[n].Class)
	}
	return out
}

func (c Class) String() string {
	switch c {
	case Name:
		return "name"
	case Code:
		return "code"
	}
	return "text"
}

// checkString returns what is wrong with s as a value of a field of
// limit l ("" when nothing).
func checkString(s string, l Limit) string {
	if len(s) > l.Max {
		return fmt.Sprintf("too long: %d bytes, at most %d", len(s), l.Max)
	}
	for _, r := range s {
		if msg := runeProblem(r, l.Class); msg != "" {
			return msg
		}
	}
	return ""
}

// checkBytes is checkString of a decoded JSON string's bytes.
func checkBytes(b []byte, l Limit) string {
	if len(b) > l.Max {
		return fmt.Sprintf("too long: %d bytes, at most %d", len(b), l.Max)
	}
	for _, r := range string(b) { // no copy: the compiler ranges over b
		if msg := runeProblem(r, l.Class); msg != "" {
			return msg
		}
	}
	return ""
}

// runeProblem says why r may not appear in a field of class c ("" when
// it may).
func runeProblem(r rune, c Class) string {
	switch {
	case r >= 0x20 && r < 0x7f:
		return "" // printable ASCII, the common case
	case r == '\uFFFD':
		return "not valid UTF-8 (or an unpaired surrogate escape)"
	case isBidi(r):
		return fmt.Sprintf("bidirectional formatting character U+%04X not allowed", r)
	case r == '\t' || r == '\n' || r == '\r':
		if c != Text {
			return fmt.Sprintf("control character U+%04X not allowed", r)
		}
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return fmt.Sprintf("control character U+%04X not allowed", r)
	case r == '\u2028' || r == '\u2029' || r == '\uFEFF':
		if c != Text || r == '\uFEFF' {
			return fmt.Sprintf("character U+%04X not allowed", r)
		}
	}
	return ""
}

// isBidi reports the bidirectional formatting characters: the marks
// (U+200E, U+200F, U+061C), embeddings and overrides (U+202A-U+202E) and
// isolates (U+2066-U+2069).
func isBidi(r rune) bool {
	return r == '\u200E' || r == '\u200F' || r == '\u061C' || (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// checkDateOfBirth refuses a date of birth before EarliestDateOfBirth or
// after now's date in London. A value that is not YYYY-MM-DD is left to
// the command's own validation.
func checkDateOfBirth(s string, now time.Time) string {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return ""
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return ""
	}
	if s < EarliestDateOfBirth {
		return "not plausible: before " + EarliestDateOfBirth
	}
	if !now.IsZero() && s > now.In(london).Format("2006-01-02") {
		return "in the future"
	}
	return ""
}

// Clean makes s acceptable as free text of at most max bytes: invalid
// UTF-8, U+FFFD, control characters other than tab, CR and LF, and
// bidirectional formatting dropped, then cut at a character boundary. For
// text the node itself puts in a command (a delivery's error message).
func Clean(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "") {
		if checkString(string(r), Limit{4, Text}) != "" {
			continue
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
