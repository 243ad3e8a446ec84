package netguard

import (
	"net"
	"sync"
)

// PerAddress wraps ln so that one client address (the remote IP) holds at
// most perIP of its accepted connections: a connection past that is closed
// at once and Accept goes on to the next, so one flooding machine cannot
// take every place Limit leaves to the others. perIP < 1 means no cap.
func PerAddress(ln net.Listener, perIP int) net.Listener {
	if perIP < 1 {
		return ln
	}
	return &perIPListener{Listener: ln, perIP: perIP, open: map[string]int{}}
}

type perIPListener struct {
	net.Listener
	perIP int

	mu   sync.Mutex
	open map[string]int // remote IP -> open connections; no zero entries
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.open[ip] >= l.perIP {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &perIPConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perIPListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// perIPConn frees its address's place when first closed.
type perIPConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *perIPConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
