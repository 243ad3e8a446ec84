package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzEntryEnvelopes is the raft entry decoder down to the envelopes, fed
// any bytes a log could hold (FuzzDecodeEntry covers the framing alone). A
// refusal is errBadEntry (never a panic); what it accepts re-encodes to an
// entry with the same envelopes, and each envelope either decodes as an
// Envelope, whose payload the commands' strict decoder then reads or
// refuses, or is refused by json.
func FuzzEntryEnvelopes(f *testing.F) {
	env := func(kind string, payload string) []byte {
		b, _ := json.Marshal(Envelope{Kind: Kind(kind), LogicVersion: LogicVersion, Payload: json.RawMessage(payload)})
		return b
	}
	f.Add(encodeEntry([][]byte{env("attendance.create", `{"complaint":"cut hand"}`)}))
	f.Add(encodeEntry([][]byte{env("key.create", `{"name":"x","role":"admin"}`), env("cluster.node_register", `{"id":"n1","raft_addr":"127.0.0.1:7000"}`)}))
	f.Add(encodeEntry(nil))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{2, 1, 1, '{'})
	f.Add([]byte{1, 2, 3, '{', '}', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		raws, err := decodeEntry(data)
		if err != nil {
			if !errors.Is(err, errBadEntry) {
				t.Fatalf("refusal %v is not errBadEntry", err)
			}
			return
		}
		if again := encodeEntry(raws); !bytes.Equal(again, data) {
			// A uvarint may be written with redundant bytes; what the
			// leader writes is the minimal form, which must round-trip.
			if re, err := decodeEntry(again); err != nil || len(re) != len(raws) {
				t.Fatalf("re-encoded entry does not decode to the same %d envelopes: %v", len(raws), err)
			}
		}
		for _, raw := range raws {
			var e Envelope
			if json.Unmarshal(raw, &e) != nil {
				continue
			}
			var payload map[string]any
			_ = DecodeStrict(e.Payload, &payload) // decodes or refuses; never panics
		}
	})
}
