// Command frontdoor runs the front door of an NHS urgent care centre: one
// binary that serves the HTTP API and runs a Raft cluster node (see
// `frontdoor serve --help`), plus the operator commands around it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// The blank imports pin dependencies that later work uses (protocol files,
	// browser tests), so go.mod keeps them until then.

	_ "github.com/chromedp/chromedp"
	_ "gopkg.in/yaml.v3"
)

func main() {
	// Every file the node writes is its owner's only: Badger and raft's
	// snapshot store create theirs 0644 and 0755 (the store also tightens
	// the data dir at open and close).
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "frontdoor:", err)
		os.Exit(1)
	}
}
