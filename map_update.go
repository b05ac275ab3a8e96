package memvec

import "unsafe"

// Update sets the value of k to what f returns, given its value now and
// whether k is there (the zero V and false if not); if f's second result
// is false, nothing is written. For a key that is there it costs one
// lookup: the new value goes into the slot's other copy, then one atomic
// store of the control word makes it the value, as a Put does, so every
// guarantee of Put's holds (a kill -9 leaves the old value or the new one;
// a follower reads one of them whole; after a power loss a value written
// to k). A counter:
//
//	err := hits.Update(page, func(n uint64, _ bool) (uint64, bool) { return n + 1, true })
//
// f runs inside the call and must not use m (with SyncEvery it would wait
// for itself). Update hands f a value, not a pointer into the map: a write
// through such a pointer would change the copy the control word names in
// place, so a kill -9 in the middle of it would leave a torn value, a
// follower could read one, the checksum a reader checks after a power loss
// would not match (and it would take the other, older copy), and a split,
// the file's growth or Close would leave the pointer to a slot that no
// longer holds k, or to no memory at all. Its errors are Put's.
func (m *Map[K, V]) Update(k K, f func(v V, ok bool) (V, bool)) error {
	v, insert, err := m.updateInPlace(k, f)
	if err != nil || !insert {
		return err
	}
	return m.Put(k, v)
}

// updateInPlace is Update for a key that is there. For one that is not,
// or if f changed the slot (against Update's rule), it returns f's value
// and true: Update puts it.
func (m *Map[K, V]) updateInPlace(k K, f func(v V, ok bool) (V, bool)) (V, bool, error) {
	defer m.syncUnlock(m.syncLock())
	var v V
	if err := m.writable("update"); err != nil {
		return v, false, err
	}
	h := m.loadKey(k)
	off, i, c, ok := m.find(h, true)
	if ok {
		v = m.value()
	}
	buckets := m.buckets
	v, store := f(v, ok)
	if !store {
		return v, false, nil
	}
	if !ok || m.closed || m.buckets != buckets || m.ctrl(off, i).Load() != c {
		return v, true, nil
	}
	clear(m.vbuf)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&m.vbuf[0])), m.geo.vw), unsafe.Slice((*byte)(unsafe.Pointer(&v)), m.geo.vs))
	m.markDirty()
	sel := c >> 62 & 1
	m.writeCopy(off, i, sel^1)
	m.stepHook()
	m.ctrl(off, i).Store(nextCtrl(c, true, sel^1, uint32(h>>32)))
	m.stepHook()
	return v, false, nil
}
