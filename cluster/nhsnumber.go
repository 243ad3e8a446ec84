package cluster

import "errors"

// validateNHSNumber applies the NHS number Modulus 11 check.
//
// TODO(issue 3): the routing package owns this check (registration lives
// there); swap this body for the routing function once it has landed and
// delete the copy. Kept tiny and private so there is one place to swap.
func validateNHSNumber(s string) error {
	if len(s) != 10 {
		return errors.New("must be 10 digits")
	}
	sum := 0
	allZero := true
	for i := 0; i < 10; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return errors.New("must be 10 digits")
		}
		if c != '0' {
			allZero = false
		}
		if i < 9 {
			sum += int(c-'0') * (10 - i)
		}
	}
	if allZero {
		return errors.New("not a valid NHS number")
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 || check != int(s[9]-'0') {
		return errors.New("fails the Modulus 11 check")
	}
	return nil
}
