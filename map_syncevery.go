package memvec

import "time"

// Durability on a schedule for a Map (SyncEvery; syncevery.go has the
// syncer). The syncer's Sync is the owner's: it makes the used space
// durable, then stores D, the durable end and the epoch in the map block
// and makes the block durable. It touches the buckets' pages (reading
// them for the barrier), the map block's durable words and the Map's
// fields durable, dirty, epoch and failed. The owner's Put, Delete,
// Update, Sync and Close, which write those and grow the region, run
// under bg.mu (syncLock), so the syncer never runs beside them: a Map has
// no fast path that could go without the lock, since every mutator may
// split, allocate or reuse a slot by the durable count. Get, Len and All
// write nothing the syncer reads or writes, and take no lock.

// startSyncer starts the syncer of a writer opened with SyncEvery(every);
// every is 0 without it. A map the open left not durable (none does: a
// writer's open makes the last writer's changes durable) arms it at once.
func (m *Map[K, V]) startSyncer(every time.Duration) {
	if every <= 0 || m.readOnly || !m.persistent {
		return
	}
	m.bg = startBackgroundSync(every, nil, m.syncBehind)
	if m.dirty {
		m.bg.kick()
	}
}

// syncBehind is the syncer's Sync, under bg.mu. A barrier that fails
// fails the map (sync keeps the error), which every later mutator, Sync
// and Close returns; the syncer leaves its error for the owner's next
// call too (take).
func (m *Map[K, V]) syncBehind() error {
	if m.closed || m.failed != nil || len(m.b) == 0 {
		return nil
	}
	return m.sync()
}

// syncLock keeps the syncer out, if there is one, until syncUnlock. The
// owner's mutators, Sync and Close run under it:
//
//	defer m.syncUnlock(m.syncLock())
func (m *Map[K, V]) syncLock() bool {
	if m.bg == nil {
		return false
	}
	m.bg.mu.Lock()
	return true
}

// syncUnlock lets the syncer in again after syncLock, and arms it if the
// call left a change that is not durable.
func (m *Map[K, V]) syncUnlock(locked bool) {
	if !locked {
		return
	}
	if !m.closed && m.dirty {
		m.bg.kick()
	}
	m.bg.mu.Unlock()
}

// backgroundErr returns, once, the error a background Sync left, for op,
// or nil.
func (m *Map[K, V]) backgroundErr(op string) error {
	if err := m.bg.take(); err != nil {
		return m.wrap(op, err)
	}
	return nil
}
