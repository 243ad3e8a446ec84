package api

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// The bodies of POST /v1/cluster/forward (forward_proposal.go): a
// follower's proposal and the leader's Result, in a small binary framing
// so neither side decodes or re-encodes the command's JSON payload or the
// written value. Strings are a uvarint length and the bytes; the payload
// and the value are the rest of the body.
//
//	proposal: version 1 | route | actor id | kind | idempotency flag 0/1
//	          [| key | route | body hash] | payload...
//	result:   version 1 | uvarint index | flags (1 replayed, 2 error)
//	          [| CommandError as JSON] | value...

const (
	forwardWireV1  byte = 1
	maxWireString       = 1024 // routes, kinds, ids, keys and hashes are far shorter
	resultReplayed byte = 1
	resultErr      byte = 2
)

// forwardedProposal is what a follower sends the leader: the proposal it
// built, except the actor, which the leader derives from the caller's key
// (ActorID is only the follower's view of it, and must agree), and the
// route table row it served (rowKey, e.g. "POST /v1/attendances/:id/answers").
type forwardedProposal struct {
	Route       string
	ActorID     string
	Kind        cluster.Kind
	Idempotency *cluster.Idempotency
	Payload     []byte
}

func appendWireString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeForwarded frames fp as a POST /v1/cluster/forward body.
func encodeForwarded(fp *forwardedProposal) []byte {
	n := 1 + 4*binary.MaxVarintLen16 + len(fp.Route) + len(fp.ActorID) + len(fp.Kind) + len(fp.Payload)
	if fp.Idempotency != nil {
		n += 3*binary.MaxVarintLen16 + len(fp.Idempotency.Key) + len(fp.Idempotency.Route) + len(fp.Idempotency.BodyHash)
	}
	b := make([]byte, 0, n)
	b = append(b, forwardWireV1)
	b = appendWireString(b, fp.Route)
	b = appendWireString(b, fp.ActorID)
	b = appendWireString(b, string(fp.Kind))
	if fp.Idempotency == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendWireString(b, fp.Idempotency.Key)
		b = appendWireString(b, fp.Idempotency.Route)
		b = appendWireString(b, fp.Idempotency.BodyHash)
	}
	return append(b, fp.Payload...)
}

// decodeForwarded reads a POST /v1/cluster/forward body. Nothing in the
// result aliases body (fiber reuses its buffer).
func decodeForwarded(body []byte) (*forwardedProposal, error) {
	r := wireReader{b: body}
	if v := r.byte(); r.err == nil && v != forwardWireV1 {
		return nil, fmt.Errorf("forwarded proposal: unknown version %d", v)
	}
	fp := &forwardedProposal{Route: r.string(), ActorID: r.string(), Kind: cluster.Kind(r.string())}
	switch r.byte() {
	case 0:
	case 1:
		fp.Idempotency = &cluster.Idempotency{Key: r.string(), Route: r.string(), BodyHash: r.string()}
	default:
		r.fail("bad idempotency flag")
	}
	if r.err != nil {
		return nil, fmt.Errorf("forwarded proposal: %w", r.err)
	}
	fp.Payload = append([]byte(nil), r.b...)
	return fp, nil
}

// encodeResult frames the leader's Result of a forwarded proposal.
func encodeResult(res *cluster.Result) ([]byte, error) {
	var flags byte
	var errJSON []byte
	if res.Replayed {
		flags |= resultReplayed
	}
	if res.Err != nil {
		flags |= resultErr
		var err error
		if errJSON, err = json.Marshal(res.Err); err != nil {
			return nil, fmt.Errorf("forwarded result: %w", err)
		}
	}
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(errJSON)+len(res.Value))
	b = append(b, forwardWireV1)
	b = binary.AppendUvarint(b, res.Index)
	b = append(b, flags)
	if errJSON != nil {
		b = binary.AppendUvarint(b, uint64(len(errJSON)))
		b = append(b, errJSON...)
	}
	return append(b, res.Value...), nil
}

// decodeResult reads encodeResult's framing; the Result does not alias body.
func decodeResult(body []byte) (*cluster.Result, error) {
	r := wireReader{b: body}
	if v := r.byte(); r.err == nil && v != forwardWireV1 {
		return nil, fmt.Errorf("forwarded result: unknown version %d", v)
	}
	res := &cluster.Result{Index: r.uvarint()}
	flags := r.byte()
	res.Replayed = flags&resultReplayed != 0
	if flags&resultErr != 0 {
		raw := r.bytes(len(body))
		if r.err == nil {
			res.Err = new(cluster.CommandError)
			if err := json.Unmarshal(raw, res.Err); err != nil {
				r.fail("command error: " + err.Error())
			}
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("forwarded result: %w", r.err)
	}
	if len(r.b) > 0 {
		res.Value = append(json.RawMessage(nil), r.b...)
	}
	return res, nil
}

// wireReader reads the framing; the first error sticks and later reads
// return zero values.
type wireReader struct {
	b   []byte
	err error
}

var errWireShort = errors.New("truncated")

func (r *wireReader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
}

func (r *wireReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errWireShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errWireShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a length-prefixed field of at most max bytes; it aliases the
// body.
func (r *wireReader) bytes(max int) []byte {
	l := r.uvarint()
	if r.err != nil {
		return nil
	}
	if l > uint64(max) || l > uint64(len(r.b)) {
		r.err = errWireShort
		if l > uint64(max) {
			r.err = fmt.Errorf("field of %d bytes, more than %d", l, max)
		}
		return nil
	}
	v := r.b[:l]
	r.b = r.b[l:]
	return v
}

func (r *wireReader) string() string { return string(r.bytes(maxWireString)) }
