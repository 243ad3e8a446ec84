package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
)

// keysClient is what every `frontdoor keys` subcommand needs: the address
// of any member and an admin key (--key, FRONTDOOR_KEY, or the admin.key
// file in --data-dir).
type keysClient struct {
	addr    string
	key     string
	dataDir string
	client  *http.Client
}

func (kc *keysClient) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&kc.addr, "addr", "127.0.0.1:8080", "HTTP address of any cluster member")
	f.StringVar(&kc.key, "key", "", "an admin API key (default: the admin.key file in --data-dir)")
	f.StringVar(&kc.dataDir, "data-dir", "./frontdoor-data", "data dir whose admin.key is used when --key is not given")
}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys (through the admin API)",
		Long: `Create, list and revoke API keys through any member's admin API.

Each key carries one role (reception, clinician, nhs111, responder, admin) and
is named after the person or system that holds it; audit events name the
holder. The cluster stores only a hash: a new key's secret is printed once.

A reception, clinician or responder key can be scoped to one service with
--service <service id>: it belongs to that service's staff and may set that
service's status (and no other's). A responder key's service must be a rapid
response team: it then reads, follows, accepts, declines and updates only that
team's dispatches. A responder key without --service acts for every team's
dispatches; a key without --service sets no service's status (admin keys set
any).

The admin key is taken from --key (or FRONTDOOR_KEY), else from the admin.key
file the first node wrote in its --data-dir (or FRONTDOOR_DATA_DIR).`,
	}
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

func newKeysCreateCmd() *cobra.Command {
	kc := &keysClient{}
	var role, name, service string
	cmd := &cobra.Command{
		Use:   "create --role ROLE --name HOLDER [--service SERVICE_ID]",
		Short: "Create a key and print its secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, _ := json.Marshal(api.KeyCreateBody{Name: name, Role: role, ServiceID: service})
			var k api.KeyView
			if err := kc.call(cmd.Context(), http.MethodPost, "/v1/keys", body, &k); err != nil {
				return fmt.Errorf("keys create: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "id:      %s\nname:    %s\nrole:    %s\n", k.ID, k.Name, k.Role)
			if k.Role == access.RoleResponder || k.ServiceID != "" {
				fmt.Fprintf(out, "service: %s\n", keyScope(&k))
			}
			fmt.Fprintf(out, "key:     %s\n", k.Key)
			fmt.Fprintln(out, "The key is shown only now; give it to its holder. The cluster keeps only its hash.")
			return nil
		},
	}
	kc.flags(cmd)
	cmd.Flags().StringVar(&role, "role", "", "role: "+strings.Join(access.Roles, ", "))
	cmd.Flags().StringVar(&name, "name", "", "the person or system holding the key")
	cmd.Flags().StringVar(&service, "service", "", "the service whose staff the key belongs to (reception, clinician, responder; a responder's is a rapid_response team)")
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newKeysListCmd() *cobra.Command {
	kc := &keysClient{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys: id, holder, role, service scope, created, revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l api.KeyList
			if err := kc.call(cmd.Context(), http.MethodGet, "/v1/keys", nil, &l); err != nil {
				return fmt.Errorf("keys list: %w", err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tSERVICE\tCREATED\tSTATUS")
			for _, k := range l.Keys {
				status := "active"
				if k.Revoked && k.RevokedAt != nil {
					status = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, keyScope(&k), k.CreatedAt.UTC().Format(time.RFC3339), status)
			}
			return w.Flush()
		},
	}
	kc.flags(cmd)
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	kc := &keysClient{}
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (its holder gets 401 from then on)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var k api.KeyView
			if err := kc.call(cmd.Context(), http.MethodDelete, "/v1/keys/"+args[0], nil, &k); err != nil {
				return fmt.Errorf("keys revoke: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s, %s)\n", k.ID, k.Name, k.Role)
			return nil
		},
	}
	kc.flags(cmd)
	return cmd
}

// keyScope is the SERVICE column: a responder key's team, "any team" for
// an unscoped responder key (it may act on every team's dispatches), "-"
// for other roles.
func keyScope(k *api.KeyView) string {
	switch {
	case k.ServiceID != "":
		return k.ServiceID
	case k.Role == access.RoleResponder:
		return "any team"
	}
	return "-"
}

// adminKey is --key, else the admin.key file in --data-dir.
func (kc *keysClient) adminKey() (string, error) {
	if kc.key != "" {
		return kc.key, nil
	}
	k, err := node.ReadKeyFile(filepath.Join(kc.dataDir, node.AdminKeyFile))
	if err != nil {
		return "", fmt.Errorf("no admin key: give --key (or FRONTDOOR_KEY), or --data-dir of the node that wrote admin.key: %w", err)
	}
	return k, nil
}

// call sends one request with the admin key and decodes a 2xx JSON answer
// into out; a problem answer becomes an error with its detail.
func (kc *keysClient) call(ctx context.Context, method, path string, body []byte, out any) error {
	client := kc.client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := kc.send(ctx, client, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// send sends one request with the admin key through client. A 2xx answer
// is returned with its body open; any other becomes an error with the
// problem's detail.
func (kc *keysClient) send(ctx context.Context, client *http.Client, method, path string, body []byte) (*http.Response, error) {
	key, err := kc.adminKey()
	if err != nil {
		return nil, err
	}
	addr := kc.addr
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(addr, "/")+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var p api.Problem
	if json.Unmarshal(b, &p) == nil && p.Title != "" {
		msg := p.Title
		if p.Detail != "" {
			msg += ": " + p.Detail
		}
		for f, why := range p.Errors {
			msg += fmt.Sprintf(" (%s: %s)", f, why)
		}
		return nil, errors.New(resp.Status + ": " + msg)
	}
	return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
}
