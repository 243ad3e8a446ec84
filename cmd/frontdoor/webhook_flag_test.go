package main

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
)

// TestWebhookDevLoopbackFlag: http and loopback webhooks are off unless
// serve is given --webhook-dev-loopback (or FRONTDOOR_WEBHOOK_DEV_LOOPBACK).
func TestWebhookDevLoopbackFlag(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"off by default", nil, "", "false"},
		{"flag", []string{"--webhook-dev-loopback"}, "", "true"},
		{"env", nil, "true", "true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("FRONTDOOR_WEBHOOK_DEV_LOOPBACK", tt.env)
			}
			root := newRootCmd()
			serve, _, err := root.Find([]string{"serve"})
			if err != nil {
				t.Fatal(err)
			}
			serve.RunE = func(*cobra.Command, []string) error { return nil }
			root.SetArgs(append([]string{"serve"}, tt.args...))
			root.SetOut(&bytes.Buffer{})
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if got := serve.Flags().Lookup("webhook-dev-loopback").Value.String(); got != tt.want {
				t.Fatalf("--webhook-dev-loopback = %s, want %s", got, tt.want)
			}
		})
	}
}
