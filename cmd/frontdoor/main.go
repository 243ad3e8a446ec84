// Command frontdoor runs the front door of an NHS urgent care centre.
package main

// The blank imports pin the product's named dependencies in go.mod until the
// packages that use them land; delete this file's imports as they do.
import (
	_ "github.com/armon/go-metrics/prometheus"
	_ "github.com/chromedp/chromedp"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/gofiber/fiber/v2"
	_ "github.com/hashicorp/go-metrics/compat"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
)

func main() {}
