package netguard

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises the soft limit on open files (RLIMIT_NOFILE) to the
// hard limit and returns both soft limits, before and after. The Go runtime
// already does this for programs that import os (since Go 1.19); calling
// it makes the limit explicit and gives start-up something to log.
func RaiseFileLimit() (old, new uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	old = lim.Cur
	if lim.Cur >= lim.Max {
		return old, lim.Cur, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return old, old, fmt.Errorf("raise RLIMIT_NOFILE from %d to %d: %w", old, lim.Max, err)
	}
	return old, lim.Max, nil
}
