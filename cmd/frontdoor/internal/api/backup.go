package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
)

// backupRoutes are the route table's rows of backups (routes.go).
func backupRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/cluster/backup", Roles: rolesAdmin, Query: []string{"recipient"},
			Summary: "A consistent backup of the whole state, encrypted to the age recipient(s) given (the backup file format)",
			Handler: (*server).clusterBackup},
	}
}

// maxBackupRecipients bounds ?recipient=.
const maxBackupRecipients = 8

// clusterBackup streams a backup file: the state at one applied index,
// read on the leader after a linearizable barrier (so it holds every write
// acknowledged before the request), encrypted to the age X25519
// recipients named by ?recipient= (public keys: the node never holds what
// opens the file). A follower forwards the request to the leader.
func (s *server) clusterBackup(c *fiber.Ctx) error {
	raw := c.Context().QueryArgs().PeekMulti("recipient")
	if len(raw) == 0 || len(raw) > maxBackupRecipients {
		return invalid("name 1 to 8 age recipients (public keys) to encrypt the backup to",
			map[string]string{"recipient": fmt.Sprintf("required, 1 to %d", maxBackupRecipients)})
	}
	recipients := make([]age.Recipient, 0, len(raw))
	for _, r := range raw {
		rcp, err := backup.ParseRecipient(string(r))
		if err != nil {
			return invalid(err.Error(), map[string]string{"recipient": "must be an age X25519 public key (age1...)"})
		}
		recipients = append(recipients, rcp)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	b, err := s.store.OpenBackup(ctx)
	cancel()
	if errors.Is(err, cluster.ErrNotLeader) {
		return s.forward(c, false)
	}
	if err != nil {
		return err
	}
	created := time.Now().UTC()
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="frontdoor-%s-%d.fdbackup"`,
		created.Format("20060102T150405Z"), b.Index))
	c.Set("X-Frontdoor-Backup-Index", fmt.Sprint(b.Index))
	pr, pw := io.Pipe()
	log := s.log
	go func() {
		defer b.Close()
		h, err := backup.WriteFrom(pw, b, recipients, created)
		if err != nil {
			// The client sees a truncated file: its checksum fails.
			log.Warn("backup stream ended early", "index", h.AppliedIndex, "err", err)
		}
		pw.CloseWithError(err)
	}()
	c.Context().SetBodyStream(pr, -1)
	return nil
}
