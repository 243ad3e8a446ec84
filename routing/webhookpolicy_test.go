package routing

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckWebhookURL(t *testing.T) {
	allow := &WebhookAllowList{Hosts: []string{"receiver.trust.example", "*.ucr.example"}, CIDRs: []string{"10.20.0.0/16", "0.0.0.0/0"}}
	none := &WebhookAllowList{}
	tests := []struct {
		name  string
		url   string
		allow *WebhookAllowList
		want  error // nil: accepted
	}{
		{"https listed host", "https://receiver.trust.example/hooks/ucr", allow, nil},
		{"https host under a listed suffix", "https://north.ucr.example:8443/x", allow, nil},
		{"suffix does not match the bare name", "https://ucr.example/x", none, ErrWebhookNotListed},
		{"https unlisted host", "https://elsewhere.example/x", allow, ErrWebhookNotListed},
		{"host case folded", "https://RECEIVER.trust.example/x", allow, nil},
		{"http to a listed host", "http://receiver.trust.example/x", allow, ErrWebhookURL},
		{"http to loopback", "http://127.0.0.1:9000/x", none, nil},
		{"http to localhost", "http://localhost:9000/x", none, nil},
		{"http to ::1", "http://[::1]:9000/x", none, nil},
		{"file scheme", "file:///etc/passwd", allow, ErrWebhookURL},
		{"gopher scheme", "gopher://receiver.trust.example/x", allow, ErrWebhookURL},
		{"not a url", "not a url", allow, ErrWebhookURL},
		{"empty", "", allow, ErrWebhookURL},
		{"user information", "https://u:p@receiver.trust.example/x", allow, ErrWebhookURL},
		{"bad port", "https://receiver.trust.example:99999/x", allow, ErrWebhookURL},
		{"metadata literal", "https://169.254.169.254/latest/meta-data", allow, ErrWebhookAddressNever},
		{"metadata over http", "http://169.254.169.254/latest/meta-data", allow, ErrWebhookURL},
		{"metadata as mapped IPv6", "https://[::ffff:169.254.169.254]/x", allow, ErrWebhookAddressNever},
		{"AWS IPv6 metadata", "https://[fd00:ec2::254]/x", &WebhookAllowList{CIDRs: []string{"fc00::/7"}}, ErrWebhookAddressNever},
		{"IPv6 link-local", "https://[fe80::1]/x", allow, ErrWebhookAddressNever},
		{"unspecified", "https://0.0.0.0/x", allow, ErrWebhookAddressNever},
		{"multicast", "https://224.0.0.1/x", allow, ErrWebhookAddressNever},
		{"private listed", "https://10.20.3.4/x", &WebhookAllowList{CIDRs: []string{"10.20.0.0/16"}}, nil},
		{"private unlisted", "https://10.21.3.4/x", &WebhookAllowList{CIDRs: []string{"10.20.0.0/16"}}, ErrWebhookNotListed},
		{"private, nothing listed", "https://192.168.1.10/x", none, ErrWebhookNotListed},
		{"public literal unlisted", "https://203.0.113.7/x", none, ErrWebhookNotListed},
		{"nil allow-list", "https://receiver.trust.example/x", nil, ErrWebhookNotListed},
		{"too long", "https://receiver.trust.example/" + strings.Repeat("a", MaxWebhookURLLen), allow, ErrWebhookURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWebhookURL(tt.url, tt.allow)
			if tt.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckWebhookIP(t *testing.T) {
	listed := &WebhookAllowList{Hosts: []string{"receiver.trust.example"}, CIDRs: []string{"10.20.0.0/16", "127.0.0.0/8"}}
	everything := &WebhookAllowList{Hosts: []string{"receiver.trust.example"}, CIDRs: []string{"0.0.0.0/0", "::/0"}}
	tests := []struct {
		name  string
		host  string
		ip    string
		allow *WebhookAllowList
		dev   bool
		want  error
	}{
		{"public address of a listed name", "receiver.trust.example", "203.0.113.7", listed, false, nil},
		{"public address of an unlisted name", "other.example", "203.0.113.7", listed, false, ErrWebhookNotListed},
		{"listed name re-pointed at a private address", "receiver.trust.example", "192.168.0.5", listed, false, ErrWebhookNotListed},
		{"listed name at a private address in a listed cidr", "receiver.trust.example", "10.20.9.9", listed, false, nil},
		{"listed name re-pointed at metadata", "receiver.trust.example", "169.254.169.254", everything, false, ErrWebhookAddressNever},
		{"metadata even with everything listed", "x.example", "169.254.169.254", everything, true, ErrWebhookAddressNever},
		{"AWS IPv6 metadata even with everything listed", "x.example", "fd00:ec2::254", everything, true, ErrWebhookAddressNever},
		{"link-local v6", "x.example", "fe80::1", everything, true, ErrWebhookAddressNever},
		{"mapped link-local", "x.example", "::ffff:169.254.1.1", everything, true, ErrWebhookAddressNever},
		{"unspecified", "x.example", "0.0.0.0", everything, true, ErrWebhookAddressNever},
		{"multicast v6", "x.example", "ff02::1", everything, true, ErrWebhookAddressNever},
		{"loopback without the flag", "localhost", "127.0.0.1", &WebhookAllowList{}, false, ErrWebhookNotListed},
		{"loopback with the flag", "localhost", "127.0.0.1", &WebhookAllowList{}, true, nil},
		{"loopback in a listed cidr", "receiver.trust.example", "127.0.0.1", listed, false, nil},
		{"private v6 unlisted", "receiver.trust.example", "fd12::1", listed, false, ErrWebhookNotListed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWebhookIP(tt.host, netip.MustParseAddr(tt.ip), tt.allow, tt.dev)
			if tt.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateSecret(t *testing.T) {
	b64 := func(n int) string { return "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		secret string
		ok     bool
	}{
		{"", false}, {"a", false}, {"whsec_", false}, {"whsec_!!!", false},
		{b64(23), false}, {b64(24), true}, {b64(64), true},
		{strings.TrimPrefix(b64(32), "whsec_"), false}, // no prefix
	}
	for _, tt := range tests {
		if err := ValidateSecret(tt.secret); (err == nil) != tt.ok {
			t.Errorf("ValidateSecret(%q) = %v, want ok=%v", tt.secret, err, tt.ok)
		}
	}
}

func TestWebhookAllowListValidate(t *testing.T) {
	tests := []struct {
		name  string
		list  WebhookAllowList
		field string // "" = valid
	}{
		{"hosts and cidrs", WebhookAllowList{Hosts: []string{"receiver.trust.example", "*.ucr.example"}, CIDRs: []string{"10.0.0.0/8", "fd12::/48", "192.168.4.5"}}, ""},
		{"upper-case host", WebhookAllowList{Hosts: []string{"Receiver.example"}}, "hosts[0]"},
		{"address as a host", WebhookAllowList{Hosts: []string{"10.0.0.1"}}, "hosts[0]"},
		{"host with a path", WebhookAllowList{Hosts: []string{"a.example/x"}}, "hosts[0]"},
		{"not a cidr", WebhookAllowList{CIDRs: []string{"ten"}}, "cidrs[0]"},
		{"link-local range", WebhookAllowList{CIDRs: []string{"169.254.0.0/16"}}, "cidrs[0]"},
		{"metadata address", WebhookAllowList{CIDRs: []string{"10.0.0.0/8", "169.254.169.254/32"}}, "cidrs[1]"},
		{"IPv6 link-local", WebhookAllowList{CIDRs: []string{"fe80::/64"}}, "cidrs[0]"},
		{"multicast", WebhookAllowList{CIDRs: []string{"239.0.0.0/8"}}, "cidrs[0]"},
		{"too many", WebhookAllowList{Hosts: make([]string, MaxAllowListEntries+1)}, "hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.list.Validate()
			if tt.field == "" && f != nil {
				t.Fatalf("refused: %v", f)
			}
			if _, ok := f[tt.field]; tt.field != "" && !ok {
				t.Fatalf("errors %v do not name %s", f, tt.field)
			}
		})
	}
}
