package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestStreamFloodCountsAndHolds: the flood counts each answer by status and
// keeps the accepted streams open until the run ends.
func TestStreamFloodCountsAndHolds(t *testing.T) {
	var mu sync.Mutex
	open, served := 0, 0
	closed := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		served++
		if open >= 3 {
			mu.Unlock()
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		open++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		mu.Lock()
		open--
		mu.Unlock()
		closed <- struct{}{}
	}))
	defer srv.Close()
	f := newStreamFlood(srv.URL, "k", 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := served
		mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 10 attempts reached the server", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if open != 3 {
		t.Errorf("%d streams open while the run goes on, want 3", open)
	}
	mu.Unlock()
	cancel()
	<-done
	for range 3 {
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("an accepted stream was not closed at the end")
		}
	}
	r := f.report()
	if r.Statuses[http.StatusOK] != 3 || r.Statuses[http.StatusTooManyRequests] != 7 {
		t.Fatalf("statuses %v, want 3 OK and 7 429", r.Statuses)
	}
}
