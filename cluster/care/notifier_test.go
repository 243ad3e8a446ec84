package care

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/routing"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type receiver struct {
	mu       sync.Mutex
	statuses []int // returned in order; last one repeats
	calls    int
	ids      []string
	verified []error
	delay    time.Duration
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls++
	n := rc.calls
	rc.ids = append(rc.ids, r.Header.Get(HeaderWebhookID))
	rc.verified = append(rc.verified, Verify(testSecret, r.Header, body, 5*time.Minute, time.Now()))
	st := rc.statuses[min(n, len(rc.statuses))-1]
	delay := rc.delay
	rc.mu.Unlock()
	if delay > 0 && n == 1 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(st)
}

func testNotifier() (*Notifier, *[]time.Duration) {
	var sleeps []time.Duration
	n := NewNotifier()
	n.DevLoopback = true // the test servers are plain http on 127.0.0.1
	n.Jitter = func() float64 { return 0.5 }
	n.Sleep = func(ctx context.Context, d time.Duration) error { sleeps = append(sleeps, d); return ctx.Err() }
	n.Timeout = 2 * time.Second
	return n, &sleeps
}

func TestNotifierRetriesThenDelivers(t *testing.T) {
	rc := &receiver{statuses: []int{500, 503, 429, 204}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, sleeps := testNotifier()
	res, err := n.Notify(context.Background(), routing.Webhook{URL: srv.URL, Secret: testSecret}, nil, "msg_1", []byte(`{"dispatch":"d1"}`))
	if err != nil || res.Status != NotifyDelivered || res.Attempts != 4 || res.LastStatus != 204 {
		t.Fatalf("result %+v err %v", res, err)
	}
	for i, v := range rc.verified {
		if v != nil {
			t.Errorf("attempt %d signature: %v", i+1, v)
		}
		if rc.ids[i] != "msg_1" {
			t.Errorf("attempt %d id %q", i+1, rc.ids[i])
		}
	}
	want := []time.Duration{375 * time.Millisecond, 750 * time.Millisecond, 1500 * time.Millisecond}
	if len(*sleeps) != len(want) {
		t.Fatalf("sleeps %v, want %v", *sleeps, want)
	}
	for i := range want {
		if (*sleeps)[i] != want[i] {
			t.Errorf("sleep %d = %v, want %v (exponential, equal jitter)", i, (*sleeps)[i], want[i])
		}
	}
}

func TestNotifierPermanentFailure(t *testing.T) {
	rc := &receiver{statuses: []int{410}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, sleeps := testNotifier()
	res, err := n.Notify(context.Background(), routing.Webhook{URL: srv.URL, Secret: testSecret}, nil, "msg_2", []byte(`{}`))
	if err == nil || res.Status != NotifyPermanent || res.Attempts != 1 || rc.calls != 1 || len(*sleeps) != 0 {
		t.Fatalf("result %+v err %v calls %d sleeps %v", res, err, rc.calls, *sleeps)
	}
}

func TestNotifierExhaustsRetries(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, _ := testNotifier()
	n.MaxAttempts = 3
	res, err := n.Notify(context.Background(), routing.Webhook{URL: srv.URL, Secret: testSecret}, nil, "msg_3", []byte(`{}`))
	if err == nil || res.Status != NotifyExhausted || res.Attempts != 3 || rc.calls != 3 {
		t.Fatalf("result %+v err %v calls %d", res, err, rc.calls)
	}
}

func TestNotifierAttemptTimeout(t *testing.T) {
	rc := &receiver{statuses: []int{200}, delay: 5 * time.Second}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, _ := testNotifier()
	n.Timeout = 100 * time.Millisecond
	res, err := n.Notify(context.Background(), routing.Webhook{URL: srv.URL, Secret: testSecret}, nil, "msg_4", []byte(`{}`))
	if err != nil || res.Status != NotifyDelivered || res.Attempts != 2 {
		t.Fatalf("result %+v err %v: the first attempt should time out and the second deliver", res, err)
	}
}

func TestNotifierCancelled(t *testing.T) {
	rc := &receiver{statuses: []int{500}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, _ := testNotifier()
	ctx, cancel := context.WithCancel(context.Background())
	n.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	res, err := n.Notify(ctx, routing.Webhook{URL: srv.URL, Secret: testSecret}, nil, "msg_5", []byte(`{}`))
	if !errors.Is(err, context.Canceled) || res.Status != NotifyCancelled || res.Attempts != 1 {
		t.Fatalf("result %+v err %v", res, err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	// Standard Webhooks reference vector
	h := http.Header{}
	h.Set(HeaderWebhookID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(HeaderWebhookTimestamp, "1614265330")
	h.Set(HeaderWebhookSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if err := Verify(testSecret, h, body, 5*time.Minute, now); err != nil {
		t.Fatalf("reference vector: %v", err)
	}
	tests := []struct {
		name string
		mod  func(h http.Header, b []byte, now time.Time) (http.Header, []byte, time.Time)
		want error
	}{
		{"tampered body", func(h http.Header, b []byte, n time.Time) (http.Header, []byte, time.Time) {
			return h, []byte(`{"test": 1}`), n
		}, ErrInvalidSignature},
		{"too old", func(h http.Header, b []byte, n time.Time) (http.Header, []byte, time.Time) {
			return h, b, n.Add(6 * time.Minute)
		}, ErrTimestampSkew},
		{"missing id", func(h http.Header, b []byte, n time.Time) (http.Header, []byte, time.Time) {
			h = h.Clone()
			h.Del(HeaderWebhookID)
			return h, b, n
		}, ErrMissingHeaders},
		{"second signature matches", func(h http.Header, b []byte, n time.Time) (http.Header, []byte, time.Time) {
			h = h.Clone()
			h.Set(HeaderWebhookSignature, "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
			return h, b, n
		}, nil},
	}
	for _, tt := range tests {
		hh, bb, nn := tt.mod(h, body, now)
		if err := Verify(testSecret, hh, bb, 5*time.Minute, nn); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// raw (non-whsec) secrets are used as bytes
	sig, err := Sign("plain-secret", "id1", 100, body)
	if err != nil {
		t.Fatal(err)
	}
	h2 := http.Header{}
	h2.Set(HeaderWebhookID, "id1")
	h2.Set(HeaderWebhookTimestamp, "100")
	h2.Set(HeaderWebhookSignature, sig)
	if err := Verify("plain-secret", h2, body, time.Minute, time.Unix(100, 0)); err != nil {
		t.Errorf("raw secret: %v", err)
	}
}
