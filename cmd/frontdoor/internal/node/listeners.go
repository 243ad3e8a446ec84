package node

import (
	"net"
	"sync"
	"time"
)

// merged serves two listeners as one: the public API listener and the raft
// port's node-to-node channel feed the same HTTP server. Its address is the
// first's; closing it closes both.
type merged struct {
	first  net.Listener
	all    []net.Listener
	conns  chan net.Conn
	errs   chan error
	closed chan struct{}
	once   sync.Once
}

func mergeListeners(first net.Listener, more ...net.Listener) net.Listener {
	m := &merged{first: first, all: append([]net.Listener{first}, more...),
		conns: make(chan net.Conn), errs: make(chan error, 1+len(more)), closed: make(chan struct{})}
	for _, ln := range m.all {
		go m.pump(ln)
	}
	return m
}

func (m *merged) pump(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
			// Out of file descriptors and the like: wait, do not end serving.
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-m.closed:
				return
			}
		}
		if err != nil {
			select {
			case m.errs <- err:
			case <-m.closed:
			}
			return
		}
		select {
		case m.conns <- c:
		case <-m.closed:
			c.Close()
			return
		}
	}
}

// Accept returns the next connection from either listener, or the first
// error one of them returns (which ends serving).
func (m *merged) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

func (m *merged) Close() error {
	var err error
	m.once.Do(func() {
		close(m.closed)
		for _, ln := range m.all {
			if e := ln.Close(); e != nil && err == nil {
				err = e
			}
		}
	})
	return err
}

func (m *merged) Addr() net.Addr { return m.first.Addr() }
