package netguard

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Accept's backoff after a temporary error: 5ms, doubling up to 1s, as
// net/http's Server does.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Limit wraps ln so that its Accept
//   - waits out temporary errors, "too many open files" (EMFILE, ENFILE)
//     first among them, retrying after 5ms, then 10ms, ... up to 1s
//     between tries, instead of returning them;
//   - holds at most maxConns accepted connections open: once that many are
//     open it does not accept until one of them is closed, so further
//     clients wait in the kernel's listen backlog (costing no descriptor)
//     rather than being accepted and dropped.
//
// Closing a returned connection frees its place (once, however often it is
// closed). Closing the listener ends waiting Accepts with net.ErrClosed.
// maxConns < 1 means no cap. A nil log logs to slog.Default().
func Limit(ln net.Listener, maxConns int, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.Default()
	}
	l := &limitListener{Listener: ln, log: log, done: make(chan struct{}), wait: sleep}
	if maxConns > 0 {
		l.slots = make(chan struct{}, maxConns)
	}
	return l
}

// MaxConnsFor is the cap to give Limit in a process whose soft file limit
// is fileLimit: what is left after a reserve for the store's files, raft
// and peer connections (a quarter of the limit, at least 256), at least 16
// and at most 4096, far more than one centre's screens, responders and
// integrations open at once.
func MaxConnsFor(fileLimit uint64) int {
	reserve := max(fileLimit/4, 256)
	if fileLimit <= reserve+16 {
		return 16
	}
	return int(min(fileLimit-reserve, 4096))
}

type limitListener struct {
	net.Listener
	log   *slog.Logger
	slots chan struct{} // one token per open accepted connection; nil: no cap
	done  chan struct{} // closed by Close
	once  sync.Once
	// wait sleeps for d, or returns false at once when done is closed
	// (tests replace it to record the backoff).
	wait func(d time.Duration, done <-chan struct{}) bool
}

func sleep(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// Accept waits for a free place, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	delay := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return &limitConn{Conn: c, release: l.release}, nil
		}
		if !temporary(err) {
			l.release()
			return nil, err
		}
		delay = min(max(2*delay, minBackoff), maxBackoff)
		l.log.Warn("accept failed; retrying", "addr", l.Addr().String(), "err", err, "retry_in", delay)
		if !l.wait(delay, l.done) {
			l.release()
			return nil, net.ErrClosed
		}
	}
}

// release frees one place.
func (l *limitListener) release() {
	if l.slots != nil {
		<-l.slots
	}
}

// Close closes the listener and ends waiting Accepts.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// temporary reports whether an Accept error is worth waiting out: running
// out of descriptors, buffers or memory, or any error that says it is
// temporary. A deadline set on the listener is the caller's own, and
// passed on.
func temporary(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// limitConn frees its listener place when first closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
