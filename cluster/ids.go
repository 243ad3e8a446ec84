package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// idGen makes sortable IDs on the leader before proposing (never in Apply):
// 26 characters of Crockford base32 over 48 bits of milliseconds and 80
// random bits, monotonic within one generator (ULID layout).
type idGen struct {
	mu     sync.Mutex
	lastMS uint64
	last   [10]byte
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func (g *idGen) next(now time.Time) string {
	ms := uint64(now.UnixMilli())
	g.mu.Lock()
	if ms <= g.lastMS {
		ms = g.lastMS
		// Same (or earlier) millisecond: increment the random part.
		for i := 9; i >= 0; i-- {
			g.last[i]++
			if g.last[i] != 0 {
				break
			}
		}
	} else {
		g.lastMS = ms
		if _, err := rand.Read(g.last[:]); err != nil {
			panic("cluster: crypto/rand: " + err.Error())
		}
	}
	var b [16]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	copy(b[6:], g.last[:])
	g.mu.Unlock()
	return encodeULID(b)
}

func encodeULID(b [16]byte) string {
	// 128 bits -> 26 base32 chars; the first char carries 3 bits.
	var out [26]byte
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
