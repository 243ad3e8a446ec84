package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the binary's version, set at link time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/frontdoor
//
// It is replicated in the node registry, so a leader knows which binaries
// its voters run.
var version = "dev"

// versionString is version plus what the Go toolchain recorded about the
// build (module version, VCS revision and whether the tree was modified).
func versionString() string {
	s := version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return s
	}
	var rev, modified string
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		s += " module " + v
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " rev " + rev + modified
	}
	return s + " " + info.GoVersion
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "frontdoor", versionString())
			return err
		},
	}
}
