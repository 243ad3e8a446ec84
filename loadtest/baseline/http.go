package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/frontdoor-ucc/frontdoor/loadtest"

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

	// The load tool's own client, so the hop costs what it costs frontdoor.
	client := loadtest.NewClient([]string{"http://" + ln.Addr().String()}, "", concurrency)
	send := func(ctx context.Context, cmd []byte) error {
		resp, err := client.Do(ctx, loadtest.Request{Method: http.MethodPost, Path: "/apply", Body: cmd, Node: 0})
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated {
			return fmt.Errorf("baseline: http: status %d: %s", resp.Status, resp.Body)
		}
		return nil
	}
	stop := func() error {
		client.Close()
		err := app.ShutdownWithTimeout(5 * time.Second)
		if serr := <-served; serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}
	return send, stop, nil
}
