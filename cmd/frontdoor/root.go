package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix is the prefix of the environment variables that mirror flags:
// --data-dir is also read from FRONTDOOR_DATA_DIR.
const envPrefix = "FRONTDOOR"

// newRootCmd builds the whole command tree. Every call returns a fresh tree
// (no package-level flag variables), so tests can run commands side by side.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "frontdoor",
		Short: "The front door of an NHS urgent care centre, run as a Raft cluster",
		// Errors are printed once by main; usage is only for flag errors,
		// which cobra reports before RunE (SilenceUsage is set there).
		SilenceErrors: true,
		// Subcommands must not set their own PersistentPreRunE: cobra runs
		// only the nearest one, and this one applies FRONTDOOR_* variables.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := setFlagsFromEnv(cmd.Flags(), envPrefix, os.LookupEnv); err != nil {
				return err
			}
			// Past flag parsing, a failure is a runtime error: no usage dump.
			cmd.SilenceUsage = true
			return nil
		},
	}
	root.AddCommand(newLoadtestCmd())
	root.AddCommand(
		newServeCmd(),
		newStatusCmd(),
		newVersionCmd(),
		newKeysCmd(),
		newDirectoryCmd(),
		newProtocolsCmd(),
		newVerifyCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newRecoverCmd(),
		newEncryptionCmd(),
		newExportCmd(),
	)
	return root
}

// envName is the environment variable that mirrors a flag: "data-dir" with
// prefix FRONTDOOR -> FRONTDOOR_DATA_DIR.
func envName(prefix, flag string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setFlagsFromEnv sets every flag not given on the command line from its
// environment variable, in the style of etcd's SetPflagsFromEnv: flags win.
// A repeatable flag (string slice) takes a comma-separated value.
func setFlagsFromEnv(fs *pflag.FlagSet, prefix string, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(prefix, f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("environment %s=%q: %w", name, v, serr)
		}
	})
	return err
}
