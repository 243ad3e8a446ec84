package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/protocols"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Seeding a new cluster: what the bootstrapping node proposes once, right
// after Bootstrap: the first admin key, the demo directory and the
// embedded clinical protocols. Each is refused by Apply (a conflict) when
// the cluster already has it, so a repeated seed changes nothing.

// bootstrapReferenceData proposes what a new cluster starts with, once, on
// the bootstrapping node (Start calls it right after Bootstrap).
func bootstrapReferenceData(ctx context.Context, st proposer, dataDir string, out io.Writer) error {
	if err := bootstrapAccess(ctx, st, dataDir, out); err != nil {
		return err
	}
	return bootstrapDirectory(ctx, st)
}

// AdminKeyFile holds the bootstrap admin key in the first node's data dir.
const AdminKeyFile = "admin.key"

// proposer is what bootstrapping needs from the store.
type proposer interface {
	Propose(ctx context.Context, p cluster.Proposal) (*cluster.Result, error)
}

// bootstrapActor proposes the reference data of a new cluster.
var bootstrapActor = cluster.Actor{ID: "system", Name: "frontdoor bootstrap", Role: "system"}

// bootstrapAccess makes the first admin key of a new cluster: the secret is
// written to <dataDir>/admin.key (0600) before its hash is proposed (so a
// crash cannot leave a key nobody holds), and only the hash enters the
// replicated state. out (standard output, which a service manager such as
// journald keeps) is told where the file is, never the key itself. A
// cluster that already has keys refuses the bootstrap key (Apply decides);
// the file is then removed.
func bootstrapAccess(ctx context.Context, st proposer, dataDir string, out io.Writer) error {
	secret, err := api.NewKeySecret()
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, AdminKeyFile)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	payload, err := json.Marshal(access.KeyCreate{Name: "bootstrap admin", Role: access.RoleAdmin,
		Hash: access.HashKey(secret), Bootstrap: true})
	if err != nil {
		return err
	}
	res, err := st.Propose(ctx, cluster.Proposal{Kind: access.KindKeyCreate, Actor: bootstrapActor, Payload: payload})
	if err != nil {
		return fmt.Errorf("propose the admin key: %w", err)
	}
	if res.Err != nil {
		_ = os.Remove(path)
		if res.Err.Code == cluster.CodeConflict {
			return nil
		}
		return fmt.Errorf("admin key: %w", res.Err)
	}
	fmt.Fprintf(out, "frontdoor: the admin API key is in %s (mode 0600, readable by this user only; never printed)\n", path)
	fmt.Fprintf(out, "frontdoor: create keys for staff with: frontdoor keys create --role reception --name \"<holder>\" --data-dir %s\n", dataDir)
	return nil
}

// ReadKeyFile reads a key from a file such as admin.key.
func ReadKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", errors.New(path + " is empty")
	}
	return k, nil
}

// bootstrapDirectory proposes the embedded demo directory (routing's
// fictional Castlegate) as the new cluster's reference data. Apply refuses
// it when a directory exists.
func bootstrapDirectory(ctx context.Context, st proposer) error {
	d, err := routing.DemoDirectory()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return err
	}
	res, err := st.Propose(ctx, cluster.Proposal{Kind: directory.KindDirectoryLoad, Actor: bootstrapActor, Payload: payload})
	if err != nil {
		return fmt.Errorf("propose the demo directory: %w", err)
	}
	if res.Err != nil && res.Err.Code != cluster.CodeConflict {
		return fmt.Errorf("demo directory: %w", res.Err)
	}
	return nil
}

// bootstrapProtocols proposes the embedded protocol files once, on the
// bootstrapping node (Start, after bootstrapReferenceData).
func bootstrapProtocols(ctx context.Context, st proposer) error {
	files := protocols.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	in := protocolset.ProtocolsLoad{}
	for _, n := range names {
		in.Files = append(in.Files, protocolset.ProtocolFile{Name: n, Content: string(files[n])})
	}
	payload, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	res, err := st.Propose(ctx, cluster.Proposal{Kind: protocolset.KindProtocolsLoad, Actor: bootstrapActor, Payload: payload})
	if err != nil {
		return fmt.Errorf("propose the protocols: %w", err)
	}
	if res.Err != nil && res.Err.Code != cluster.CodeConflict {
		return fmt.Errorf("protocols: %w", res.Err)
	}
	return nil
}
