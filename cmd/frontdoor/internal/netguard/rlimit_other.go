//go:build !linux

package netguard

import "errors"

// RaiseFileLimit is supported on Linux only; elsewhere it changes nothing
// and says so.
func RaiseFileLimit() (old, new uint64, err error) {
	return 0, 0, errors.New("raising RLIMIT_NOFILE is supported on Linux only")
}
