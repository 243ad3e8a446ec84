package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Client sends requests to the cluster's nodes over HTTP. Requests without
// a chosen node go round-robin, as a load balancer in front of the cluster
// would send them; a retry goes to the next node.
type Client struct {
	targets []string // base URLs
	key     string
	hc      *http.Client
	next    atomic.Uint64
}

// NewClient returns a client for the given base URLs, sending key (when not
// empty) as Authorization: Bearer.
func NewClient(targets []string, key string, maxConns int) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxConns * max(len(targets), 1),
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     60 * time.Second,
	}
	return &Client{targets: targets, key: key, hc: &http.Client{Transport: tr}}
}

// Targets is the nodes' base URLs.
func (c *Client) Targets() []string { return c.targets }

// SetKey changes the API key (a spawned cluster writes its admin key
// after it is ready).
func (c *Client) SetKey(k string) { c.key = k }

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Request is one HTTP request. Node < 0 picks the next node round-robin.
type Request struct {
	Method         string
	Path           string // with query
	Body           []byte
	IdempotencyKey string
	Header         map[string]string // further headers (BaRS's, bars.go)
	Node           int
	Timeout        time.Duration // one attempt; 0 -> 10s
}

// Response is a finished HTTP exchange.
type Response struct {
	Status     int
	Body       []byte
	Node       int
	RetryAfter time.Duration
}

// ProblemType is the RFC 9457 "type" of an error body, or "".
func (r *Response) ProblemType() string {
	if r == nil || r.Status < 400 {
		return ""
	}
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(r.Body, &p) != nil {
		return ""
	}
	return p.Type
}

// pick returns the node for a request.
func (c *Client) pick(node int) int {
	if node >= 0 {
		return node % len(c.targets)
	}
	return int(c.next.Add(1)-1) % len(c.targets)
}

// Do sends one request (one attempt, no retry). A transport failure is
// returned as the error, with the node that was tried in the response.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	node := c.pick(r.Node)
	to := r.Timeout
	if to == 0 {
		to = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.targets[node]+r.Path, body)
	if err != nil {
		return &Response{Node: node}, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	if r.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &Response{Node: node}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out := &Response{Status: resp.StatusCode, Body: b, Node: node}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, perr := strconv.Atoi(s); perr == nil && n >= 0 {
			out.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return out, err
}

// GetJSON reads path from one node into v (200 only).
func (c *Client) GetJSON(ctx context.Context, node int, path string, v any) (int, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Node: node, Timeout: 5 * time.Second})
	if err != nil {
		return 0, err
	}
	if resp.Status != http.StatusOK {
		return resp.Status, fmt.Errorf("GET %s on %s: %d %s", path, c.targets[node], resp.Status, trim(resp.Body, 200))
	}
	if v != nil {
		if err := json.Unmarshal(resp.Body, v); err != nil {
			return resp.Status, fmt.Errorf("GET %s on %s: %w", path, c.targets[node], err)
		}
	}
	return resp.Status, nil
}

func trim(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Outcome says what a client does after one attempt.
type Outcome int

const (
	OutcomeOK     Outcome = iota // 2xx
	OutcomeRetry                 // try again with the same Idempotency-Key
	OutcomeFailed                // a definite refusal: do not retry
	OutcomeFatal                 // the run cannot go on (no or wrong API key)
)

// Classify turns one attempt into what a client does next and an error
// kind for the report ("" for success): "503 /problems/not-accepted",
// "connection refused", "timeout", ...
func Classify(resp *Response, err error) (Outcome, string) {
	if err != nil {
		return OutcomeRetry, transportKind(err)
	}
	switch s := resp.Status; {
	case s >= 200 && s < 300:
		return OutcomeOK, ""
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return OutcomeFatal, statusKind(resp)
	case s == http.StatusServiceUnavailable || s == http.StatusBadGateway || s == http.StatusGatewayTimeout ||
		s == http.StatusTooManyRequests || s == http.StatusRequestTimeout:
		return OutcomeRetry, statusKind(resp)
	default:
		return OutcomeFailed, statusKind(resp)
	}
}

func statusKind(resp *Response) string {
	k := strconv.Itoa(resp.Status)
	if t := resp.ProblemType(); t != "" {
		k += " " + t
	}
	return k
}

func transportKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport error"
}
