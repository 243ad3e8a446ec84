package routing

import (
	"errors"
	"testing"
)

func TestValidateNHSNumber(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
		norm string
	}{
		{"valid", "9434765919", nil, "9434765919"},
		{"valid spaced", "943 476 5919", nil, "9434765919"},
		{"valid hyphenated", "943-476-5919", nil, "9434765919"},
		{"valid second number", "4010232137", nil, "4010232137"},
		{"wrong check digit", "9434765918", ErrNHSNumberCheck, ""},
		{"check digit would be 10", "1000000010", ErrNHSNumberCheckTen, ""},
		{"too short", "943476591", ErrNHSNumberLength, ""},
		{"too long", "94347659190", ErrNHSNumberLength, ""},
		{"empty", "", ErrNHSNumberLength, ""},
		{"letters", "94347659A9", ErrNHSNumberCharacters, ""},
		{"all zeros", "0000000000", ErrNHSNumberRepeated, ""},
		{"all ones", "1111111111", ErrNHSNumberRepeated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNHSNumber(tt.in)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ValidateNHSNumber(%q) = %v, want %v", tt.in, err, tt.want)
			}
			got, err := NormaliseNHSNumber(tt.in)
			if (err == nil) != (tt.want == nil) || got != tt.norm {
				t.Fatalf("NormaliseNHSNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.norm)
			}
		})
	}
}

func TestFormatNHSNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"9434765919", "943 476 5919"},
		{"943 476 5919", "943 476 5919"},
		{" 9434765919 ", "943 476 5919"},
		{"12345", "12345"},
		{"abcdefghij", "abcdefghij"},
	}
	for _, tt := range tests {
		if got := FormatNHSNumber(tt.in); got != tt.want {
			t.Errorf("FormatNHSNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
