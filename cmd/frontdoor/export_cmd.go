package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// newExportCmd is `frontdoor export`: data extracts through the API.
func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write data extracts of the cluster's records (through the API)",
	}
	cmd.AddCommand(newExportECDSCmd())
	return cmd
}

type exportECDSOptions struct {
	kc       keysClient
	from, to string
	format   string
	out      string
}

func newExportECDSCmd() *cobra.Command {
	var o exportECDSOptions
	cmd := &cobra.Command{
		Use:   "ecds --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Write an ECDS-shaped extract of the attendances of a period (CSV or a FHIR Bundle)",
		Long: `Write the Emergency Care Data Set (ECDS) shaped extract of the attendances
that arrived from --from to --to (UK dates, both included, at most 31 days), for
the provider's own ECDS submission: GET /v1/exports/ecds on any member.

--format csv (default) writes one row per attendance with its ECDS chief
complaint, acuity, discharge destination and follow-up (SNOMED CT, with terms)
and its NHS 111 disposition; --format fhir writes a FHIR R4 Bundle of
Encounters. Codes starting LOCAL: are frontdoor's documented local fallbacks
(column local_codes names them): map them before a submission. The export is
audited: each attendance read is a record.read event.

Uses an admin key (--key, FRONTDOOR_KEY, or admin.key in --data-dir); a
clinician key may be given with --key too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExportECDS(cmd.Context(), &o, cmd.OutOrStdout())
		},
	}
	o.kc.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "first UK date of the period, YYYY-MM-DD (required)")
	f.StringVar(&o.to, "to", "", "last UK date of the period, YYYY-MM-DD, included (required)")
	f.StringVar(&o.format, "format", "csv", "csv, or fhir (a FHIR R4 Bundle)")
	f.StringVar(&o.out, "out", "", "write to this file instead of standard output")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func runExportECDS(ctx context.Context, o *exportECDSOptions, stdout io.Writer) error {
	if o.format != "csv" && o.format != "fhir" {
		return fmt.Errorf("export ecds: --format must be csv or fhir, not %q", o.format)
	}
	for name, v := range map[string]string{"--from": o.from, "--to": o.to} {
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return fmt.Errorf("export ecds: %s must be a date, YYYY-MM-DD: %q", name, v)
		}
	}
	q := url.Values{"from": {o.from}, "to": {o.to}, "format": {o.format}}
	client := o.kc.client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := o.kc.send(ctx, client, http.MethodGet, "/v1/exports/ecds?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("export ecds: %w", err)
	}
	defer resp.Body.Close()
	w := stdout
	if o.out != "" {
		f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("export ecds: %w", err)
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export ecds: write: %w", err)
	}
	if f, ok := w.(*os.File); ok && o.out != "" {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("export ecds: %w", err)
		}
		return f.Close()
	}
	return nil
}
