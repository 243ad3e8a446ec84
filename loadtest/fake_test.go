package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeCluster is an httptest stand-in for a frontdoor cluster: nodes that
// share one leader store (what linearizable reads see) and each have their
// own replica (what stale reads see). Faults are injected per write
// number: an acknowledged write that is never stored, one missing from
// one node's replica, one stored with a different complaint.
type fakeCluster struct {
	mu       sync.Mutex
	leader   map[string]map[string]any
	replicas []map[string]map[string]any
	byKey    map[string]string // Idempotency-Key -> id
	posts    int

	loseWrite     int // the nth acknowledged write (1-based) is never stored
	loseOnReplica int // the nth is missing from replica 2 only
	corruptWrite  int // the nth is stored with another complaint
	unavailable   int // node index (1-based) that answers 503 to everything
	needKey       string

	servers []*httptest.Server
}

func newFakeCluster(t *testing.T, nodes int, configure func(*fakeCluster)) *fakeCluster {
	t.Helper()
	f := &fakeCluster{leader: map[string]map[string]any{}, byKey: map[string]string{}}
	if configure != nil {
		configure(f)
	}
	for i := range nodes {
		f.replicas = append(f.replicas, map[string]map[string]any{})
		srv := httptest.NewServer(f.handler(i))
		t.Cleanup(srv.Close)
		f.servers = append(f.servers, srv)
	}
	return f
}

func (f *fakeCluster) urls() []string {
	var out []string
	for _, s := range f.servers {
		out = append(out, s.URL)
	}
	return out
}

func (f *fakeCluster) handler(node int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.unavailable == node+1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"type":"/problems/not-accepted"}`, http.StatusServiceUnavailable)
			return
		}
		if f.needKey != "" && r.Header.Get("Authorization") != "Bearer "+f.needKey {
			http.Error(w, `{"type":"/problems/unauthorized"}`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/attendances":
			key := r.Header.Get("Idempotency-Key")
			if id, ok := f.byKey[key]; ok {
				writeJSON(w, http.StatusCreated, map[string]any{"id": id})
				return
			}
			var rec map[string]any
			if err := json.NewDecoder(r.Body).Decode(&rec); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.posts++
			id := fmt.Sprintf("att%05d", f.posts)
			rec["id"] = id
			if p, ok := rec["patient"].(map[string]any); ok {
				if n, ok := p["nhs_number"].(string); ok {
					p["nhs_number"] = strings.ReplaceAll(n, " ", "")
				}
			}
			if f.posts == f.corruptWrite {
				rec["complaint"] = "something else"
			}
			f.byKey[key] = id
			if f.posts != f.loseWrite {
				f.leader[id] = rec
				for i, rep := range f.replicas {
					if !(f.posts == f.loseOnReplica && i == 1) {
						rep[id] = rec
					}
				}
			}
			writeJSON(w, http.StatusCreated, rec)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/attendances/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/attendances/")
			store := f.leader
			if r.URL.Query().Get("consistency") == "stale" {
				store = f.replicas[node]
			}
			rec, ok := store[id]
			if !ok {
				http.Error(w, `{"type":"/problems/not-found"}`, http.StatusNotFound)
				return
			}
			writeJSON(w, http.StatusOK, rec)
		case r.URL.Path == "/readyz":
			writeJSON(w, http.StatusOK, map[string]any{"ready": true})
		default:
			http.NotFound(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
