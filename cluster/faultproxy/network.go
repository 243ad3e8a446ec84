package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
)

// Source says how to recognise the connections a member opens (see the
// package doc).
type Source struct {
	// IP is the address the member's outgoing connections come from
	// (127.0.0.N); it counts only when no other member shares it.
	IP string
	// PID returns the member's process id (0 when not running); used on
	// Linux when IPs do not tell members apart. nil: not a process of
	// its own.
	PID func() int
}

// Network is the proxies in front of a cluster's nodes, by node name.
type Network struct {
	mu      sync.Mutex
	members map[string]*member
}

type member struct {
	proxy *Proxy
	src   Source
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{members: map[string]*member{}} }

// Add registers p as the proxy in front of node name, whose outgoing
// connections are recognised by src. p's sources are then member names.
func (n *Network) Add(name string, p *Proxy, src Source) {
	n.mu.Lock()
	n.members[name] = &member{proxy: p, src: src}
	n.mu.Unlock()
	p.SetIdentify(n.Identify)
}

// Proxy is the proxy in front of node name (nil if none).
func (n *Network) Proxy(name string) *Proxy {
	n.mu.Lock()
	defer n.mu.Unlock()
	if m := n.members[name]; m != nil {
		return m.proxy
	}
	return nil
}

// Names lists the members, sorted.
func (n *Network) Names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.members))
	for name := range n.members {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Identify names the member that opened c, a connection accepted by one of
// the network's proxies; "" when none can be told.
func (n *Network) Identify(c net.Conn) string {
	remote, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	local, _ := c.LocalAddr().(*net.TCPAddr)
	n.mu.Lock()
	var byIP []string
	pids := map[int][]string{}
	for name, m := range n.members {
		if m.src.IP != "" && net.ParseIP(m.src.IP).Equal(remote.IP) {
			byIP = append(byIP, name)
		}
		if m.src.PID != nil {
			if pid := m.src.PID(); pid > 0 {
				pids[pid] = append(pids[pid], name)
			}
		}
	}
	n.mu.Unlock()
	if len(byIP) == 1 {
		return byIP[0]
	}
	if len(pids) == 0 || local == nil {
		return ""
	}
	pid, ok := socketOwner(remote, local, pids)
	if !ok || len(pids[pid]) != 1 {
		return ""
	}
	return pids[pid][0]
}

// Isolate cuts node name off in both directions: its own proxy holds
// everything (nothing reaches it) and every other proxy holds the
// connections it opens (it reaches nothing). Heal undoes it.
func (n *Network) Isolate(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	m, ok := n.members[name]
	if !ok {
		return fmt.Errorf("faultproxy: isolate %q: no such member", name)
	}
	m.proxy.Set(Blackhole)
	for other, o := range n.members {
		if other != name {
			o.proxy.SetFrom(name, Blackhole)
		}
	}
	return nil
}

// Cut is a one-way partition: from cannot open or use connections to to;
// connections to opens to from still work.
func (n *Network) Cut(from, to string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.members[from]; !ok {
		return fmt.Errorf("faultproxy: cut %s -> %s: no member %q", from, to, from)
	}
	m, ok := n.members[to]
	if !ok {
		return fmt.Errorf("faultproxy: cut %s -> %s: no member %q", from, to, to)
	}
	m.proxy.SetFrom(from, Blackhole)
	return nil
}

// Heal lifts every fault on every proxy; held connections go on.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.members {
		m.proxy.Reset()
	}
}

// Close closes every proxy.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, m := range n.members {
		errs = append(errs, m.proxy.Close())
	}
	return errors.Join(errs...)
}

// LoopbackIP is 127.0.0.<n> when this machine can bind it (all of 127/8
// is loopback on Linux; elsewhere only aliases that were configured), else
// 127.0.0.1. Members with distinct addresses are told apart by source IP.
func LoopbackIP(n int) string {
	ip := fmt.Sprintf("127.0.0.%d", n)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return "127.0.0.1"
	}
	ln.Close()
	return ip
}
