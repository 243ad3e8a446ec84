// Package baseline runs the yardstick for frontdoor loadtest --baseline: a
// bare 3-node hashicorp/raft cluster in one process, on loopback TCP, with
// raft-boltdb/v2 log and stable stores (fsync per append) and a Badger v4
// state machine that writes each command and the applied index in one
// transaction per batch, with frontdoor's own Badger options (so its
// durability is frontdoor's: cluster.BadgerOptions). It is what frontdoor's write path would
// cost with nothing of frontdoor in it (no HTTP, JSON, validation,
// idempotency or audit), measured on the same machine and disks in the same
// run; only the ratio between the two means anything on a noisy machine.
//
// It links raft and Badger directly and, of the project's cluster package,
// only its Badger options, so it measures the libraries, not our use of
// them (RunHTTP also uses fiber and the load tool's own HTTP client).
package baseline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	frontdoor "github.com/frontdoor-ucc/frontdoor/cluster"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Run starts the cluster under dir, applies commands of cmdBytes on the
// leader from concurrency goroutines until duration passes and/or requests
// commands were started, calls record for each, and removes nothing (the
// caller owns dir). It returns how long the load itself took (start-up
// and shutdown excluded). Like the frontdoor run, it is always bounded:
// with neither bound it runs for 30s.
func Run(ctx context.Context, nodes, cmdBytes, concurrency int, duration time.Duration, requests int,
	dir string, record func(d time.Duration, ok bool)) (elapsed time.Duration, err error) {
	return run(ctx, nodes, cmdBytes, concurrency, duration, requests, dir, record, nil)
}

// RunHTTP is Run with one HTTP hop in front of raft: the leader's process
// serves POST /apply on loopback TCP with fiber (as frontdoor serves its
// API), the handler applies the request body as one command and answers
// 201 with the entry's index, and the callers send the commands through a
// net/http client with keep-alive connections, as the load tool's client
// does. There is nothing else in the handler: no authorisation, decoding,
// validation or forwarding (every request goes to the leader). It is a
// floor for any write path behind an HTTP API on this machine: what the
// hop alone costs on top of the bare stack.
func RunHTTP(ctx context.Context, nodes, cmdBytes, concurrency int, duration time.Duration, requests int,
	dir string, record func(d time.Duration, ok bool)) (elapsed time.Duration, err error) {
	return run(ctx, nodes, cmdBytes, concurrency, duration, requests, dir, record, serveHTTP)
}

// front puts a transport in front of the leader: it returns how a caller
// sends one command, and how to stop.
type front func(lead *raft.Raft, concurrency int) (send func(ctx context.Context, cmd []byte) error, stop func() error, err error)

func run(ctx context.Context, nodes, cmdBytes, concurrency int, duration time.Duration, requests int,
	dir string, record func(d time.Duration, ok bool), via front) (elapsed time.Duration, err error) {
	if nodes < 1 || concurrency < 1 {
		return 0, fmt.Errorf("baseline: %d nodes, concurrency %d", nodes, concurrency)
	}
	if duration <= 0 && requests <= 0 {
		duration = 30 * time.Second
	}
	c, err := start(ctx, nodes, dir)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	lead, err := c.leader(ctx)
	if err != nil {
		return 0, err
	}
	send := func(_ context.Context, cmd []byte) error { _, err := apply(lead, cmd); return err }
	if via != nil {
		s, stop, err := via(lead, concurrency)
		if err != nil {
			return 0, err
		}
		defer func() { err = errors.Join(err, stop()) }()
		send = s
	}
	t0 := time.Now()

	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	if duration > 0 {
		var c2 context.CancelFunc
		stop, c2 = context.WithTimeout(stop, duration)
		defer c2()
	}
	var started atomic.Int64
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := make([]byte, max(cmdBytes, 16))
			for i := range cmd {
				cmd[i] = 'a' + byte((i+w)%26)
			}
			for stop.Err() == nil && (requests <= 0 || started.Add(1) <= int64(requests)) {
				// Each command distinct: worker and sequence in front.
				binary.BigEndian.PutUint32(cmd[0:4], uint32(w))
				binary.BigEndian.PutUint64(cmd[4:12], uint64(started.Load()))
				t0 := time.Now()
				err := send(stop, append([]byte(nil), cmd...))
				if err != nil && stop.Err() != nil {
					break // cut off by the end of the run, not a failure
				}
				record(time.Since(t0), err == nil)
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), ctx.Err()
}

// apply applies one command on the leader and waits for the FSM; it
// returns the command's log index.
func apply(lead *raft.Raft, cmd []byte) (uint64, error) {
	f := lead.Apply(cmd, 10*time.Second)
	err := f.Error()
	if err == nil {
		if e, ok := f.Response().(error); ok {
			err = e
		}
	}
	return f.Index(), err
}

type node struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	bolt  *raftboltdb.BoltStore
	fsm   *fsm
}

type cluster struct{ nodes []*node }

func start(ctx context.Context, n int, dir string) (_ *cluster, err error) {
	c := &cluster{}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	var servers []raft.Server
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("b%d", i+1))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		nd := &node{}
		c.nodes = append(c.nodes, nd)
		if nd.bolt, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(d, "raft.db")}); err != nil {
			return nil, fmt.Errorf("baseline: raft-boltdb: %w", err)
		}
		if nd.fsm, err = openFSM(filepath.Join(d, "fsm")); err != nil {
			return nil, err
		}
		snaps, err := raft.NewFileSnapshotStore(d, 1, io.Discard)
		if err != nil {
			return nil, fmt.Errorf("baseline: snapshots: %w", err)
		}
		if nd.trans, err = raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard); err != nil {
			return nil, fmt.Errorf("baseline: transport: %w", err)
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(fmt.Sprintf("b%d", i+1))
		cfg.Logger = hclog.NewNullLogger()
		cfg.BatchApplyCh = true // as frontdoor's cluster configures it
		if nd.raft, err = raft.NewRaft(cfg, nd.fsm, nd.bolt, nd.bolt, snaps, nd.trans); err != nil {
			return nil, fmt.Errorf("baseline: raft: %w", err)
		}
		servers = append(servers, raft.Server{ID: cfg.LocalID, Address: nd.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return nil, fmt.Errorf("baseline: bootstrap: %w", err)
	}
	return c, nil
}

// leader waits for a leader that every node follows.
func (c *cluster) leader(ctx context.Context) (*raft.Raft, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, nd := range c.nodes {
			if nd.raft.State() == raft.Leader {
				if err := nd.raft.Barrier(5 * time.Second).Error(); err == nil {
					return nd.raft, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, errors.New("baseline: no leader within 30s")
}

func (c *cluster) close() error {
	var errs []error
	for _, nd := range c.nodes {
		if nd.raft != nil {
			errs = append(errs, nd.raft.Shutdown().Error())
		}
		if nd.trans != nil {
			errs = append(errs, nd.trans.Close())
		}
		if nd.bolt != nil {
			errs = append(errs, nd.bolt.Close())
		}
		if nd.fsm != nil {
			errs = append(errs, nd.fsm.db.Close())
		}
	}
	return errors.Join(errs...)
}

// fsm stores every command under its log index, and the applied index,
// in one Badger transaction per batch, as frontdoor's FSM does,
// with the engine's own Badger options (cluster.BadgerOptions).
type fsm struct{ db *badger.DB }

func openFSM(dir string) (*fsm, error) {
	opts := frontdoor.BadgerOptions(dir, nil)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: badger: %w", err)
	}
	return &fsm{db: db}, nil
}

var appliedKey = []byte("applied")

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	wb := f.db.NewWriteBatch()
	var last uint64
	for _, l := range logs {
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		k := make([]byte, 10)
		copy(k, "c/")
		binary.BigEndian.PutUint64(k[2:], l.Index)
		if err := wb.Set(k, l.Data); err != nil {
			wb.Cancel()
			return fill(out, err)
		}
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, last)
	if err := wb.Set(appliedKey, v); err != nil {
		wb.Cancel()
		return fill(out, err)
	}
	if err := wb.Flush(); err != nil {
		return fill(out, err)
	}
	return out
}

func fill(out []any, err error) []any {
	for i := range out {
		out[i] = err
	}
	return out
}

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// Snapshot and Restore are empty: a baseline run is short, and what is
// measured is the write path.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return emptySnapshot{}, nil }
func (f *fsm) Restore(r io.ReadCloser) error       { return r.Close() }

type emptySnapshot struct{}

func (emptySnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (emptySnapshot) Release()                          {}
