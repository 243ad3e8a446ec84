package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the cluster's nodes, roles, leader and indexes as one member sees them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), addr, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "HTTP address of any cluster member")
	return cmd
}

func runStatus(ctx context.Context, addr string, out io.Writer) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(addr, "/")+"/v1/cluster", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("status: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var v api.ClusterView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return printStatus(out, v)
}

func printStatus(out io.Writer, v api.ClusterView) error {
	leader := v.Leader
	if leader == "" {
		leader = "(none known)"
	}
	fmt.Fprintf(out, "answered by: %s\nleader:      %s\n\n", v.NodeID, leader)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSUFFRAGE\tHTTP\tRAFT\tVERSION\tLAST\tCOMMIT\tAPPLIED\tCLOCK OFFSET\tNOTE")
	for _, n := range v.Nodes {
		role := n.State
		if n.Leader {
			role = "leader"
		}
		if role == "" {
			role = "?"
		}
		if !n.Reachable {
			role = "unreachable"
		}
		off := "?"
		if n.ClockOffsetMS != nil {
			off = fmt.Sprintf("%+.1fms", *n.ClockOffsetMS)
		}
		note := n.Error
		if n.ClockInLine != nil && !*n.ClockInLine {
			note = strings.TrimSpace("clock out of line " + note)
		}
		if n.Fatal != "" {
			note = strings.TrimSpace("FSM stopped: " + n.Fatal + " " + note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", n.ID, role, n.Suffrage, n.HTTPAddr, n.RaftAddr,
			n.Version, n.LastIndex, n.CommitIndex, n.AppliedIndex, off, note)
	}
	return tw.Flush()
}
