package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
)

// backupOpts are the flags of `frontdoor backup`.
type backupOpts struct {
	kc             keysClient
	to             string
	recipients     []string
	passphraseFile string
	caFile         string
	workFactor     int // scrypt work factor (log2); 0 -> age's default; tests lower it
}

func newBackupCmd() *cobra.Command {
	o := &backupOpts{}
	cmd := &cobra.Command{
		Use:   "backup --to FILE (--recipient AGE_PUBLIC_KEY | --passphrase-file FILE)",
		Short: "Write a consistent, encrypted backup of the cluster's state to a file",
		Long: `Write a consistent backup of the whole cluster state to FILE, online.

The leader copies its state at one applied index after a linearizable read
barrier, so the backup holds every write acknowledged before the command
started. It is encrypted with age (https://age-encryption.org) to a key of the
backup's own, never the cluster's, so it outlives the cluster:

  --recipient age1...     an age public key (age-keygen, or frontdoor backup
                          keygen); keep its private key away from the cluster.
                          The node encrypts to it and never sees a secret.
  --passphrase-file FILE  a passphrase (first line, 12 characters or more).
                          The passphrase never leaves this machine: the node
                          encrypts to a one-time key this command makes, and
                          this command re-encrypts to the passphrase (scrypt).

The file is written atomically (a temporary file, then rename) with mode 0600,
after its SHA-256 checksum has been checked. Restore it with frontdoor restore.
The admin key is taken as for frontdoor keys: --key (or FRONTDOOR_KEY), else
the admin.key file in --data-dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.run(cmd); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			return nil
		},
	}
	o.kc.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.to, "to", "", "the backup file to write")
	f.StringSliceVar(&o.recipients, "recipient", nil, "age public key (age1...) to encrypt to (repeatable)")
	f.StringVar(&o.passphraseFile, "passphrase-file", "", "file whose first line is the passphrase to encrypt with")
	f.StringVar(&o.caFile, "ca-file", "", "CA certificate (PEM) to trust for an https:// --addr (default: tls/ca.crt in --data-dir)")
	f.IntVar(&o.workFactor, "scrypt-work-factor", 0, "log2 scrypt work factor for --passphrase-file (default: age's, 18)")
	_ = f.MarkHidden("scrypt-work-factor")
	_ = cmd.MarkFlagRequired("to")
	cmd.MarkFlagsMutuallyExclusive("recipient", "passphrase-file")
	cmd.MarkFlagsOneRequired("recipient", "passphrase-file")
	cmd.AddCommand(newBackupKeygenCmd())
	return cmd
}

func (o *backupOpts) run(cmd *cobra.Command) error {
	var final []age.Recipient // what the file on disk is encrypted to
	var ephemeral *age.X25519Identity
	var ask []string // what the node is asked to encrypt to
	if o.passphraseFile != "" {
		pass, err := backup.ReadPassphrase(o.passphraseFile)
		if err != nil {
			return err
		}
		r, err := backup.PassphraseRecipient(pass, o.workFactor)
		if err != nil {
			return err
		}
		final = []age.Recipient{r}
		if ephemeral, err = age.GenerateX25519Identity(); err != nil {
			return err
		}
		ask = []string{ephemeral.Recipient().String()}
	} else {
		for _, s := range o.recipients {
			if _, err := backup.ParseRecipient(s); err != nil {
				return err
			}
		}
		ask = o.recipients
	}
	client, err := o.httpClient()
	if err != nil {
		return err
	}
	q := url.Values{"recipient": ask}
	// Straight to the leader when --addr names it: a follower would relay
	// the whole file through its memory, within its forwarding timeout.
	kc := o.kc
	if addr, ok := o.leaderAddr(cmd.Context(), client); ok {
		kc.addr = addr
	}
	resp, err := kc.send(cmd.Context(), client, http.MethodGet, "/v1/cluster/backup?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	// Download beside the target, check, then rename (or re-encrypt).
	tmp, err := os.CreateTemp(filepath.Dir(o.to), "."+filepath.Base(o.to)+".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Any logic version: this binary only checks, it does not restore.
	got, err := backup.Open(tmp.Name(), math.MaxInt)
	if err != nil {
		return fmt.Errorf("the node's answer is not a whole backup: %w", err)
	}
	defer got.Close()
	h := got.Header
	if ephemeral == nil {
		err = backup.WriteFileAtomic(o.to, func(w io.Writer) error {
			src, err := os.Open(tmp.Name())
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(w, src)
			return err
		})
	} else {
		err = backup.WriteFileAtomic(o.to, func(w io.Writer) error {
			plain, err := got.Decrypt(ephemeral)
			if err != nil {
				return err
			}
			return backup.Write(w, h, final, func(w io.Writer) error {
				_, err := io.Copy(w, plain)
				return err
			})
		})
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", o.to, err)
	}
	written, err := backup.Open(o.to, math.MaxInt)
	if err != nil {
		return fmt.Errorf("check %s: %w", o.to, err)
	}
	defer written.Close()
	st, _ := os.Stat(o.to)
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "backup written to %s (%d bytes, mode %v)\n", o.to, st.Size(), st.Mode().Perm())
	printHeader(out, &written.Header, written.SHA256)
	return nil
}

// leaderAddr is the leader's HTTP address as --addr's member knows it
// (the open GET /v1/cluster), in --addr's scheme; ok is false when it
// cannot tell.
func (o *backupOpts) leaderAddr(ctx context.Context, client *http.Client) (string, bool) {
	base := o.kc.addr
	scheme := "http://"
	if s, rest, ok := strings.Cut(base, "://"); ok {
		scheme, base = s+"://", rest
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+strings.TrimSuffix(base, "/")+"/v1/cluster", nil)
	if err != nil {
		return "", false
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var cv api.ClusterView
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cv) != nil {
		return "", false
	}
	for _, n := range cv.Nodes {
		if n.ID == cv.Leader && n.HTTPAddr != "" {
			return scheme + n.HTTPAddr, true
		}
	}
	return "", false
}

// printHeader prints what a backup file's header says.
func printHeader(w io.Writer, h *backup.Header, sum string) {
	fmt.Fprintf(w, "  applied index: %d\n  logic version: %d\n  created:       %s\n  node:          %s (frontdoor %s)\n  sha256:        %s\n",
		h.AppliedIndex, h.LogicVersion, h.Created.Format(time.RFC3339), h.NodeID, h.NodeVersion, sum)
}

// httpClient has no overall timeout (a backup takes as long as the state
// is big; the command's context bounds it) and trusts --ca-file, or the
// data dir's cluster CA, for https.
func (o *backupOpts) httpClient() (*http.Client, error) {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: time.Minute}
	ca := o.caFile
	if ca == "" {
		if p := filepath.Join(o.kc.dataDir, "tls", "ca.crt"); fileExists(p) {
			ca = p
		}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("--ca-file " + ca + ": no certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newBackupKeygenCmd writes a new age identity for backups.
func newBackupKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make an age key pair for backups: the private key to FILE (0600), the public key printed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("backup keygen: %w", err)
			}
			fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
			if err := f.Close(); err != nil {
				return fmt.Errorf("backup keygen: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key written to %s: keep it off the cluster (it opens every backup made to it)\npublic key (for --recipient and --backup-recipient): %s\n", out, id.Recipient())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the private key to (must not exist)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
