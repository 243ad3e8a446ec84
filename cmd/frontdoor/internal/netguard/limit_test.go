package netguard

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeListener hands out its results in order, then fresh connections.
type fakeListener struct {
	mu      sync.Mutex
	results []error // nil: a connection
	accepts int     // calls to Accept
	closed  bool
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepts++
	if f.closed {
		return nil, net.ErrClosed
	}
	if len(f.results) > 0 {
		err := f.results[0]
		f.results = f.results[1:]
		if err != nil {
			return nil, err
		}
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func (f *fakeListener) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (f *fakeListener) acceptCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepts
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// acceptErr is an Accept error as the net package returns it.
func acceptErr(e syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: &osSyscallError{e}}
}

// osSyscallError is os.SyscallError's shape without importing os here.
type osSyscallError struct{ errno syscall.Errno }

func (e *osSyscallError) Error() string   { return "accept4: " + e.errno.Error() }
func (e *osSyscallError) Unwrap() error   { return e.errno }
func (e *osSyscallError) Temporary() bool { return e.errno.Temporary() }

// TestLimitRetriesTemporaryErrors: Accept waits out EMFILE, ENFILE and the
// like with a doubling backoff capped at 1s, and passes on what is not
// temporary.
func TestLimitRetriesTemporaryErrors(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	const ms = time.Millisecond
	tests := []struct {
		name    string
		results []error
		wantErr error // nil: a connection
		delays  []time.Duration
	}{
		{"conn at once", nil, nil, nil},
		{"EMFILE three times", []error{emfile, emfile, emfile}, nil,
			[]time.Duration{5 * ms, 10 * ms, 20 * ms}},
		{"ENFILE and ENOBUFS", []error{acceptErr(syscall.ENFILE), acceptErr(syscall.ENOBUFS)}, nil,
			[]time.Duration{5 * ms, 10 * ms}},
		{"backoff stops doubling at 1s", []error{emfile, emfile, emfile, emfile, emfile, emfile, emfile, emfile, emfile}, nil,
			[]time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second}},
		{"closed listener", []error{net.ErrClosed}, net.ErrClosed, nil},
		{"permanent error", []error{acceptErr(syscall.EINVAL)}, syscall.EINVAL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeListener{results: tt.results}
			l := Limit(f, 4, quietLog()).(*limitListener)
			var delays []time.Duration
			l.wait = func(d time.Duration, _ <-chan struct{}) bool { delays = append(delays, d); return true }
			c, err := l.Accept()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || c != nil {
					t.Fatalf("Accept = %v, %v; want error %v", c, err, tt.wantErr)
				}
				if n := len(l.slots); n != 0 {
					t.Fatalf("%d places held after a failed Accept", n)
				}
			} else {
				if err != nil || c == nil {
					t.Fatalf("Accept = %v, %v; want a connection", c, err)
				}
				c.Close()
			}
			if fmt.Sprint(delays) != fmt.Sprint(tt.delays) {
				t.Fatalf("backoff %v, want %v", delays, tt.delays)
			}
		})
	}
}

// TestLimitBackoffEndsOnClose: closing the listener ends an Accept that
// is waiting out errors.
func TestLimitBackoffEndsOnClose(t *testing.T) {
	f := &fakeListener{results: []error{acceptErr(syscall.EMFILE)}}
	l := Limit(f, 1, quietLog()).(*limitListener)
	l.wait = func(_ time.Duration, done <-chan struct{}) bool {
		go l.Close()
		<-done
		return false
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if n := len(l.slots); n != 0 {
		t.Fatalf("%d places held after Close", n)
	}
}

// TestLimitCapsOpenConns: with maxConns open, Accept does not take
// another connection from the listener until one is closed; closing a
// connection twice frees one place only; Close ends a waiting Accept.
func TestLimitCapsOpenConns(t *testing.T) {
	f := &fakeListener{}
	l := Limit(f, 2, quietLog())
	c1, err1 := l.Accept()
	c2, err2 := l.Accept()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	defer c2.Close()

	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	// The third Accept must wait without asking the listener: the
	// pause only gives a wrong implementation the time to show itself.
	time.Sleep(50 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("a third connection was accepted with two open")
	default:
	}
	if n := f.acceptCalls(); n != 2 {
		t.Fatalf("listener Accept called %d times, want 2", n)
	}

	// Closing c1 twice frees one place: the waiting Accept gets it, and
	// the next one must wait again.
	c1.Close()
	c1.Close()
	var c3 net.Conn
	select {
	case c3 = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("closing a connection did not free its place")
	}
	defer c3.Close()
	errs := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if n := f.acceptCalls(); n != 3 {
		t.Fatalf("listener Accept called %d times, want 3 (a double Close freed two places)", n)
	}
	l.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("waiting Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
}

func TestMaxConnsFor(t *testing.T) {
	tests := []struct {
		limit uint64
		want  int
	}{
		{64, 16},
		{272, 16},
		{1024, 768},
		{4096, 3072},
		{1 << 20, 4096},
	}
	for _, tt := range tests {
		if got := MaxConnsFor(tt.limit); got != tt.want {
			t.Errorf("MaxConnsFor(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}
