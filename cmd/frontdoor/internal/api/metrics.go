package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// httpMetrics records request latency by route template and status. Route
// templates ("/v1/attendances/:id"), never paths, keep label values bounded.
type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		duration: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
			Name:    "frontdoor_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "code"}),
	}
}

// handler is the middleware. It runs outside the recover middleware and
// records the status the ErrorHandler will write.
func (m *httpMetrics) handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		own := c.Route()
		err := c.Next()
		code := c.Response().StatusCode()
		if err != nil {
			code = problemFor(err).Status
		}
		route := "unmatched"
		if r := c.Route(); r != own {
			route = r.Path
		}
		// Label values outlive the request: copy them out of fiber's
		// reused buffers (c.Method() is one).
		m.duration.WithLabelValues(strings.Clone(c.Method()), strings.Clone(route), strconv.Itoa(code)).Observe(time.Since(start).Seconds())
		return err
	}
}
