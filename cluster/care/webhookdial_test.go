package care

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/routing"
)

// fakeDNS answers host lookups from a script: the i-th lookup of a host
// gets answers[host][i] (the last one repeats), so a test can re-point a
// name between two dials as a DNS rebinding attacker would.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][][]string
	lookups map[string]int
}

func (d *fakeDNS) lookup(_ context.Context, _, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seq, ok := d.answers[host]
	if !ok {
		return nil, errors.New("no such host " + host)
	}
	d.lookups[host]++
	var out []netip.Addr
	for _, a := range seq[min(d.lookups[host], len(seq))-1] {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// tlsReceiver is an https receiver on 127.0.0.1 and a TLS configuration
// that trusts it (its certificate names example.com).
func tlsReceiver(t *testing.T, h http.Handler) (*httptest.Server, *tls.Config) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, &tls.Config{RootCAs: pool, ServerName: "example.com"}
}

// TestWebhookDestinationRulesAtDialTime: the notifier connects only where
// the rules and the allow-list let it, deciding on the addresses a name
// resolves to when it dials; a refusal is a permanent failure after one
// attempt, logged, and the receiver sees nothing.
func TestWebhookDestinationRulesAtDialTime(t *testing.T) {
	rcv := &receiver{statuses: []int{200}}
	srv, tlsCfg := tlsReceiver(t, rcv)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	plain := httptest.NewServer(rcv)
	t.Cleanup(plain.Close)
	const name = "receiver.trust.example"
	named := "https://" + name + ":" + port + "/hook"
	tests := []struct {
		name    string
		url     string
		allow   routing.WebhookAllowList
		dns     []string // what name resolves to
		dev     bool
		want    string // DeliveryResult.Status
		logged  string // in the log when refused
		reaches bool
	}{
		{"listed name at an address in a listed cidr", named, routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"127.0.0.0/8"}}, []string{"127.0.0.1"}, false, NotifyDelivered, "", true},
		{"listed name at an internal address in no listed cidr", named, routing.WebhookAllowList{Hosts: []string{name}}, []string{"127.0.0.1"}, false, NotifyPermanent, "not on the allow-list", false},
		{"unlisted name", named, routing.WebhookAllowList{Hosts: []string{"other.example"}}, []string{"127.0.0.1"}, false, NotifyPermanent, "not on the allow-list", false},
		{"listed name rebound to the metadata address, everything listed", named, routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"0.0.0.0/0", "::/0"}}, []string{"169.254.169.254"}, false, NotifyPermanent, "never allowed", false},
		{"listed name rebound to the IPv6 metadata address", named, routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"::/0"}}, []string{"fd00:ec2::254"}, false, NotifyPermanent, "never allowed", false},
		{"listed name rebound to a private address", named, routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"127.0.0.0/8"}}, []string{"10.9.8.7"}, false, NotifyPermanent, "private address", false},
		{"literal address in a listed cidr", srv.URL + "/hook", routing.WebhookAllowList{CIDRs: []string{"127.0.0.1/32"}}, nil, false, NotifyDelivered, "", true},
		{"http to loopback without the development flag", plain.URL + "/hook", routing.WebhookAllowList{CIDRs: []string{"127.0.0.0/8"}}, nil, false, NotifyPermanent, "http (not https)", false},
		{"http to loopback with the development flag", plain.URL + "/hook", routing.WebhookAllowList{}, nil, true, NotifyDelivered, "", true},
		{"http to a listed name, even with the flag", "http://" + name + ":" + port + "/hook", routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"127.0.0.0/8"}}, []string{"127.0.0.1"}, true, NotifyPermanent, "http (not https)", false},
		{"file scheme", "file:///etc/passwd", routing.WebhookAllowList{}, nil, true, NotifyPermanent, "scheme must be https", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv.mu.Lock()
			rcv.calls = 0
			rcv.mu.Unlock()
			var logs bytes.Buffer
			n, _ := testNotifier()
			n.MaxAttempts = 3
			n.DevLoopback = tt.dev
			n.TLSConfig = tlsCfg
			n.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			dns := &fakeDNS{answers: map[string][][]string{name: {tt.dns}}, lookups: map[string]int{}}
			n.LookupIP = dns.lookup
			allow := tt.allow
			res, err := n.Notify(context.Background(), routing.Webhook{URL: tt.url, Secret: testSecret}, &allow, "msg_dial", []byte(`{}`))
			if res.Status != tt.want {
				t.Fatalf("status %s (%v), want %s", res.Status, err, tt.want)
			}
			rcv.mu.Lock()
			calls := rcv.calls
			rcv.mu.Unlock()
			if (calls > 0) != tt.reaches {
				t.Fatalf("receiver saw %d requests", calls)
			}
			if tt.want == NotifyPermanent {
				if res.Attempts > 1 {
					t.Fatalf("a refused destination was tried %d times", res.Attempts)
				}
				if !strings.Contains(res.LastError, tt.logged) || !strings.Contains(logs.String(), "webhook destination refused") {
					t.Fatalf("last error %q, log %q: want %q", res.LastError, logs.String(), tt.logged)
				}
			}
		})
	}
}

// TestWebhookDNSRebindingBetweenAttempts: a listed name that resolved to an
// allowed address for the first attempt (which got a 503) and to the
// metadata address for the second is refused at the second dial: every
// dial resolves and checks afresh, and connects to the address it checked.
func TestWebhookDNSRebindingBetweenAttempts(t *testing.T) {
	rcv := &receiver{statuses: []int{503, 200}}
	srv, tlsCfg := tlsReceiver(t, rcv)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	const name = "receiver.trust.example"
	dns := &fakeDNS{answers: map[string][][]string{name: {{"127.0.0.1"}, {"169.254.169.254"}}}, lookups: map[string]int{}}
	n, _ := testNotifier()
	n.DevLoopback, n.TLSConfig, n.LookupIP = false, tlsCfg, dns.lookup
	allow := &routing.WebhookAllowList{Hosts: []string{name}, CIDRs: []string{"0.0.0.0/0"}}
	res, err := n.Notify(context.Background(), routing.Webhook{URL: "https://" + name + ":" + port + "/hook", Secret: testSecret}, allow, "msg_rebind", []byte(`{}`))
	if res.Status != NotifyPermanent || res.Attempts != 2 || !errors.Is(err, errDestinationRefused) {
		t.Fatalf("result %+v, err %v: want a permanent refusal at attempt 2", res, err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls != 1 || dns.lookups[name] != 2 {
		t.Fatalf("receiver saw %d requests, %d lookups: want 1 and 2", rcv.calls, dns.lookups[name])
	}
}

// TestWebhookRedirectNotFollowed: a receiver answering 307 to another host
// is a failed delivery (permanent, one attempt, logged); the other host
// receives nothing, neither the patient's details nor a valid signature.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	second := &receiver{statuses: []int{200}}
	secondSrv, tlsCfg := tlsReceiver(t, second)
	first, _ := tlsReceiver(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, secondSrv.URL+"/internal", http.StatusTemporaryRedirect)
	}))
	// Both servers' certificates come from httptest's one CA.
	var logs bytes.Buffer
	n, _ := testNotifier()
	n.DevLoopback, n.TLSConfig = false, tlsCfg
	n.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	allow := &routing.WebhookAllowList{CIDRs: []string{"127.0.0.0/8"}}
	res, err := n.Notify(context.Background(), routing.Webhook{URL: first.URL + "/hook", Secret: testSecret}, allow, "msg_redirect", []byte(`{"patient":"x"}`))
	if res.Status != NotifyPermanent || res.Attempts != 1 || res.LastStatus != http.StatusTemporaryRedirect || err == nil {
		t.Fatalf("result %+v, err %v: want a permanent failure on the 307", res, err)
	}
	loc, _ := url.Parse(secondSrv.URL)
	if !strings.Contains(res.LastError, "not followed") || !strings.Contains(logs.String(), "webhook redirect not followed") ||
		!strings.Contains(logs.String(), loc.Host) {
		t.Fatalf("last error %q, log %q", res.LastError, logs.String())
	}
	second.mu.Lock()
	defer second.mu.Unlock()
	if second.calls != 0 {
		t.Fatalf("the redirect target received %d requests", second.calls)
	}
}
