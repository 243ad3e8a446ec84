package cluster

import (
	"errors"

	"golang.org/x/sys/unix"
)

var errPageOutUnsupported = errors.New("madvise MADV_PAGEOUT not supported")

// pageOut asks the kernel to reclaim the pages of [start, start+length)
// (madvise MADV_PAGEOUT: clean file pages are dropped, pages not yet
// written back are only unmapped; contents are never discarded). The range is passed as numbers, not as a slice over
// memory the process does not own as Go memory.
func pageOut(start, length uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, length, unix.MADV_PAGEOUT)
	switch errno {
	case 0:
		return nil
	case unix.EINVAL:
		return errPageOutUnsupported
	default:
		return errno
	}
}
