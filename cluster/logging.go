package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger sends Badger's warnings and errors to slog; its info and
// debug chatter is dropped.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (l badgerLogger) Infof(string, ...any)  {}
func (l badgerLogger) Debugf(string, ...any) {}

// lineWriter turns hclog's text lines (raft's logger) into slog records.
type lineWriter struct{ log *slog.Logger }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		s := string(line)
		level := slog.LevelInfo
		switch {
		case strings.Contains(s, "[ERROR]"):
			level = slog.LevelError
		case strings.Contains(s, "[WARN]"):
			level = slog.LevelWarn
		case strings.Contains(s, "[DEBUG]"), strings.Contains(s, "[TRACE]"):
			level = slog.LevelDebug
		}
		w.log.Log(context.Background(), level, s, "component", "raft")
	}
	return len(p), nil
}
