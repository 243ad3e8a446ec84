package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
)

// membership is a node's side of joining: announce itself (join as a
// non-voter, or refresh its registry entry after a restart), wait until its
// FSM has caught up with the leader's commit index, then ask to be
// promoted to voter. Every step retries with backoff until it succeeds or
// the context ends; a refused token is final.
type membership struct {
	self     cluster.JoinRequest
	seeds    []string // --join addresses
	store    *cluster.Store
	log      *slog.Logger
	out      io.Writer
	retryMax time.Duration // cap of the backoff (default 5s)
	client   *http.Client
}

// ErrJoinRefused: a seed refused the join token; joining does not retry it.
var ErrJoinRefused = errors.New("join refused")

func (m *membership) run(ctx context.Context, fresh bool) error {
	if m.client == nil {
		m.client = &http.Client{Timeout: 15 * time.Second}
	}
	if m.retryMax == 0 {
		m.retryMax = 5 * time.Second
	}
	if m.self.Token == "" {
		return nil // a restart without a token: nothing to announce
	}
	if fresh {
		if err := m.retry(ctx, "join", func(ctx context.Context) error {
			return m.post(ctx, m.targets(), "/v1/cluster/join")
		}); err != nil {
			return err
		}
		fmt.Fprintf(m.out, "frontdoor: node %s joined the cluster as a non-voter; catching up\n", m.self.ID)
	}
	return m.retry(ctx, "promote", func(ctx context.Context) error {
		me, ok := m.selfStatus()
		if !ok && !fresh {
			// Restarted but not in the registry (e.g. removed): announce again.
			return m.post(ctx, m.targets(), "/v1/cluster/join")
		}
		if ok && (me.HTTPAddr != m.self.HTTPAddr || me.Version != m.self.Version || me.RaftAddr != m.self.RaftAddr) {
			// Re-announce a changed address or version (same id: metadata refresh).
			if err := m.post(ctx, m.targets(), "/v1/cluster/join"); err != nil {
				return err
			}
		}
		if ok && me.Suffrage == "voter" {
			return nil
		}
		if err := m.catchUp(ctx); err != nil {
			return err
		}
		if err := m.post(ctx, m.targets(), "/v1/cluster/nodes/"+m.self.ID+"/promote"); err != nil {
			return err
		}
		fmt.Fprintf(m.out, "frontdoor: node %s is a voter\n", m.self.ID)
		return nil
	})
}

// selfStatus is this node's entry as the local replica of the registry and
// raft configuration show it.
func (m *membership) selfStatus() (cluster.NodeStatus, bool) {
	for _, n := range m.store.Status().Nodes {
		if n.ID == m.self.ID {
			return n, n.Suffrage != "none"
		}
	}
	return cluster.NodeStatus{}, false
}

// targets are the HTTP addresses to announce to: the leader when known,
// then the --join seeds (a follower forwards to the leader).
func (m *membership) targets() []string {
	var out []string
	if li, ok := m.store.Leader(); ok && li.HTTPAddr != "" && li.ID != m.self.ID {
		out = append(out, li.HTTPAddr)
	}
	return append(out, m.seeds...)
}

// catchUp waits until this node's FSM has applied the leader's commit index
// (fetched from the leader over HTTP).
func (m *membership) catchUp(ctx context.Context) error {
	li, ok := m.store.Leader()
	if !ok || li.HTTPAddr == "" {
		return errors.New("no leader known yet")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+li.HTTPAddr+"/v1/cluster/self", nil)
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("leader figures: %w", err)
	}
	defer resp.Body.Close()
	var f api.NodeFigures
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		return fmt.Errorf("leader figures: %w", err)
	}
	if err := m.store.WaitApplied(ctx, f.CommitIndex); err != nil {
		return fmt.Errorf("catch up to index %d: %w", f.CommitIndex, err)
	}
	return nil
}

// post sends this node's join request to the first target that answers
// 2xx. A 403 (bad token) is final.
func (m *membership) post(ctx context.Context, targets []string, path string) error {
	if len(targets) == 0 {
		return errors.New("no member address to contact (give --join)")
	}
	body, err := json.Marshal(m.self)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return nil
		case resp.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w by %s: %s", ErrJoinRefused, addr, bytes.TrimSpace(msg))
		}
		errs = append(errs, fmt.Errorf("%s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(msg)))
	}
	return errors.Join(errs...)
}

// retry runs step until it succeeds, returns errJoinRefused, or ctx ends;
// the pause doubles from 100ms up to retryMax.
func (m *membership) retry(ctx context.Context, what string, step func(context.Context) error) error {
	pause := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step(ctx)
		if err == nil || errors.Is(err, ErrJoinRefused) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.log.Info("cluster membership: will retry", "step", what, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, m.retryMax)
	}
}
