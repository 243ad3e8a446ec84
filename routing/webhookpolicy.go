package routing

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
)

// Webhook destinations (issue 18): where a dispatch webhook may be sent.
//
//   - https only; http only to a loopback host, and a node delivers over
//     http (or to loopback at all) only with serve's development flag;
//   - the host is on the admin-managed allow-list held in the replicated
//     state (WebhookAllowList): a host name listed by name (or under a
//     listed "*." suffix), an address inside a listed CIDR;
//   - private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)
//     only when inside a listed CIDR, even behind a listed host name, so a
//     listed public name re-pointed at an internal address is not dialled;
//   - link-local (169.254/16, fe80::/10, the metadata addresses
//     169.254.169.254 and fd00:ec2::254 among them), unspecified, "this
//     network" (0/8), broadcast and multicast never, even when listed.
//
// CheckWebhookURL applies the rules a URL can be checked against without
// DNS (when it is set: PUT /v1/services, directory.load); CheckWebhookIP
// applies them to each address a host name resolves to, when dialling.

// WebhookSecretMinBytes is the least number of random bytes a whsec_
// secret must carry (Standard Webhooks suggests 24 to 64).
const WebhookSecretMinBytes = 24

// Limits of the allow-list and of a webhook URL.
const (
	MaxAllowListEntries = 256
	MaxWebhookURLLen    = 2048
	maxHostLen          = 253
)

// WebhookAllowList is the admin-managed list of webhook destinations.
// Hosts are lower-case DNS names, or "*.suffix" for any name under it;
// CIDRs are address prefixes ("10.20.0.0/16", "fd12::/48"; a bare address
// is its /32 or /128).
type WebhookAllowList struct {
	Hosts []string `json:"hosts"`
	CIDRs []string `json:"cidrs"`
}

// Errors of the destination checks (wrapped with the detail).
var (
	ErrWebhookURL           = errors.New("webhook url not allowed")
	ErrWebhookAddressNever  = errors.New("webhook address is never allowed")
	ErrWebhookNotListed     = errors.New("webhook destination not on the allow-list")
	ErrWebhookSecretInvalid = errors.New("webhook secret not valid")
)

var (
	// neverPrefixes are refused whatever the allow-list says.
	neverPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network", unspecified
		netip.MustParsePrefix("169.254.0.0/16"), // IPv4 link-local, metadata 169.254.169.254
		netip.MustParsePrefix("224.0.0.0/4"),    // IPv4 multicast
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("::/128"),            // unspecified
		netip.MustParsePrefix("fe80::/10"),         // IPv6 link-local
		netip.MustParsePrefix("ff00::/8"),          // IPv6 multicast
		netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6
	}
	// privatePrefixes need a listed CIDR, even behind a listed name.
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
		netip.MustParsePrefix("fc00::/7"),
	}
	loopbackPrefixes = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}
)

func inAny(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NeverWebhookAddr reports whether ip may never receive a webhook.
func NeverWebhookAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || inAny(ip, neverPrefixes)
}

// IsLoopbackAddr reports whether ip is a loopback address.
func IsLoopbackAddr(ip netip.Addr) bool { return inAny(ip.Unmap(), loopbackPrefixes) }

// IsPrivateAddr reports whether ip is in a private range.
func IsPrivateAddr(ip netip.Addr) bool { return inAny(ip.Unmap(), privatePrefixes) }

// isLoopbackHost reports whether a URL host (no port) is loopback by its
// text alone: "localhost" or a loopback literal.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && IsLoopbackAddr(ip)
}

// Validate checks the list's shape: at most MaxAllowListEntries of each,
// host names well formed, CIDRs parseable and not entirely inside a range
// that is never allowed. Field errors keyed "hosts[i]" / "cidrs[i]".
func (a *WebhookAllowList) Validate() map[string]string {
	f := map[string]string{}
	if len(a.Hosts) > MaxAllowListEntries {
		f["hosts"] = fmt.Sprintf("at most %d entries", MaxAllowListEntries)
	}
	if len(a.CIDRs) > MaxAllowListEntries {
		f["cidrs"] = fmt.Sprintf("at most %d entries", MaxAllowListEntries)
	}
	for i, h := range a.Hosts {
		if msg := checkHostPattern(h); msg != "" {
			f[fmt.Sprintf("hosts[%d]", i)] = msg
		}
	}
	for i, c := range a.CIDRs {
		p, err := parseCIDR(c)
		switch {
		case err != nil:
			f[fmt.Sprintf("cidrs[%d]", i)] = "not an address prefix such as 10.20.0.0/16"
		case neverCovers(p):
			f[fmt.Sprintf("cidrs[%d]", i)] = "link-local, metadata, unspecified and multicast addresses are never allowed"
		}
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// neverCovers reports whether the whole of p lies inside one never range.
func neverCovers(p netip.Prefix) bool {
	for _, n := range neverPrefixes {
		if n.Bits() <= p.Bits() && n.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

func checkHostPattern(h string) string {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(h) > maxHostLen {
		return "must be a host name of at most 253 characters"
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "an address belongs in cidrs"
	}
	if name != strings.ToLower(name) {
		return "must be lower case"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "not a host name"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "not a host name (letters, digits, hyphens and dots)"
			}
		}
	}
	return ""
}

// Normalised returns the list sorted and without duplicates (the form the
// state keeps).
func (a WebhookAllowList) Normalised() WebhookAllowList {
	out := WebhookAllowList{Hosts: uniqSorted(a.Hosts), CIDRs: []string{}}
	var cs []string
	for _, c := range a.CIDRs {
		if p, err := parseCIDR(c); err == nil {
			cs = append(cs, p.String())
		}
	}
	out.CIDRs = uniqSorted(cs)
	return out
}

func uniqSorted(in []string) []string {
	s := append([]string{}, in...)
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// hostListed reports whether a host name is on the list (exactly, or
// under a "*." suffix).
func (a *WebhookAllowList) hostListed(host string) bool {
	if a == nil {
		return false
	}
	for _, h := range a.Hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// addrListed reports whether ip is inside a listed CIDR.
func (a *WebhookAllowList) addrListed(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	ip = ip.Unmap()
	for _, c := range a.CIDRs {
		if p, err := parseCIDR(c); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseWebhookURL parses u as a webhook URL: absolute, https or http, a
// host, no user information, at most MaxWebhookURLLen bytes. It returns
// the URL and its host in lower case (no brackets, no port).
func ParseWebhookURL(u string) (*url.URL, string, error) {
	if len(u) > MaxWebhookURLLen {
		return nil, "", fmt.Errorf("%w: longer than %d bytes", ErrWebhookURL, MaxWebhookURLLen)
	}
	p, err := url.Parse(u)
	if err != nil {
		return nil, "", fmt.Errorf("%w: not a url", ErrWebhookURL)
	}
	switch {
	case p.Scheme != "https" && p.Scheme != "http":
		return nil, "", fmt.Errorf("%w: scheme must be https", ErrWebhookURL)
	case p.Opaque != "" || p.Host == "":
		return nil, "", fmt.Errorf("%w: not an absolute url with a host", ErrWebhookURL)
	case p.User != nil:
		return nil, "", fmt.Errorf("%w: user information not allowed", ErrWebhookURL)
	}
	host := strings.ToLower(p.Hostname())
	if host == "" {
		return nil, "", fmt.Errorf("%w: no host", ErrWebhookURL)
	}
	if port := p.Port(); port != "" {
		if _, err := parsePort(port); err != nil {
			return nil, "", fmt.Errorf("%w: bad port %q", ErrWebhookURL, port)
		}
	}
	return p, host, nil
}

func parsePort(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 65535 {
			return 0, errors.New("bad port")
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, errors.New("bad port")
	}
	return n, nil
}

// CheckWebhookURL checks a webhook URL when it is set (deterministic: no
// DNS). https, or http to a loopback host; a literal address never in a
// forbidden range and, unless loopback, inside a listed CIDR; a host name
// listed, or "localhost". Loopback destinations pass here because a node
// dials them only with serve's development flag (CheckWebhookIP).
func CheckWebhookURL(u string, allow *WebhookAllowList) error {
	p, host, err := ParseWebhookURL(u)
	if err != nil {
		return err
	}
	loop := isLoopbackHost(host)
	if p.Scheme == "http" && !loop {
		return fmt.Errorf("%w: scheme must be https (http only to a loopback host, for development)", ErrWebhookURL)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if NeverWebhookAddr(ip) {
			return fmt.Errorf("%w: %s", ErrWebhookAddressNever, host)
		}
		if loop || allow.addrListed(ip) {
			return nil
		}
		return fmt.Errorf("%w: %s is in no listed cidr", ErrWebhookNotListed, host)
	}
	if strings.Contains(host, "%") || checkHostPattern(host) != "" || strings.HasPrefix(host, "*.") {
		return fmt.Errorf("%w: bad host %q", ErrWebhookURL, host)
	}
	if loop || allow.hostListed(host) {
		return nil
	}
	return fmt.Errorf("%w: host %s is not listed", ErrWebhookNotListed, host)
}

// CheckWebhookIP decides whether a node may connect to ip for a webhook
// whose URL names host: never ranges never; loopback only with devLoopback
// or a listed CIDR; private addresses only inside a listed CIDR; any other
// address when the host name or the address is listed.
func CheckWebhookIP(host string, ip netip.Addr, allow *WebhookAllowList, devLoopback bool) error {
	ip = ip.Unmap()
	switch {
	case NeverWebhookAddr(ip):
		return fmt.Errorf("%w: %s (for %s)", ErrWebhookAddressNever, ip, host)
	case allow.addrListed(ip):
		return nil
	case IsLoopbackAddr(ip):
		if devLoopback {
			return nil
		}
		return fmt.Errorf("%w: loopback %s (for %s) needs serve --webhook-dev-loopback or a listed cidr", ErrWebhookNotListed, ip, host)
	case IsPrivateAddr(ip):
		return fmt.Errorf("%w: private address %s (for %s) is in no listed cidr", ErrWebhookNotListed, ip, host)
	case allow.hostListed(strings.ToLower(host)):
		return nil
	}
	return fmt.Errorf("%w: %s (%s)", ErrWebhookNotListed, host, ip)
}

// ValidateSecret checks a webhook secret when it is set: "whsec_" and the
// standard base64 of at least WebhookSecretMinBytes bytes.
func ValidateSecret(secret string) error {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return fmt.Errorf("%w: must be whsec_ and the base64 of at least %d random bytes", ErrWebhookSecretInvalid, WebhookSecretMinBytes)
	}
	k, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("%w: not base64 after whsec_", ErrWebhookSecretInvalid)
	}
	if len(k) < WebhookSecretMinBytes {
		return fmt.Errorf("%w: %d bytes, at least %d", ErrWebhookSecretInvalid, len(k), WebhookSecretMinBytes)
	}
	return nil
}
