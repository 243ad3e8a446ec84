package loadtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// WebhookReceiver is the local rapid response team a dispatch workload
// points its services' webhooks at: it accepts every delivery (2xx),
// checks its Standard Webhooks signature (HMAC-SHA256 of
// "id.timestamp.body", computed here independently of the cluster's
// notifier) and remembers it for the DispatchCheck.
type WebhookReceiver struct {
	secret []byte // HMAC key; nil: signatures not checked
	ref    func(body []byte) string

	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	byRef      map[string]int    // reference (e.g. dispatch id) -> deliveries
	firstBody  map[string][]byte // reference -> the first delivery's body
	ids        map[string]int    // webhook-id -> deliveries (redeliveries share one)
	badSig     int
	unreadable int
}

// StartWebhookReceiver listens on a loopback port. secret is the raw HMAC
// key (nil: accept unsigned deliveries); ref extracts the reference a
// delivery is matched by from its body ("" when it has none).
func StartWebhookReceiver(secret []byte, ref func(body []byte) string) (*WebhookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &WebhookReceiver{secret: secret, ref: ref, ln: ln, byRef: map[string]int{}, firstBody: map[string][]byte{}, ids: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is where deliveries go.
func (r *WebhookReceiver) URL() string { return "http://" + r.ln.Addr().String() + "/webhook" }

// Close stops the receiver.
func (r *WebhookReceiver) Close() error { return r.srv.Close() }

func (r *WebhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		r.mu.Lock()
		r.unreadable++
		r.mu.Unlock()
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	if r.secret != nil && !validSignature(r.secret, id, req.Header.Get("webhook-timestamp"), body, req.Header.Get("webhook-signature")) {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ref := ""
	if r.ref != nil {
		ref = r.ref(body)
	}
	r.mu.Lock()
	r.ids[id]++
	if ref != "" {
		if r.byRef[ref] == 0 {
			r.firstBody[ref] = body
		}
		r.byRef[ref]++
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// validSignature checks a Standard Webhooks signature header, which may
// carry several space-separated "v1,<base64>" signatures.
func validSignature(key []byte, id, ts string, body []byte, header string) bool {
	if id == "" || ts == "" {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(header) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// received is how many deliveries carried ref.
func (r *WebhookReceiver) received(ref string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byRef[ref]
}

// wait returns the first delivery carrying ref, waiting up to timeout.
func (r *WebhookReceiver) wait(ctx context.Context, ref string, timeout time.Duration) ([]byte, bool) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		b, ok := r.firstBody[ref]
		r.mu.Unlock()
		if ok {
			return b, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, false
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *WebhookReceiver) rejected() (badSig, unreadable int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badSig, r.unreadable
}

// DispatchCheck matches the dispatches a workload made (ledger writes
// with a Ref, of operation Op) with the webhooks the receiver got: every
// acknowledged dispatch must be delivered at least once (redelivery is
// allowed: receivers deduplicate by webhook-id), and no delivery may fail
// its signature. Delivery is asynchronous (the leader's outbox), so the
// check waits up to Patience for stragglers.
type DispatchCheck struct {
	Op       string
	Receiver *WebhookReceiver
	Patience time.Duration // default 30s
}

func (*DispatchCheck) Name() string { return "lost dispatch webhooks" }

func (c *DispatchCheck) Run(ctx context.Context, env *CheckEnv) CheckResult {
	res := CheckResult{Name: c.Name(), Required: true}
	if c.Receiver == nil {
		res.Reason = "no webhook receiver"
		return res
	}
	var refs []string
	for _, w := range env.Ledger.Writes() {
		if w.Op == c.Op && w.Ref != "" {
			refs = append(refs, w.Ref)
		}
	}
	sort.Strings(refs)
	res.Checked, res.Items = true, len(refs)
	patience := c.Patience
	if patience <= 0 {
		patience = 30 * time.Second
	}
	deadline := time.Now().Add(patience)
	var missing []string
	for {
		missing = missing[:0]
		for _, ref := range refs {
			if c.Receiver.received(ref) == 0 {
				missing = append(missing, ref)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.Count = len(missing)
	for i, ref := range missing {
		if i == 20 {
			res.Details = append(res.Details, fmt.Sprintf("… and %d more", len(missing)-20))
			break
		}
		res.Details = append(res.Details, fmt.Sprintf("dispatch %s: no webhook within %v", ref, patience))
	}
	if bad, unreadable := c.Receiver.rejected(); bad+unreadable > 0 {
		res.Count += bad + unreadable
		res.Details = append(res.Details, fmt.Sprintf("%d deliveries with a bad signature, %d unreadable", bad, unreadable))
	}
	return res
}
