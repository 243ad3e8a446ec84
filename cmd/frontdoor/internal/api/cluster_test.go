package api_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestJoinNeedsTheToken at the HTTP level: a join without
// the token, or with a wrong one, is refused (directly and through a
// follower); with it the node is added as a non-voter, and a real node that
// joins is then promoted to voter once caught up.
func TestJoinNeedsTheToken(t *testing.T) {
	tc := nodetest.New(t, 2)
	lead, f := tc.Leader(t), tc.Follower(t)
	ghost := `{"id":"ghost","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2","version":"dev"%s}`
	for _, tt := range []struct{ name, token string }{{"no token", ""}, {"wrong token", `,"token":"guess"`}} {
		for _, tn := range []*nodetest.Node{lead, f} {
			resp, body := tc.Do(t, tn, http.MethodPost, "/v1/cluster/join", strings.Replace(ghost, "%s", tt.token, 1), nil)
			expectProblem(t, resp, body, http.StatusForbidden, api.ProblemForbidden, "")
		}
	}
	if got := suffrageOf(t, tc, lead, "ghost"); got != "" {
		t.Fatalf("refused node is in the cluster as %q", got)
	}
	// With the token but no certificate request for the node's key: refused.
	resp, body := tc.Do(t, f, http.MethodPost, "/v1/cluster/join", strings.Replace(ghost, "%s", `,"token":"`+tc.Token+`"`, 1), nil)
	expectProblem(t, resp, body, http.StatusConflict, api.ProblemConflict, "")
	if !strings.Contains(string(body), "certificate request") {
		t.Fatalf("refusal does not say why: %s", body)
	}
	// With the token and a certificate request, through the follower:
	// added, as a non-voter, with a certificate from the cluster CA.
	ghostKey, err := trust.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := trust.NewCSR(ghostKey, trust.Request{ID: "ghost", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	withCSR := `,"token":"` + tc.Token + `","csr":` + strconv.Quote(string(csr))
	resp, body = tc.Do(t, f, http.MethodPost, "/v1/cluster/join", strings.Replace(ghost, "%s", withCSR, 1), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("join with token: %d %s", resp.StatusCode, body)
	}
	var ans api.JoinAnswer
	nodetest.DecodeJSON(t, body, &ans)
	caCert, err := trust.ParseCert([]byte(ans.CA))
	if err != nil || trust.CheckCA(tc.Token, caCert) != nil || !strings.Contains(ans.Certificate, "BEGIN CERTIFICATE") {
		t.Fatalf("join answer without a certificate from the token's CA: %s (%v)", body, err)
	}
	if got := suffrageOf(t, tc, lead, "ghost"); got != "nonvoter" {
		t.Fatalf("ghost joined as %q, want nonvoter", got)
	}
	// A token holder cannot re-register a member's address: node2's id
	// with another key and a new HTTP address is refused.
	n2 := tc.Nodes[1]
	stealCSR, err := trust.NewCSR(ghostKey, trust.Request{ID: n2.ID, RaftAddr: n2.RaftAddr, HTTPAddr: "127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	steal := fmt.Sprintf(`{"id":%q,"raft_addr":%q,"http_addr":"127.0.0.1:3","version":"dev","token":%q,"csr":%s}`,
		n2.ID, n2.RaftAddr, tc.Token, strconv.Quote(string(stealCSR)))
	resp, body = tc.Do(t, lead, http.MethodPost, "/v1/cluster/join", steal, nil)
	expectProblem(t, resp, body, http.StatusConflict, api.ProblemConflict, "")
	if !strings.Contains(string(body), "another key") {
		t.Fatalf("refusal does not say why: %s", body)
	}
	// Nor take over a live member's raft address with a new id (a node
	// rebuilt with an empty data dir does that, but its predecessor is
	// gone): refused, and node2 stays a voter.
	takeKey, err := trust.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	takeCSR, err := trust.NewCSR(takeKey, trust.Request{ID: "evil-takeover", RaftAddr: n2.RaftAddr, HTTPAddr: "127.0.0.1:4"})
	if err != nil {
		t.Fatal(err)
	}
	take := fmt.Sprintf(`{"id":"evil-takeover","raft_addr":%q,"http_addr":"127.0.0.1:4","version":"dev","token":%q,"csr":%s}`,
		n2.RaftAddr, tc.Token, strconv.Quote(string(takeCSR)))
	resp, body = tc.Do(t, lead, http.MethodPost, "/v1/cluster/join", take, nil)
	expectProblem(t, resp, body, http.StatusConflict, api.ProblemConflict, "")
	if !strings.Contains(string(body), "which is up") {
		t.Fatalf("refusal does not say why: %s", body)
	}
	if got := suffrageOf(t, tc, lead, n2.ID); got != "voter" {
		t.Fatalf("node2 is %q after the takeover attempt, want voter", got)
	}
	if got := suffrageOf(t, tc, lead, "evil-takeover"); got != "" {
		t.Fatalf("the takeover joined as %q", got)
	}
	// Promotion needs the token too.
	resp, body = tc.Do(t, f, http.MethodPost, "/v1/cluster/nodes/ghost/promote", strings.Replace(ghost, "%s", `,"token":"guess"`, 1), nil)
	expectProblem(t, resp, body, http.StatusForbidden, api.ProblemForbidden, "")
	if got := suffrageOf(t, tc, lead, "ghost"); got != "nonvoter" {
		t.Fatalf("ghost is %q after a refused promotion", got)
	}

	// The harness's second node went through the real flow: it announced
	// itself as a non-voter, then became a voter.
	out := tc.Nodes[1].Out.String()
	joined := strings.Index(out, "joined the cluster as a non-voter")
	voter := strings.Index(out, "is a voter")
	if joined < 0 || voter < joined {
		t.Fatalf("node2 output does not show non-voter then voter:\n%s", out)
	}
	if got := suffrageOf(t, tc, lead, tc.Nodes[1].ID); got != "voter" {
		t.Fatalf("node2 is %q, want voter", got)
	}
	// The joiner kept the token, readable by its owner only, to
	// re-announce itself after a restart.
	path := filepath.Join(tc.Nodes[1].Dir, node.JoinTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := os.ReadFile(path)
	if fi.Mode().Perm() != 0o600 || strings.TrimSpace(string(kept)) != tc.Token {
		t.Fatalf("joiner's %s: mode %v, token kept %v", node.JoinTokenFile, fi.Mode().Perm(), strings.TrimSpace(string(kept)) == tc.Token)
	}
}

// suffrageOf reads GET /v1/cluster on tn and returns id's suffrage ("" when absent).
func suffrageOf(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, id string) string {
	t.Helper()
	resp, body := tc.Do(t, tn, http.MethodGet, "/v1/cluster", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/cluster: %d %s", resp.StatusCode, body)
	}
	var v api.ClusterView
	nodetest.DecodeJSON(t, body, &v)
	for _, n := range v.Nodes {
		if n.ID == id {
			return n.Suffrage
		}
	}
	return ""
}

// TestRestartKeepsIdentityAndCatchesUp: a stopped follower restarts from its
// data dir (no join flags needed), catches up, and is ready.
func TestRestartKeepsIdentityAndCatchesUp(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	tc.Stop(t, f.Index)
	var ids []string
	for range 5 {
		resp, body := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/attendances", adaBody, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST with a follower down: %d %s", resp.StatusCode, body)
		}
		var c created
		nodetest.DecodeJSON(t, body, &c)
		ids = append(ids, c.ID)
	}
	cfg := tc.Config(f.Index)
	cfg.Join, cfg.JoinToken, cfg.NodeID = nil, "", "" // everything from the data dir
	tc.StartWith(t, f.Index, cfg)
	if got := f.N.ID(); got != f.ID {
		t.Fatalf("restarted as %q, want stored id %q", got, f.ID)
	}
	tc.WaitReady(t)
	// Ready means caught up with the leader's commit index: the writes made
	// while it was down are readable locally.
	for _, id := range ids {
		resp, body := tc.Do(t, f, http.MethodGet, "/v1/attendances/"+id+"?consistency=stale", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ready restarted node lacks %s: %d %s", id, resp.StatusCode, body)
		}
	}
	if got := suffrageOf(t, tc, f, f.ID); got != "voter" {
		t.Fatalf("restarted node is %q", got)
	}
}

// TestQuorumLossAnswers503Promptly in-process: with two of
// three nodes stopped, a write to the survivor is 503 problem+json with
// Retry-After (the client's 9s timeout bounds "promptly"), and /readyz is 503.
func TestQuorumLossAnswers503Promptly(t *testing.T) {
	tc := nodetest.New(t, 3)
	survivor := tc.Nodes[2]
	tc.Stop(t, 0)
	tc.Stop(t, 1)
	tc.Client.Timeout = 9 * time.Second
	resp, body := tc.Do(t, survivor, http.MethodPost, "/v1/attendances", adaBody, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("POST without quorum: %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var p problemBody
	nodetest.DecodeJSON(t, body, &p)
	if p.Type != api.ProblemNotAccepted && p.Type != api.ProblemOutcomeUnknown {
		t.Fatalf("problem type %q", p.Type)
	}
	nodetest.Eventually(t, "survivor not ready", func() error {
		resp, body := tc.Do(t, survivor, http.MethodGet, "/readyz", "", nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return &api.Problem{Status: resp.StatusCode, Detail: string(body)}
		}
		return nil
	})
	resp, body = tc.Do(t, survivor, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz without quorum: %d %s", resp.StatusCode, body)
	}
}

// TestRestartReannouncesChangedHTTPAddress: a node restarted from its data
// dir on a new HTTP address (no --join flags) re-announces itself with the
// token it kept, so the others forward to and list the new address.
func TestRestartReannouncesChangedHTTPAddress(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	tc.Stop(t, f.Index)
	f.HTTPAddr = nodetest.FreeAddr(t)
	f.URL = "http://" + f.HTTPAddr
	cfg := tc.Config(f.Index)
	cfg.HTTPAddr, cfg.Join, cfg.JoinToken = f.HTTPAddr, nil, ""
	tc.StartWith(t, f.Index, cfg)
	lead := tc.Leader(t)
	nodetest.Eventually(t, "new HTTP address replicated", func() error {
		for _, ns := range lead.N.Store().Status().Nodes {
			if ns.ID == f.ID && ns.HTTPAddr == f.HTTPAddr {
				return nil
			}
		}
		return fmt.Errorf("registry still has the old address")
	})
	tc.WaitReady(t)
}

// TestJoinWithWrongTokenStopsTheNode: `serve --join` with a wrong token
// ends with a join-refused error (serve exits non-zero) instead of retrying
// forever, and the node never enters the cluster.
func TestJoinWithWrongTokenStopsTheNode(t *testing.T) {
	tc := nodetest.New(t, 1)
	dir := t.TempDir()
	addr := nodetest.FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{DataDir: dir, NodeID: "intruder", HTTPAddr: addr, RaftAddr: nodetest.FreeAddr(t),
		Join: []string{tc.Nodes[0].HTTPAddr}, JoinToken: "not-the-token", HTTPListener: ln,
		RaftTuning: cluster.FastRaftTuning(), Logger: nodetest.Logger(), SkipRaftMetrics: true, JoinRetryMax: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = node.Run(ctx, cfg, io.Discard)
	if !errors.Is(err, node.ErrJoinRefused) {
		t.Fatalf("runServe = %v, want a join-refused error", err)
	}
	if got := suffrageOf(t, tc, tc.Nodes[0], "intruder"); got != "" {
		t.Fatalf("intruder is in the cluster as %q", got)
	}
	// Its data dir kept the token but no raft state: starting it again
	// without --join must not bootstrap a cluster of its own.
	cfg.Join, cfg.JoinToken, cfg.HTTPListener = nil, "", nil
	cfg.HTTPAddr = nodetest.FreeAddr(t)
	if err := node.Run(ctx, cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "start it with --join") {
		t.Fatalf("restart without --join = %v, want a refusal to bootstrap", err)
	}
}

// TestRemoveNodeNeedsTheToken: DELETE /v1/cluster/nodes/{id} without the
// join token as a bearer token is refused and removes nothing.
func TestRemoveNodeNeedsTheToken(t *testing.T) {
	tc := nodetest.New(t, 2)
	victim := tc.Follower(t).ID
	for _, hdr := range []map[string]string{nil, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer "},
		{"Authorization": "Bearer not-the-token"}} {
		resp, body := tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/cluster/nodes/"+victim, "", hdr)
		expectProblem(t, resp, body, http.StatusForbidden, api.ProblemForbidden, "")
	}
	if got := suffrageOf(t, tc, tc.Leader(t), victim); got != "voter" {
		t.Fatalf("%s is %q after refused removals", victim, got)
	}
	// With the join token the member goes.
	resp, body := tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/cluster/nodes/"+victim, "",
		map[string]string{"Authorization": "Bearer " + tc.Token})
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE with the token: %d %s", resp.StatusCode, body)
	}
	if got := suffrageOf(t, tc, tc.Leader(t), victim); got != "" {
		t.Fatalf("%s is still listed as %q after removal", victim, got)
	}
}

// TestTrustPKI: nodes certified by the trust's own CA (--tls-cert,
// --tls-key, --tls-ca) form a cluster without a cluster CA, and a node
// reloads a renewed certificate (with a new key) without restarting.
func TestTrustPKI(t *testing.T) {
	ca, err := trust.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	issueFiles := func(id, raftAddr, httpAddr string) (string, string) {
		key, err := trust.NewNodeKey()
		if err != nil {
			t.Fatal(err)
		}
		req := trust.Request{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}
		csrPEM, err := trust.NewCSR(key, req)
		if err != nil {
			t.Fatal(err)
		}
		csr, _, err := trust.CheckCSR(csrPEM, req)
		if err != nil {
			t.Fatal(err)
		}
		certPEM, err := ca.Issue(csr, req, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPath, keyPath := filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
		if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return certPath, keyPath
	}
	tc := nodetest.NewWith(t, 2, func(c *node.Config) {
		c.TLSCert, c.TLSKey = issueFiles(c.NodeID, c.RaftAddr, c.HTTPAddr)
		c.TLSCA = caPath
	})
	if _, ok := trust.TokenCA(tc.Token); ok {
		t.Fatalf("a cluster on the trust's PKI made a token naming a CA: %s", tc.Token)
	}
	n2 := tc.Nodes[1]
	before := n2.N.Store().Identity().NotAfter()
	time.Sleep(1100 * time.Millisecond) // NotAfter has a resolution of one second
	issueFiles(n2.ID, n2.RaftAddr, n2.HTTPAddr)
	if err := n2.N.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if after := n2.N.Store().Identity().NotAfter(); !after.After(before) {
		t.Fatalf("certificate not reloaded: %v then %v", before, after)
	}
	// Writes through the reloaded node still reach the leader and back.
	key := tc.Key(t, "reception", "After reload")
	if key == "" {
		t.Fatal("no key made after the reload")
	}
	// A certificate naming another node is refused at start.
	bad := tc.Config(1)
	bad.TLSCert, bad.TLSKey = issueFiles("someone-else", n2.RaftAddr, n2.HTTPAddr)
	if _, err := node.Start(context.Background(), bad, io.Discard); err == nil || !strings.Contains(err.Error(), "names node") {
		t.Fatalf("start with another node's certificate: %v", err)
	}
}

// TestClusterViewNamesEveryRole: GET /v1/cluster, asked of a follower,
// names the leader and every other member's own state (follower), once it
// has measured them: `frontdoor status` prints no "?" for a healthy member.
func TestClusterViewNamesEveryRole(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead, fol := tc.Leader(t), tc.Follower(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := tc.Do(t, fol, http.MethodGet, "/v1/cluster", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/cluster: %d %s", resp.StatusCode, body)
		}
		var v api.ClusterView
		nodetest.DecodeJSON(t, body, &v)
		got := map[string]string{}
		for _, n := range v.Nodes {
			got[n.ID] = n.State
		}
		ok := len(got) == 3
		for _, n := range tc.Nodes {
			want := "follower"
			if n.ID == lead.ID {
				want = "leader"
			}
			ok = ok && got[n.ID] == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %v, want the leader %s and two followers", got, lead.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
