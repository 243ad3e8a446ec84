package directory

import (
	"encoding/json"
	"fmt"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// KindWebhookAllowList replaces the webhook allow-list (admin): the host
// names and address ranges dispatch webhooks may be sent to (routing
// CheckWebhookURL and CheckWebhookIP say how it is used).
const KindWebhookAllowList cluster.Kind = "webhook.allowlist"

// AllowListAuditEntity is the audit entity of allow-list changes
// (GET /v1/audit?entity=webhooks/allow-list).
const AllowListAuditEntity = "webhooks/allow-list"

// keyWebhookAllowList holds the routing.WebhookAllowList (absent: empty).
const keyWebhookAllowList = "sx/webhook-allowlist"

// WebhookRulesSince is the logic version from which service.put and
// directory.load check webhook URLs against the destination rules and the
// allow-list, and secrets for their whsec_ form.
const WebhookRulesSince = 8

// WebhookAllowList reads the allow-list (an empty one when none was set).
func (v State) WebhookAllowList() (*routing.WebhookAllowList, error) {
	a := routing.WebhookAllowList{Hosts: []string{}, CIDRs: []string{}}
	if _, err := v.r.Get(keyWebhookAllowList, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func applyWebhookAllowList(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[routing.WebhookAllowList](raw)
	if err != nil {
		return nil, err
	}
	old, err := In(tx).WebhookAllowList()
	if err != nil {
		return nil, err
	}
	n := in.Normalised()
	b, err := tx.PutJSON(keyWebhookAllowList, &n)
	if err != nil {
		return nil, err
	}
	tx.Audit("webhook.allowlist", AllowListAuditEntity, map[string]any{
		"hosts": n.Hosts, "cidrs": n.CIDRs, "previous_hosts": old.Hosts, "previous_cidrs": old.CIDRs})
	return b, nil
}

// CheckWebhook checks a service's webhook when it is set: the URL against
// the destination rules and allow, the secret for its whsec_ form. Field
// errors keyed webhook.url / webhook.secret; nil when acceptable or when
// svc has no webhook. Pure: the HTTP layer runs it on a local read, Apply
// on the current state.
func CheckWebhook(svc *routing.Service, allow *routing.WebhookAllowList) map[string]string {
	if svc.Webhook == nil {
		return nil
	}
	f := map[string]string{}
	if err := routing.CheckWebhookURL(svc.Webhook.URL, allow); err != nil {
		f["webhook.url"] = err.Error()
	}
	if err := routing.ValidateSecret(svc.Webhook.Secret); err != nil {
		f["webhook.secret"] = err.Error()
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// checkDirectoryWebhooks is CheckWebhook for every service of a directory
// being loaded, against the allow-list it carries.
func checkDirectoryWebhooks(d *routing.Directory) map[string]string {
	f := map[string]string{}
	allow := d.WebhookAllowList
	if allow != nil {
		for k, v := range allow.Validate() {
			f["webhook_allowlist."+k] = v
		}
	}
	for i := range d.Services {
		for k, v := range CheckWebhook(&d.Services[i], allow) {
			f[fmt.Sprintf("services[%d].%s", i, k)] = v
		}
	}
	if len(f) == 0 {
		return nil
	}
	return f
}
