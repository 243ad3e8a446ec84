package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/raft"
)

// serveHTTP is RunHTTP's front: a fiber app on a loopback port of this
// process whose one route applies the body on the leader.
func serveHTTP(lead *raft.Raft, concurrency int) (func(context.Context, []byte) error, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("baseline: http: %w", err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/apply", func(c *fiber.Ctx) error {
		idx, err := apply(lead, bytes.Clone(c.Body()))
		if err != nil {
			return c.Status(http.StatusServiceUnavailable).SendString(err.Error())
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(http.StatusCreated).SendString(`{"index":` + strconv.FormatUint(idx, 10) + `}`)
	})
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	// The load tool's client settings (loadtest.NewClient).
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     60 * time.Second,
	}
	hc := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/apply"
	send := func(ctx context.Context, cmd []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(cmd))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("baseline: http: %s: %s", resp.Status, body)
		}
		return nil
	}
	stop := func() error {
		hc.CloseIdleConnections()
		err := app.ShutdownWithTimeout(5 * time.Second)
		if serr := <-served; serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}
	return send, stop, nil
}
