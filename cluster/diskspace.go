package cluster

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// A node short of disk space must not take writes it may be unable to
// store: Badger dies of SIGBUS writing a mapped file on a full disk, again
// on every restart. The store measures the free space of its data dir every
// diskCheckEvery; below MinFreeBytes it refuses new entries (the leader's
// proposals fail with ErrDiskFull, a 503; the raft log store refuses
// entries, so a follower falls behind instead of crashing), a leader hands
// leadership over, and the node reports itself not ready. When space
// returns it takes entries again and catches up by itself.
const (
	diskCheckEvery      = time.Second
	defaultMinFreeBytes = 256 << 20
)

// ErrDiskFull: this node is short of disk space and takes no writes.
var ErrDiskFull = errors.New("disk space low on this node: it takes no writes until space is freed")

// statfsFree is the space available to this process under dir.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// DiskLow says why this node takes no writes for want of space ("" when it
// has enough).
func (s *Store) DiskLow() string {
	if p := s.diskLow.Load(); p != nil {
		return *p
	}
	return ""
}

// checkDisk measures the free space once and acts on a change.
func (s *Store) checkDisk() {
	free, err := s.freeSpace()
	if err != nil {
		s.log.Warn("free space check", "err", err)
		return
	}
	min := s.cfg.MinFreeBytes
	if min == 0 {
		min = defaultMinFreeBytes
	}
	if free >= min {
		if s.diskLow.Swap(nil) != nil {
			s.log.Info("disk space back: taking writes again", "free_bytes", free)
		}
		return
	}
	msg := fmt.Sprintf("%d MiB free in %s, below the %d MiB this node keeps", free>>20, s.cfg.Dir, min>>20)
	if s.diskLow.Swap(&msg) == nil {
		s.log.Error("disk space low: refusing writes", "free_bytes", free, "min_bytes", min)
	}
	if r := s.raftNode(); r != nil && s.IsLeader() {
		if err := r.LeadershipTransfer().Error(); err != nil {
			s.log.Warn("disk space low: leadership transfer", "err", err)
		}
	}
}

func (s *Store) freeSpace() (uint64, error) {
	if s.cfg.FreeSpace != nil {
		return s.cfg.FreeSpace()
	}
	return statfsFree(s.cfg.Dir)
}

// watchDisk runs checkDisk until the store closes.
func (s *Store) watchDisk() {
	defer s.wg.Done()
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	for {
		s.checkDisk()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}
