package care

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Standard Webhooks header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Sign returns the Standard Webhooks signature header value
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := routing.DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + signature(key, id, ts, body), nil
}

func signature(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verification errors.
var (
	ErrMissingHeaders   = errors.New("webhook headers missing")
	ErrTimestampSkew    = errors.New("webhook timestamp outside tolerance")
	ErrInvalidSignature = errors.New("webhook signature does not match")
)

// Verify checks a received webhook: the headers are present, the
// timestamp is within tolerance of now, and one of the space-separated
// "v1,<sig>" signatures matches (compared in constant time).
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, tsS, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsS == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsS, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q: %w", tsS, ErrMissingHeaders)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook timestamp %d is %s from now: %w", ts, d, ErrTimestampSkew)
	}
	key, err := routing.DecodeSecret(secret)
	if err != nil {
		return err
	}
	want := []byte(signature(key, id, ts, body))
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if ok && v == "v1" && hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrInvalidSignature
}

// Outcomes of one Notify call (DeliveryResult.Status).
const (
	NotifyDelivered = "delivered"
	// NotifyPermanent is not retried: a 4xx other than 408/429, a 3xx
	// (redirects are never followed), a destination the rules refuse.
	NotifyPermanent = "permanent_failure"
	NotifyExhausted = "retries_exhausted"
	NotifyCancelled = "cancelled"
)

// DeliveryResult reports one Notify call.
type DeliveryResult struct {
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"last_http_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// Notifier posts signed JSON webhooks with retries, through a client that
// dials only destinations the webhook rules allow (webhookdial.go) and
// follows no redirect. The zero value works, without waits between retries
// or attempt timeouts.
type Notifier struct {
	// DevLoopback lets webhooks go over http to loopback hosts, and to
	// loopback addresses at all (serve --webhook-dev-loopback): for
	// development and tests only.
	DevLoopback bool
	// LookupIP resolves a host name when dialling (default
	// net.DefaultResolver.LookupNetIP); tests inject a resolver.
	LookupIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// TLSConfig, when set, is the client's TLS configuration (tests: the
	// test server's root).
	TLSConfig *tls.Config
	// Logger records refused destinations and redirects (default
	// slog.Default()).
	Logger *slog.Logger

	Timeout     time.Duration // per attempt
	MaxAttempts int
	BaseBackoff time.Duration // doubled each retry, capped at MaxBackoff
	MaxBackoff  time.Duration
	// Jitter returns a number in [0,1); the wait is backoff/2 plus
	// Jitter()*backoff/2 ("equal jitter").
	Jitter func() float64
	// Sleep waits d or until ctx ends; injectable for tests.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now gives the webhook-timestamp.
	Now func() time.Time
}

// NewNotifier returns a notifier with a 10s attempt timeout, 6 attempts
// and backoff from 500ms up to 30s.
func NewNotifier() *Notifier {
	return &Notifier{
		Timeout:     10 * time.Second,
		MaxAttempts: 6,
		BaseBackoff: 500 * time.Millisecond,
		MaxBackoff:  30 * time.Second,
		Jitter:      rand.Float64,
		Sleep:       sleepCtx,
		Now:         time.Now,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff is the wait before retry number attempt (1 = after the first
// failure).
func (n *Notifier) Backoff(attempt int) time.Duration {
	b := n.BaseBackoff
	for i := 1; i < attempt && b < n.MaxBackoff; i++ {
		b *= 2
	}
	if b > n.MaxBackoff {
		b = n.MaxBackoff
	}
	j := 0.5
	if n.Jitter != nil {
		j = n.Jitter()
	}
	return b/2 + time.Duration(j*float64(b/2))
}

// Notify POSTs body (JSON) to hook.URL with Standard Webhooks headers,
// using msgID as webhook-id on every attempt so receivers can
// de-duplicate. Only a destination that allow (the state's allow-list)
// and the webhook rules permit is dialled, checked on each address the
// host resolves to, at dial time (so a name re-pointed at a forbidden
// address is refused). 2xx is delivered; a 3xx (redirects are never
// followed), a 4xx other than 408 and 429 and a refused destination are
// permanent failures; anything else (5xx, 408, 429, network errors,
// attempt timeouts) is retried up to MaxAttempts. The returned error is
// nil only when delivered.
func (n *Notifier) Notify(ctx context.Context, hook routing.Webhook, allow *routing.WebhookAllowList, msgID string, body []byte) (DeliveryResult, error) {
	var res DeliveryResult
	key := hook.Secret
	if _, err := routing.DecodeSecret(key); err != nil {
		res.Status = NotifyPermanent
		return res, fmt.Errorf("notify %s: %w", hook.URL, err)
	}
	if err := n.checkURL(hook.URL); err != nil {
		res.Status, res.LastError = NotifyPermanent, err.Error()
		n.logger().Warn("webhook destination refused", "url", hook.URL, "webhook_id", msgID, "err", err)
		return res, fmt.Errorf("notify %s: %w", hook.URL, err)
	}
	client := n.client(allow)
	defer client.CloseIdleConnections()
	max := n.MaxAttempts
	if max < 1 {
		max = 1
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			res.Status = NotifyCancelled
			return res, fmt.Errorf("notify %s: %w", hook.URL, err)
		}
		res.Attempts = attempt
		code, loc, err := n.attempt(ctx, client, hook, msgID, body)
		res.LastStatus = code
		res.LastError = ""
		if err != nil {
			res.LastError = err.Error()
		}
		switch {
		case err == nil && code >= 200 && code < 300:
			res.Status = NotifyDelivered
			return res, nil
		case err == nil && code >= 300 && code < 400:
			res.Status = NotifyPermanent
			res.LastError = fmt.Sprintf("redirect (HTTP %d to %q) not followed", code, loc)
			n.logger().Warn("webhook redirect not followed", "url", hook.URL, "webhook_id", msgID, "status", code, "location", loc)
			return res, fmt.Errorf("notify %s: permanent failure: %s", hook.URL, res.LastError)
		case err == nil && code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
			res.Status = NotifyPermanent
			return res, fmt.Errorf("notify %s: permanent failure: HTTP %d", hook.URL, code)
		case errors.Is(err, errDestinationRefused):
			res.Status = NotifyPermanent
			n.logger().Warn("webhook destination refused", "url", hook.URL, "webhook_id", msgID, "err", err)
			return res, fmt.Errorf("notify %s: %w", hook.URL, err)
		}
		if ctx.Err() != nil {
			res.Status = NotifyCancelled
			return res, fmt.Errorf("notify %s: %w", hook.URL, ctx.Err())
		}
		if attempt >= max {
			res.Status = NotifyExhausted
			if err != nil {
				return res, fmt.Errorf("notify %s: %d attempts: %w", hook.URL, attempt, err)
			}
			return res, fmt.Errorf("notify %s: %d attempts, last HTTP %d", hook.URL, attempt, code)
		}
		sleep := n.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, n.Backoff(attempt)); err != nil {
			res.Status = NotifyCancelled
			return res, fmt.Errorf("notify %s: %w", hook.URL, err)
		}
	}
}

func (n *Notifier) attempt(ctx context.Context, client *http.Client, hook routing.Webhook, msgID string, body []byte) (int, string, error) {
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	ts := now().Unix()
	sig, err := Sign(hook.Secret, msgID, ts, body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookID, msgID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderWebhookSignature, sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header.Get("Location"), nil
}
