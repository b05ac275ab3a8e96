package memvec

import (
	"fmt"
	"iter"
	"unsafe"
)

// More of a slice's API: the slices package's functions that change a
// slice's length, as methods.
//
// They keep the two rules of the vector's other mutators. An operation that
// changes or drops elements a follower may already see (at indices below
// the length) brackets the change with beginRewrite and endRewrite and
// stores the new length inside the bracket, so that a follower's next
// Refresh reports ErrRewritten; one that changes nothing leaves the
// generation alone. An operation that only adds at the end writes the
// elements first and then publishes the length, so that a crash never
// leaves the length counting an element not yet written, and a follower
// never sees one half written.

// Delete removes the elements at indices [i, j), moving the ones after them
// down: the order is kept. It panics if i < 0, j < i or j > Len(), like
// slices.Delete, and returns ErrReadOnly or ErrClosed (checked before the
// indices) when the vector cannot change. It is O(Len()-i), so deleting many
// elements in one call costs less than deleting them one at a time. Unlike
// slices.Delete it does not zero the elements past the new length: their
// bytes stay in the region, as after Truncate. Like Remove, it rewrites
// elements in place and is not atomic under a crash (the length stays
// consistent with the elements it counts).
func (v *MemVec[T]) Delete(i, j int) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	n := len(v.s)
	if i < 0 || j < i || j > n {
		v.panicf("delete", "range [%d:%d] out of range [0:%d]", i, j, n)
	}
	if i == j {
		return nil
	}
	if err := v.overwrite(i); err != nil {
		return err
	}
	v.beginRewrite()
	copy(v.s[i:], v.s[j:])
	v.setLen(n - (j - i))
	v.endRewrite()
	return nil
}

// DeleteFunc removes the elements for which del returns true, keeping the
// order of the others, like slices.DeleteFunc. It calls del once for each
// element, in order. It returns ErrReadOnly or ErrClosed when the vector
// cannot change, and nil otherwise. It is O(Len()) calls of del and moves;
// when del returns false for every element nothing is written (and a
// follower sees no rewrite). The bytes past the new length are not zeroed.
//
// If del panics, the vector keeps a consistent state before the panic goes
// on: the elements for which del returned true are removed, and the one it
// panicked on and those after it are kept. del must not change the vector.
func (v *MemVec[T]) DeleteFunc(del func(T) bool) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	s := v.s
	w := 0
	for w < len(s) && !del(s[w]) {
		w++
	}
	if w == len(s) {
		return nil
	}
	if err := v.overwrite(w); err != nil {
		return err
	}
	// s[w] goes. From here on s[:w] holds the elements kept of those
	// before r, and s[r:] is as it was.
	r := w + 1
	v.beginRewrite()
	defer func() { v.endSqueeze(s, w, r) }()
	for ; r < len(s); r++ {
		if x := s[r]; !del(x) {
			s[w] = x
			w++
		}
	}
	return nil
}

// CompactFunc replaces each run of consecutive elements for which eq
// returns true by the first of the run, like slices.CompactFunc: eq is
// called with each element and the one before it in the vector as it was
// (so eq need not be transitive; the runs are those of the input). It
// returns ErrReadOnly or ErrClosed when the vector cannot change, and nil
// otherwise. It is O(Len()) calls of eq and moves; when no two neighbours
// are equal nothing is written (and a follower sees no rewrite). The bytes
// past the new length are not zeroed.
//
// If eq panics, the vector keeps a consistent state before the panic goes
// on: the runs are shortened among the elements compared so far, and the
// element eq panicked on and those after it are kept. eq must not change
// the vector.
func (v *MemVec[T]) CompactFunc(eq func(a, b T) bool) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	s := v.s
	if len(s) < 2 {
		return nil
	}
	w := 1
	for w < len(s) && !eq(s[w], s[w-1]) {
		w++
	}
	if w == len(s) {
		return nil
	}
	if err := v.overwrite(w); err != nil {
		return err
	}
	// s[w] goes (it equals s[w-1]). From here on s[:w] holds the elements
	// kept of those before r, and s[r-1:] is as it was: the write at step
	// r goes below r, after s[r-1] has been compared for the last time.
	r := w + 1
	v.beginRewrite()
	defer func() { v.endSqueeze(s, w, r) }()
	for ; r < len(s); r++ {
		if !eq(s[r], s[r-1]) {
			s[w] = s[r]
			w++
		}
	}
	return nil
}

// endSqueeze ends the rewrite of a DeleteFunc or CompactFunc on s (the
// vector's elements when it began) that kept s[:w] of the elements before
// r: it moves s[r:] down to w and stores the length. It runs deferred, so
// that a del or eq that panics leaves the vector consistent and the
// generation even. When the loop has finished, r is len(s) and nothing
// moves.
func (v *MemVec[T]) endSqueeze(s []T, w, r int) {
	copy(s[w:], s[r:])
	v.setLen(w + len(s) - r)
	v.endRewrite()
}

// Replace replaces the elements at indices [i, j) by xs, like
// slices.Replace: the elements from j on move to follow xs. It panics if
// i < 0, j < i or j > Len(), as slices.Replace does. It is
// O(Len()-i + len(xs)) and grows the memory at most once. xs may point into
// the vector (v.Slice()[k:l]): when the elements must move up, such xs are
// copied to the heap first.
//
// It returns ErrReadOnly or ErrClosed (checked before the indices), or the
// memory's error when it must grow and cannot (a full disk, no memory); the
// vector is then unchanged. Replace(Len(), Len(), xs...) only appends, like
// Append: the elements are written before the length counts them. Any other
// Replace that changes something rewrites elements in place and, like
// Insert, is not atomic under a crash (the length stays consistent). Unlike
// slices.Replace it does not zero the elements past a shorter length.
func (v *MemVec[T]) Replace(i, j int, xs ...T) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	n := len(v.s)
	if i < 0 || j < i || j > n {
		v.panicf("replace", "range [%d:%d] out of range [0:%d]", i, j, n)
	}
	if i == j && len(xs) == 0 {
		return nil
	}
	if i == n {
		return v.append(xs)
	}
	m := n - (j - i) + len(xs)
	if m < 0 { // n + len(xs) overflowed
		return v.wrap("replace", fmt.Errorf("%d elements replaced by %d in %d overflow int", j-i, len(xs), n))
	}
	if err := v.overwrite(i); err != nil {
		return err
	}
	if m > n {
		// The tail moves up first, over where xs may be: copy it before
		// anything moves (or the region grows).
		xs = v.detach(xs)
		if err := v.makeRoom(m); err != nil {
			return err
		}
	}
	s := v.s[:max(n, m)]
	v.beginRewrite()
	if m > n {
		copy(s[i+len(xs):], s[j:n])
		copy(s[i:], xs)
	} else {
		// xs fits in [i, j): writing it there first leaves the tail
		// s[j:n] intact for the move that follows, wherever xs lies.
		copy(s[i:], xs)
		copy(s[i+len(xs):], s[j:n])
	}
	v.s = s[:m]
	v.length.Store(uint64(m))
	v.endRewrite()
	if m > n {
		v.publish(m) // wake the followers waiting for more
	}
	return nil
}

// Resize makes the vector's length n: it drops the elements from index n
// on if n < Len(), and appends n - Len() zero elements if n > Len(). It
// panics if n is negative, like make, and returns ErrReadOnly or ErrClosed
// (checked first) when the vector cannot change.
//
// Shrinking is O(1) and keeps the capacity, as Truncate does; a follower
// sees it as a rewrite. Growing is O(n - Len()): the new elements are zeroed
// in place (the region past the length may hold the bytes of elements a
// Truncate or Delete dropped), then counted; a crash never leaves the length
// counting elements not yet zeroed. It grows the memory as Grow does, and
// returns the memory's error when it cannot, the vector then unchanged.
func (v *MemVec[T]) Resize(n int) error {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return err
	}
	if n < 0 {
		v.panicf("resize", "negative length %d", n)
	}
	switch have := len(v.s); {
	case n < have:
		v.beginRewrite()
		v.setLen(n)
		v.endRewrite()
	case n > have:
		s, err := v.spare("resize", n-have)
		if err != nil {
			return err
		}
		v.s = v.s[:have+len(s)]
		v.publish(len(v.s))
	}
	return nil
}

// AppendSeq appends the values seq yields, in order, like slices.AppendSeq.
// It is O(number of values) amortized. It writes each value into the room
// past the length and counts the values in batches: it stores the length
// once per 256 values, before each growth of the memory,
// and when it returns, rather than once per value as Push does, which would
// make it about twice as slow. So a crash keeps the values of every batch
// counted before it (and never counts one not written), and a follower sees
// the values batch by batch, and all of them once AppendSeq returns; a
// follower sleeping in Wait is woken by the next value after it went to
// sleep. To make each value visible and durable as it comes, Push each.
//
// It returns ErrReadOnly or ErrClosed, without calling seq, when the vector
// cannot change. When the vector must grow and cannot (a full disk, no
// memory), it stops seq and returns an error wrapping the memory's that
// says how many values were appended: those stay. If seq panics, the values
// it yielded before are counted, and the panic goes on. seq may read the
// vector (v.AppendSeq(v.Values()) appends a copy of the elements, where the
// iterators allow growth during an iteration: see All), but must not change
// it; while seq runs, Len does not count the values of the current batch.
func (v *MemVec[T]) AppendSeq(seq iter.Seq[T]) error {
	start := len(v.s)
	if err := v.roomForSeq(start, false); err != nil {
		return err
	}
	// The values are written to room[len(v.s):m] before they are counted.
	room, m, wake := v.s[:cap(v.s)], start, v.wake()
	defer func() { v.count(m) }()
	for x := range seq {
		if m == len(room) {
			v.count(m)
			if err := v.roomForSeq(m+1, true); err != nil {
				return v.annotate("append", fmt.Sprintf("AppendSeq stopped after appending %d values, which stay", m-start), err)
			}
			// The region may have moved (past its reservation; for a
			// File on Windows, at every growth): the header with it.
			room, wake = v.s[:cap(v.s)], v.wake()
		}
		room[m] = x
		m++
		// Counting wakes the followers sleeping in Wait: count at once
		// for them (it clears the bit), or else once per batch.
		if (m-start)%appendSeqBatch == 0 || wake.Load()&1 != 0 {
			v.count(m)
		}
	}
	return nil
}

// appendSeqBatch is how many values AppendSeq writes before it stores the
// length: an atomic store per value, as Push does, costs about as much as
// the rest of appending a value from an iterator.
const appendSeqBatch = 256

// roomForSeq is AppendSeq's part that a background Sync must not run beside
// (see syncLock): before the first value, whether the vector is writable
// and what it must do to write at n (overwrite); later, the room for a
// value at n-1 (makeRoom). The sequence is iterated without the lock, as
// Push's fast path runs: a sequence that waits for its values does not
// hold back a background Sync.
func (v *MemVec[T]) roomForSeq(n int, grow bool) error {
	defer v.syncUnlock(v.syncLock())
	if grow {
		return v.makeRoom(n)
	}
	if err := v.writable(); err != nil {
		return err
	}
	return v.overwrite(n)
}

// count makes the length m, written after the elements up to it, if m is
// more than the length, and publishes it.
func (v *MemVec[T]) count(m int) {
	if m > len(v.s) {
		v.s = v.s[:m]
		v.publish(m)
	}
}

// AppendInPlace appends up to n elements written in place, with no staging
// slice: it makes room for n more elements, zeroes them, and calls fill with
// them as s (len(s) == n), in the vector's memory past its length. fill sets
// s[:k] and returns k, from 0 to n; AppendInPlace then counts those k
// elements, publishing them to followers, and returns nil. The elements of
// s past k are not counted. It is O(n) plus what fill costs, and grows the
// memory at most once.
//
// This is Rust's spare_capacity_mut and set_len in one call, and not in two
// (a Spare returning the room and a Commit counting it): the room exists only
// while fill runs, so no slice of it outlives a later growth, and nothing can
// count more than it was handed. The length is stored after fill returns, so
// a crash while fill runs counts none of the new elements. And since s is
// zeroed first, an element counted but not set by fill is zero: never the
// bytes of an element dropped before, nor half of one.
//
// It panics if n is negative, if fill returns k < 0 or k > n, or if fill
// changed the vector's length or the memory under s (fill may read the
// vector, and Set elements below the length); it then counts nothing. If
// fill panics, nothing is counted either, and the panic goes on. It returns
// ErrReadOnly or ErrClosed (checked before n), or the memory's error when it
// must grow and cannot, without calling fill; the vector is then unchanged.
func (v *MemVec[T]) AppendInPlace(n int, fill func(s []T) int) error {
	s, err := v.spareLocked(n)
	if err != nil {
		return err
	}
	have, base := len(v.s), unsafe.SliceData(v.s)
	k := fill(s)
	switch {
	case k < 0 || k > n:
		v.panicf("append", "AppendInPlace's fill returned %d, out of range [0:%d]", k, n)
	case v.closed || len(v.s) != have || unsafe.SliceData(v.s) != base || cap(v.s) < have+n:
		v.panicf("append", "AppendInPlace's fill changed the vector's length or the memory under s")
	case k > 0:
		v.s = v.s[:have+k]
		v.publish(have + k)
	}
	return nil
}

// spare makes room for n more elements and returns them, zeroed, as the
// slice past the length: not counted, so that followers cannot see them,
// and written with zeros, so that counting them later never counts the
// bytes of an element dropped before. On failure the vector is unchanged.
// spareLocked is AppendInPlace's part that a background Sync must not run
// beside (see syncLock): fill runs without the lock, as Push's fast path
// does, so that a fill that waits (a read from a network connection) does
// not hold back a background Sync.
func (v *MemVec[T]) spareLocked(n int) ([]T, error) {
	defer v.syncUnlock(v.syncLock())
	if err := v.writable(); err != nil {
		return nil, err
	}
	if n < 0 {
		v.panicf("append", "negative count %d", n)
	}
	return v.spare("append", n)
}

func (v *MemVec[T]) spare(op string, n int) ([]T, error) {
	have := len(v.s)
	if have+n < have {
		return nil, v.wrap(op, fmt.Errorf("%d elements and %d more overflow int", have, n))
	}
	if err := v.overwrite(have); err != nil {
		return nil, err
	}
	if err := v.makeRoom(have + n); err != nil {
		return nil, err
	}
	s := v.s[have : have+n]
	clear(s)
	return s, nil
}
