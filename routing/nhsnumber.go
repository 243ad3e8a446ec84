package routing

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by ValidateNHSNumber, wrapped with detail.
var (
	ErrNHSNumberLength     = errors.New("nhs number must have 10 digits")
	ErrNHSNumberCharacters = errors.New("nhs number may contain only digits and spaces")
	ErrNHSNumberCheckTen   = errors.New("nhs number check digit would be 10, so the number is never issued")
	ErrNHSNumberCheck      = errors.New("nhs number check digit does not match")
	ErrNHSNumberRepeated   = errors.New("nhs number made of one repeated digit is not valid")
)

// NormaliseNHSNumber strips spaces (and hyphens) and returns the ten digits
// if the number passes the Modulus 11 check.
func NormaliseNHSNumber(s string) (string, error) {
	var b strings.Builder
	b.Grow(10)
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", fmt.Errorf("nhs number %q: %w", s, ErrNHSNumberCharacters)
		}
	}
	d := b.String()
	if len(d) != 10 {
		return "", fmt.Errorf("nhs number %q has %d digits: %w", s, len(d), ErrNHSNumberLength)
	}
	if strings.Count(d, d[:1]) == 10 {
		return "", fmt.Errorf("nhs number %q: %w", s, ErrNHSNumberRepeated)
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return "", fmt.Errorf("nhs number %q: %w", s, ErrNHSNumberCheckTen)
	}
	if got := int(d[9] - '0'); got != check {
		return "", fmt.Errorf("nhs number %q: check digit %d, expected %d: %w", s, got, check, ErrNHSNumberCheck)
	}
	return d, nil
}

// ValidateNHSNumber reports whether s is a valid NHS number: ten digits
// (spaces allowed, as in "943 476 5919"), not one repeated digit, with a
// correct Modulus 11 check digit. Errors wrap the Err* sentinels.
func ValidateNHSNumber(s string) error {
	_, err := NormaliseNHSNumber(s)
	return err
}

// FormatNHSNumber returns the number in the 3-3-4 display form
// ("943 476 5919"). Input that does not hold exactly ten digits after
// removing spaces and hyphens is returned unchanged.
func FormatNHSNumber(s string) string {
	d := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if len(d) != 10 {
		return s
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return s
		}
	}
	return d[:3] + " " + d[3:6] + " " + d[6:]
}
