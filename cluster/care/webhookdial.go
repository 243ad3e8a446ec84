package care

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/frontdoor-ucc/frontdoor/routing"
)

// errDestinationRefused marks a delivery the webhook rules refused (not
// retried: the rules will refuse it again).
var errDestinationRefused = errors.New("webhook destination refused")

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

// checkURL refuses, before any dial, a URL the webhook rules never
// dial from this node: not http(s), not absolute, http to anything but a
// loopback host, or http at all without DevLoopback.
func (n *Notifier) checkURL(raw string) error {
	u, host, err := routing.ParseWebhookURL(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", errDestinationRefused, err)
	}
	if u.Scheme == "http" {
		ip, perr := netip.ParseAddr(host)
		loop := host == "localhost" || (perr == nil && routing.IsLoopbackAddr(ip))
		if !loop || !n.DevLoopback {
			return fmt.Errorf("%w: http (not https) is only for loopback hosts with serve --webhook-dev-loopback", errDestinationRefused)
		}
	}
	return nil
}

// client is an HTTP client for one delivery: no proxy (the environment's
// would dial for us, unchecked), no redirects, no kept-alive connections
// (each delivery dials and checks afresh), and a dialler that checks every
// address against the rules just before connecting.
func (n *Notifier) client(allow *routing.WebhookAllowList) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         n.dialer(allow),
		TLSClientConfig:     n.TLSConfig,
		DisableKeepAlives:   true,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is the answer, and a failure
		},
	}
}

// dialer resolves the host itself, checks each address with
// routing.CheckWebhookIP and dials the checked address (never the name
// again, so a second DNS answer cannot differ); the net.Dialer's Control
// checks the address of the socket once more just before connect.
func (n *Notifier) dialer(allow *routing.WebhookAllowList) func(ctx context.Context, network, addr string) (net.Conn, error) {
	lookup := n.LookupIP
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errDestinationRefused, addr, err)
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else {
			ips, err = lookup(ctx, "ip", host)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", host, err)
			}
		}
		check := func(ip netip.Addr) error {
			if err := routing.CheckWebhookIP(host, ip, allow, n.DevLoopback); err != nil {
				return fmt.Errorf("%w: %w", errDestinationRefused, err)
			}
			return nil
		}
		d := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", errDestinationRefused, address, err)
			}
			return check(ap.Addr())
		}}
		var firstErr error
		for _, ip := range ips {
			if err := check(ip); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			if firstErr == nil || errors.Is(firstErr, errDestinationRefused) {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("resolve %s: no addresses", host)
		}
		return nil, firstErr
	}
}
