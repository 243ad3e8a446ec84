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
	"strings"
	"sync"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
)

// membership is a node's side of joining: announce itself (join as a
// non-voter, or refresh its registry entry after a restart), wait until its
// FSM has caught up with the leader's commit index, then ask to be
// promoted to voter. Every step retries with backoff until it succeeds or
// the context ends; a refused token is final.
type membership struct {
	self     cluster.JoinRequest // without its certificate request (request adds one)
	seeds    []string            // --join addresses
	store    *cluster.Store
	log      *slog.Logger
	out      io.Writer
	retryMax time.Duration // cap of the backoff (default 5s)
	client   *http.Client
	once     sync.Once
}

// ErrJoinRefused: a seed refused the join token; joining does not retry it.
var ErrJoinRefused = errors.New("join refused")

func (m *membership) run(ctx context.Context, fresh bool) error {
	m.init()
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
		if ok && (me.HTTPAddr != m.self.HTTPAddr || me.Version != m.self.Version || me.RaftAddr != m.self.RaftAddr ||
			m.needsCertificate()) {
			// Re-announce a changed address or version (same id: metadata
			// refresh), or to get a certificate (none yet, or expiring).
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

// needsCertificate: this node has no certificate, or less than
// trust.RenewBefore of it is left.
func (m *membership) needsCertificate() bool {
	id := m.store.Identity()
	if id == nil || id.External() {
		return false
	}
	return !id.Certified() || time.Until(id.NotAfter()) < trust.RenewBefore
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
	resp, err := m.do(ctx, http.MethodGet, li.HTTPAddr, "/v1/cluster/self", nil)
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
	self, err := m.store.NewJoinRequest(m.self.Token)
	if err != nil {
		return err
	}
	self.HTTPAddr, self.Version, self.LogicVersion = m.self.HTTPAddr, m.self.Version, m.self.LogicVersion
	body, err := json.Marshal(self)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range targets {
		resp, err := m.do(ctx, http.MethodPost, addr, path, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			var ans api.JoinAnswer
			if err := json.Unmarshal(msg, &ans); err != nil {
				return fmt.Errorf("%s%s: answer: %w", addr, path, err)
			}
			if err := m.store.AcceptJoin(m.self.Token, ans.JoinAnswer); err != nil {
				// An answer signed by another CA than the token names: an
				// impostor, or the wrong cluster. Final.
				return fmt.Errorf("%w by %s: %v", ErrJoinRefused, addr, err)
			}
			return nil
		case resp.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w by %s: %s", ErrJoinRefused, addr, bytes.TrimSpace(msg))
		}
		errs = append(errs, fmt.Errorf("%s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(msg)))
	}
	return errors.Join(errs...)
}

// init sets the client (pinned to the token's CA, or trusting the trust's
// own) and the backoff cap.
func (m *membership) init() {
	m.once.Do(m.initOnce)
}

func (m *membership) initOnce() {
	if m.client == nil {
		tlsCfg := trust.PinnedConfig(m.self.Token)
		if id := m.store.Identity(); id.External() {
			tlsCfg = id.RootsConfig()
		}
		m.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	}
	if m.retryMax == 0 {
		m.retryMax = 5 * time.Second
	}
}

// do sends one request to a member. An address with a scheme is used as
// given; a bare host:port is tried over HTTPS first (plain HTTP first on
// loopback, where members serve it), then the other way if the member
// answers in the other protocol.
func (m *membership) do(ctx context.Context, method, addr, path string, body []byte) (*http.Response, error) {
	m.init()
	schemes := []string{"https://", "http://"}
	if isLoopback(addr) {
		schemes = []string{"http://", "https://"}
	}
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		schemes = []string{""}
	}
	var err error
	for _, scheme := range schemes {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, method, scheme+addr+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		var resp *http.Response
		resp, err = m.client.Do(req)
		if err == nil {
			return resp, nil
		}
		if !wrongProtocol(err) {
			return nil, err
		}
	}
	return nil, err
}

// wrongProtocol: the member speaks plain HTTP to a TLS client or the other
// way round.
func wrongProtocol(err error) bool {
	s := err.Error()
	return strings.Contains(s, "server gave HTTP response to HTTPS client") ||
		strings.Contains(s, "malformed HTTP response") || strings.Contains(s, "first record does not look like a TLS handshake") ||
		errors.Is(err, io.EOF) || strings.Contains(s, "connection reset by peer")
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
