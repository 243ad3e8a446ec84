// Package faultproxy puts loopback TCP proxies in front of cluster nodes'
// raft ports, so partition tests can run in `go test` and in
// `frontdoor loadtest --chaos partition` without root, iptables or network
// namespaces.
//
// # One proxy per node, in front of its inbound port
//
// A node binds its raft port on RaftBind and advertises the proxy's address
// (RaftAdvertise): every connection another node opens to it (raft RPCs and
// node-to-node HTTP, both mutual TLS) goes through the proxy, which copies
// bytes and never looks inside them. A Proxy applies a Fault to the
// connections it carries, changeable at any time:
//
//   - Pass: forward.
//   - Refuse ("drop"): close existing connections with a reset and reset
//     new ones at once (a closed port, a firewall that rejects).
//   - Blackhole: forward nothing either way, and accept new connections but
//     neither dial the node nor read from them, until the fault is lifted;
//     what was held is then delivered (a cable pulled and put back: TCP
//     retransmits). This is the closer model of a real partition: peers
//     time out instead of being told.
//   - Delay(d): deliver every chunk d after it was read, in both
//     directions (a slow or congested link; throughput is kept).
//
// # Why a proxy must know who is calling
//
// Raft over TCP is request/response on the caller's connection: the leader
// dials each follower and reads the answers on the same connection. Cutting
// only the traffic into node X (its own proxy) leaves X, if it leads,
// replicating to everyone and keeping its quorum: no partition at all. To
// isolate X, the proxies in front of every other node must also stop the
// connections X opens, and only those. On loopback every connection comes
// from 127.0.0.1 unless the dialler picks its source, and one advertised
// address per node rules out one proxy per (from, to) pair. So each proxy
// asks its Network who opened a connection (Proxy.SetIdentify), and faults
// can be set per source (Proxy.SetFrom). The Network recognises a member by:
//
//  1. Source IP: a node that binds its raft port on its own loopback address
//     (127.0.0.N; all of 127/8 is loopback on Linux) and dials peers from it
//     is recognised by the connection's remote IP. This needs the node's
//     dialler to bind that source address (for frontdoor, cluster/peermux.go
//     dialling from RaftBind's host), and works on any OS where those
//     addresses exist.
//  2. Owning process (Linux only): when IPs do not tell nodes apart, the
//     connection's remote port is looked up in /proc/self/net/tcp{,6} and
//     the socket's inode among /proc/<pid>/fd of each member's process.
//     This needs the nodes to be separate processes (a spawned cluster).
//
// A connection nobody claims gets the proxy's default fault. Proxy.Sources
// counts connections by source, so a test can check that identification
// works before trusting a partition.
//
// With that, Network.Isolate(x) blackholes x's own proxy (nothing reaches
// x) and every connection x opens to the others (x reaches nothing), and
// Network.Cut(from, to) is the one-way version: `from` cannot open (or use)
// connections to `to`, while `to` still reaches `from`. Heal lifts every
// fault.
package faultproxy
