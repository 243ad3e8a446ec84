package loadtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deliver posts one signed webhook as the cluster's notifier would.
func deliver(t *testing.T, url string, key []byte, id string, body []byte, tamper bool) int {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	sig := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if tamper {
		body = append([]byte(nil), body...)
		body[len(body)-2] ^= 1
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,bm90IGl0 "+sig) // a rotated-out signature first
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDispatchCheck: three acknowledged dispatches, webhooks for two of
// them (one delivered twice, which is allowed): one lost; a tampered
// delivery is refused and counted.
func TestDispatchCheck(t *testing.T) {
	key := []byte("test-secret")
	ref := func(body []byte) string {
		var d struct {
			DispatchID string `json:"dispatch_id"`
		}
		_ = json.Unmarshal(body, &d)
		return d.DispatchID
	}
	r, err := StartWebhookReceiver(key, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var l Ledger
	for _, id := range []string{"d1", "d2", "d3"} {
		l.Add(AckedWrite{Op: "dispatch.create", Ref: id})
	}
	l.Add(AckedWrite{Op: opCreate, Path: "/v1/attendances/a1"}) // not a dispatch
	for _, d := range []struct{ id, dispatch string }{{"msg1", "d1"}, {"msg1", "d1"}, {"msg3", "d3"}} {
		if code := deliver(t, r.URL(), key, d.id, []byte(`{"dispatch_id":"`+d.dispatch+`"}`), false); code != http.StatusNoContent {
			t.Fatalf("delivery answered %d", code)
		}
	}
	chk := &DispatchCheck{Op: "dispatch.create", Receiver: r, Patience: 300 * time.Millisecond}
	got := chk.Run(context.Background(), &CheckEnv{Ledger: &l})
	if !got.Checked || got.Items != 3 || got.Count != 1 || !strings.Contains(got.Details[0], "dispatch d2: no webhook") {
		t.Fatalf("one lost: %+v", got)
	}
	if got.Line() != "lost dispatch webhooks: 1" {
		t.Fatalf("line %q", got.Line())
	}
	if code := deliver(t, r.URL(), key, "msg2", []byte(`{"dispatch_id":"d2"}`), true); code != http.StatusUnauthorized {
		t.Fatalf("tampered delivery answered %d", code)
	}
	got = chk.Run(context.Background(), &CheckEnv{Ledger: &l})
	if got.Count != 2 || !strings.Contains(strings.Join(got.Details, "\n"), "1 deliveries with a bad signature") {
		t.Fatalf("tampered: %+v", got)
	}
	if code := deliver(t, r.URL(), key, "msg2", []byte(`{"dispatch_id":"d2"}`), false); code != http.StatusNoContent {
		t.Fatalf("delivery answered %d", code)
	}
	if got = chk.Run(context.Background(), &CheckEnv{Ledger: &l}); got.Count != 1 || len(got.Details) != 1 {
		t.Fatalf("all delivered, one bad signature on the way: %+v", got)
	}
}
