package netguard

import (
	"net"
	"testing"
	"time"
)

// TestPerAddress: a second connection from an address already at its cap
// is closed at once; another address is served; closing frees the place.
func TestPerAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := PerAddress(inner, 1)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(ip net.IP) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wait := func(what string) net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(2 * time.Second):
			t.Fatalf("%s was not accepted", what)
			return nil
		}
	}
	a1 := dial(net.IPv4(127, 0, 0, 1))
	s1 := wait("the first connection")
	a2 := dial(net.IPv4(127, 0, 0, 1)) // over the cap: closed by the listener
	a2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := a2.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection past the address's cap was kept")
	}
	b := dial(net.IPv4(127, 0, 0, 2))
	wait("another address's connection")
	s1.Close()
	a1.Close()
	a3 := dial(net.IPv4(127, 0, 0, 1))
	wait("a connection after the first closed")
	a3.Close()
	b.Close()
}
