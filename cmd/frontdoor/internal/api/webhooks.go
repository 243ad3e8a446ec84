package api

import (
	"bytes"
	"net/netip"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// webhookRoutes are the route table's rows of the webhook allow-list: the
// destinations dispatch webhooks may be sent to (routes.go).
func webhookRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/webhooks/allow-list", Roles: rolesAdmin, Summary: "The webhook allow-list: host names and address ranges webhooks may go to", Query: []string{consistencyQuery}, Handler: (*server).getWebhookAllowList},
		{Method: "PUT", Path: "/v1/webhooks/allow-list", Roles: rolesAdmin, Summary: "Replace the webhook allow-list (audited)", Body: routing.WebhookAllowList{}, Kinds: []cluster.Kind{directory.KindWebhookAllowList}, Handler: (*server).putWebhookAllowList},
	}
}

func (s *server) getWebhookAllowList(c *fiber.Ctx) error {
	var out *routing.WebhookAllowList
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out, err = directory.In(v).WebhookAllowList()
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *server) putWebhookAllowList(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req routing.WebhookAllowList
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if f := req.Validate(); f != nil {
		return invalid("the webhook allow-list is not valid", f)
	}
	return s.proposeAndRender(c, directory.KindWebhookAllowList, "PUT /v1/webhooks/allow-list", body, nil)
}

// checkServiceWebhook is PUT /v1/services' early check of a webhook
// against the allow-list of a local read (Apply checks again against the
// current state), plus this node's development flag: http and loopback
// destinations only with serve --webhook-dev-loopback (unless the
// loopback address is in a listed range).
func (s *server) checkServiceWebhook(svc *routing.Service, old *routing.Service, allow *routing.WebhookAllowList) map[string]string {
	if svc.Webhook == nil {
		return nil
	}
	check := *svc
	if old != nil && old.Webhook != nil && svc.Webhook.Secret == "" && svc.Webhook.URL == old.Webhook.URL {
		w := *svc.Webhook
		w.Secret = old.Webhook.Secret // kept by Apply: the API never shows it
		check.Webhook = &w
	}
	if f := directory.CheckWebhook(&check, allow); f != nil {
		return f
	}
	if s.devHooks {
		return nil
	}
	u, host, err := routing.ParseWebhookURL(svc.Webhook.URL)
	if err != nil {
		return map[string]string{"webhook.url": err.Error()}
	}
	ip, perr := netip.ParseAddr(host)
	loop := host == "localhost" || (perr == nil && routing.IsLoopbackAddr(ip))
	switch {
	case u.Scheme == "http":
		return map[string]string{"webhook.url": "scheme must be https (http to a loopback host only on a node started with --webhook-dev-loopback)"}
	case loop && (perr != nil || routing.CheckWebhookIP(host, ip, allow, false) != nil):
		return map[string]string{"webhook.url": "a loopback destination needs a listed cidr, or a node started with --webhook-dev-loopback"}
	}
	return nil
}
