//go:build !linux

package cluster

import "errors"

var errPageOutUnsupported = errors.New("paging out mapped files is only done on Linux")

func pageOut(start, length uintptr) error { return errPageOutUnsupported }
