package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
)

// recentLogs keeps the newest raft log entries as raft handed them to
// StoreLogs, so the reads that follow at once — the leader sending them to
// each follower, a follower applying what it just stored — neither go back
// to bbolt nor open the seal (or check the MAC) again. Only entries that
// were stored (and so sealed on disk) enter it; a DeleteRange empties it.
// It holds at most recentLogSlots entries and recentLogBytes of data, so a
// burst of large entries cannot pin memory.
type recentLogs struct {
	mu    sync.RWMutex
	slots []*raft.Log // by index modulo len
	bytes int
}

const (
	recentLogSlots = 256
	recentLogBytes = 8 << 20
	// recentLogMax: a larger entry is read from disk when asked for.
	recentLogMax = 256 << 10
)

func newRecentLogs() *recentLogs { return &recentLogs{slots: make([]*raft.Log, recentLogSlots)} }

// get copies the entry at index into l if it is held.
func (c *recentLogs) get(index uint64, l *raft.Log) bool {
	c.mu.RLock()
	e := c.slots[index%uint64(len(c.slots))]
	c.mu.RUnlock()
	if e == nil || e.Index != index {
		return false
	}
	*l = *e
	return true
}

// add holds logs, just stored. Raft treats an entry's data as immutable
// once handed over, so the bytes are shared; the Log itself is copied,
// because on the leader raft hands over a pointer into its future for the
// entry, which also holds the FSM's response (every command's Result,
// with the resource JSON built for its proposer): holding that pointer
// kept all of it alive until the slot was reused.
func (c *recentLogs) add(logs []*raft.Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range logs {
		i := l.Index % uint64(len(c.slots))
		if old := c.slots[i]; old != nil {
			c.bytes -= len(old.Data) + len(old.Extensions)
			c.slots[i] = nil
		}
		n := len(l.Data) + len(l.Extensions)
		if n > recentLogMax || c.bytes+n > recentLogBytes {
			continue
		}
		cp := *l
		c.slots[i] = &cp
		c.bytes += n
	}
}

// clear forgets every entry.
func (c *recentLogs) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.slots)
	c.bytes = 0
}
