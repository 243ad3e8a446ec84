package faultproxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// socketOwner finds which of pids holds the TCP socket whose local address
// is local and remote address is remote: the inode from
// /proc/self/net/tcp{,6} (same network namespace), then the process whose
// file descriptors include it.
func socketOwner(local, remote *net.TCPAddr, pids map[int][]string) (int, bool) {
	inode := ""
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		if inode = findInode(table, local, remote); inode != "" {
			break
		}
	}
	if inode == "" {
		return 0, false
	}
	want := "socket:[" + inode + "]"
	for pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
				return pid, true
			}
		}
	}
	return 0, false
}

// findInode scans one /proc/net/tcp table for the socket local -> remote.
func findInode(table string, local, remote *net.TCPAddr) string {
	f, err := os.Open(table)
	if err != nil {
		return ""
	}
	defer f.Close()
	v6 := strings.HasSuffix(table, "6")
	l, r := procAddr(local, v6), procAddr(remote, v6)
	if l == "" || r == "" {
		return ""
	}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 {
			continue
		}
		if strings.EqualFold(fs[1], l) && strings.EqualFold(fs[2], r) && fs[9] != "0" {
			return fs[9]
		}
	}
	return ""
}

// procAddr formats a as /proc/net/tcp does: the address as 32-bit words in
// host byte order, in hex, then ":" and the port in hex.
func procAddr(a *net.TCPAddr, v6 bool) string {
	ip := a.IP.To16()
	if ip == nil {
		return ""
	}
	var sb strings.Builder
	if v6 {
		for i := 0; i < 16; i += 4 {
			fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
		}
	} else {
		ip4 := a.IP.To4()
		if ip4 == nil {
			return ""
		}
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(ip4))
	}
	fmt.Fprintf(&sb, ":%04X", a.Port)
	return sb.String()
}
