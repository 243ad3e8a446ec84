package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Idempotency records expire. A record i/<key> written under logic version
// idemExpirySince or later carries the FSM time it was stored (At) and an
// index key ix/<sortable At>/<key>. From idemRetention after At (by the FSM
// clock, tx.Now, never the wall clock) the key is new again: a request with it
// is applied afresh and its record replaces the old one. After the commands of
// each raft entry whose last command was proposed under that logic version, the FSM
// deletes at most idemPruneMax expired records per command of the entry,
// oldest first, with their index keys, in the same transaction, so state
// stays bounded by about a day of keys and every replica prunes exactly the
// same keys whatever the batching.
//
// Records written before expiry existed (no At, no index key) never expire
// and are never pruned: they stay in the state for good.
const (
	idemRetention   = 24 * time.Hour
	idemPruneMax    = 16
	idemExpirySince = 2 // LogicVersion that introduced expiry
	// idemMarkSince: expiry scans from the last index key it deleted
	// (keyIdemPruned) rather than from the start, past the tombstone of
	// every key deleted since Badger's last compaction; it deletes the
	// same keys, as everything before the mark is already gone.
	idemMarkSince = 5
)

// keyIdemPruned holds the last ix/ key expiry deleted.
const keyIdemPruned = "ixp"

// idemRecord is what the FSM keeps per Idempotency-Key.
type idemRecord struct {
	Route    string    `json:"route"`
	BodyHash string    `json:"body_hash"`
	Result   Result    `json:"result"`
	At       time.Time `json:"at,omitzero"` // FSM time stored; zero before expiry existed
}

// idemAnswer is what a request with a key already recorded gets: the first
// Result (Replayed; one that names its resource without its bytes is read
// again by the caller: commandTable.reread) for the same route and body,
// else the mismatch error
// (at index, the entry that carried the retry; 0 when refused before
// proposing).
func idemAnswer(rec *idemRecord, idem *Idempotency, index uint64) *Result {
	if rec.Route == idem.Route && rec.BodyHash == idem.BodyHash {
		r := rec.Result
		r.Replayed = true
		return &r
	}
	return &Result{Index: index, Err: &CommandError{
		Code:    CodeIdempotencyMismatch,
		Message: "this Idempotency-Key was used with a different request",
	}}
}

// idemExpired reports whether rec no longer answers for its key at now.
func idemExpired(rec *idemRecord, now time.Time) bool {
	return !rec.At.IsZero() && !now.Before(rec.At.Add(idemRetention))
}

// putIdem stores the first Result for the command's key. Under expiry it also
// writes the time index key and drops the index key of an expired record the
// key replaces (prev, nil when there was none).
func putIdem(tx *Tx, idem *Idempotency, r *Result, prev *idemRecord) error {
	rec := idemRecord{Route: idem.Route, BodyHash: idem.BodyHash, Result: *r}
	if r.Ref != nil {
		rec.Result.Value = nil // the resource is named, not kept (resource.go)
	}
	if tx.LogicVersion() >= idemExpirySince {
		rec.At = tx.Now()
		if prev != nil && !prev.At.IsZero() {
			tx.Delete(keyIdemByTime(prev.At, idem.Key))
		}
		tx.PutRaw(keyIdemByTime(rec.At, idem.Key), nil)
	}
	b, err := encodeIdem(&rec)
	if err != nil {
		return fmt.Errorf("encode idempotency record: %w", err)
	}
	tx.PutRaw(keyIdem(idem.Key), b)
	return nil
}

// encodeIdem is json.Marshal(rec) with the Result's value (the whole
// resource, often many kilobytes, encoded by the command that wrote it)
// copied in as it is rather than checked and compacted again.
func encodeIdem(rec *idemRecord) ([]byte, error) {
	head := *rec
	head.Result.Value = nil
	enc, err := json.Marshal(&head)
	if err != nil || len(rec.Result.Value) == 0 {
		return enc, err
	}
	// encoding/json escapes these even inside a value already encoded; a
	// value written by encoding/json never holds them raw
	if v := rec.Result.Value; bytes.ContainsAny(v, "<>&") || bytes.Contains(v, []byte("\u2028")) || bytes.Contains(v, []byte("\u2029")) {
		return json.Marshal(rec)
	}
	// enc is {"route":…,"body_hash":…,"result":{"index":N…: the value
	// follows the index, as its field does
	at := bytes.Index(enc, []byte(`,"result":{"index":`))
	if at < 0 {
		return nil, fmt.Errorf("idempotency record without a result index: %s", enc)
	}
	at += len(`,"result":{"index":`)
	for at < len(enc) && enc[at] >= '0' && enc[at] <= '9' {
		at++
	}
	out := make([]byte, 0, len(enc)+len(rec.Result.Value)+10)
	out = append(out, enc[:at]...)
	out = append(out, `,"value":`...)
	out = append(out, rec.Result.Value...)
	return append(out, enc[at:]...), nil
}

var errStopScan = errors.New("stop scan")

// pruneIdem deletes up to limit idempotency records that expired by tx.Now(),
// oldest first, with their index keys. An index key whose record
// was since replaced (the key was reused after expiry) is deleted alone.
func pruneIdem(tx *Tx, limit int) error {
	if tx.LogicVersion() < idemExpirySince {
		return nil
	}
	cutoff := SortableTime(tx.Now().Add(-idemRetention))
	from := ""
	if tx.LogicVersion() >= idemMarkSince {
		b, _, err := tx.GetRaw(keyIdemPruned)
		if err != nil {
			return fmt.Errorf("idempotency expiry: %w", err)
		}
		from = string(b)
	}
	var expired []string
	// Keys, not Scan: a value-prefetching iterator would read a hundred
	// index values on every entry to look at the first key.
	err := tx.Keys(prefixIdemByTime, from, func(k string) error {
		if len(expired) == limit {
			return errStopScan
		}
		at, _, ok := parseIdemByTime(k)
		if ok && at > cutoff {
			return errStopScan // index order is time order: the rest are younger
		}
		expired = append(expired, k) // expired, or malformed (never written by us)
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("idempotency expiry: %w", err)
	}
	if n := len(expired); n > 0 && tx.LogicVersion() >= idemMarkSince {
		tx.PutRaw(keyIdemPruned, []byte(strings.TrimPrefix(expired[n-1], prefixIdemByTime)))
	}
	for _, k := range expired {
		tx.Delete(k)
		at, key, ok := parseIdemByTime(k)
		if !ok {
			continue
		}
		var rec idemRecord
		found, err := tx.Get(keyIdem(key), &rec)
		if err != nil {
			return fmt.Errorf("idempotency expiry: %w", err)
		}
		if found && !rec.At.IsZero() && SortableTime(rec.At) == at {
			tx.Delete(keyIdem(key))
		}
	}
	return nil
}

// parseIdemByTime splits ix/<sortable time>/<key> (keys may contain '/').
func parseIdemByTime(k string) (at, key string, ok bool) {
	rest, found := strings.CutPrefix(k, prefixIdemByTime)
	if !found || len(rest) < 22 || rest[20] != '/' {
		return "", "", false
	}
	return rest[:20], rest[21:], true
}
