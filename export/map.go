package export

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime/debug"
	"unsafe"

	"github.com/memvec/memvec"
)

// RawMap writes the entries of the map r to w, one row per entry, with
// the columns of the entry's layout, struct{ Key K; Value V } (r.Layout):
// "Key" (or "Key.X", "Key[0]", ... for a key that is a struct or an
// array), then "Value" (or "Value.X", ...). The rows come in no set
// order, the order of r.All, and are the entries All yields. The map
// must have a layout (a file a writer has created the map in).
//
// Beside a live writer (r a follower), the rows are what a follower sees
// as All reads, which may miss an entry the writer changes meanwhile or
// give its value before the change, and need not be r.Len() of them: the
// file always holds the rows written, whole and consistent, however many.
// An error of All (memvec.ErrFileChanged) ends the export with it.
func RawMap(w io.Writer, r *memvec.RawMap, o Options) error {
	src, err := rawMapEntries(r, r.Name())
	if err != nil {
		return err
	}
	return exportMap(w, src, r.Name(), o)
}

// openRawMap opens the map file at path for reading, as openRaw does a
// vector file: as a ReadOnly reader, or, if a writer holds the file, as a
// follower.
func openRawMap(path string) (*memvec.RawMap, error) {
	opts := []memvec.Option{memvec.Advise(memvec.AdviseSequential)}
	r, err := memvec.OpenRawMap(path, opts...)
	if errors.Is(err, memvec.ErrLocked) {
		r, err = memvec.OpenRawMap(path, append(opts, memvec.Follow())...)
	}
	return r, err
}

// Map writes the entries of m, a program's own map, to w, as RawMap
// does a map file's: one row per entry, in the order of m.All, with the
// columns of struct{ Key K; Value V } (memvec.LayoutOf), the key's, then
// the value's. m must not change while Map runs (it is not safe for
// concurrent use); a follower's rows are the entries it reads, as
// RawMap's beside a live writer.
func Map[K comparable, V any](w io.Writer, m *memvec.Map[K, V], o Options) error {
	const name = "map" // a Map has no Name: its own errors name it
	type entry struct {
		Key   K
		Value V
	}
	l, err := memvec.LayoutOf[entry]()
	if err != nil {
		return fmt.Errorf("memvec: export %s: %w", name, err)
	}
	src := entries{layout: l, valueOff: int(unsafe.Offsetof(entry{}.Value)), n: m.Len(), err: func() error { return nil }}
	src.all = func(yield func(k, v []byte) bool) {
		// Each entry is copied to e, whose key's and value's bytes are
		// yielded: one e for all.
		var e entry
		kb := unsafe.Slice((*byte)(unsafe.Pointer(&e.Key)), unsafe.Sizeof(e.Key))
		vb := unsafe.Slice((*byte)(unsafe.Pointer(&e.Value)), unsafe.Sizeof(e.Value))
		for k, v := range m.All() {
			e.Key, e.Value = k, v
			if !yield(kb, vb) {
				return
			}
		}
	}
	return exportMap(w, src, name, o)
}

// entries is what exportMap reads: the entries of a map, key and value
// bytes, whose layout is that of struct{ Key K; Value V }, the value at
// valueOff; n, their number when the export begins; err, All's error
// once it has ended.
type entries struct {
	layout   *memvec.Layout
	valueOff int
	n        int
	all      iter.Seq2[[]byte, []byte]
	err      func() error
}

// rawMapEntries returns the entries of r.
func rawMapEntries(r *memvec.RawMap, name string) (entries, error) {
	l := r.Layout()
	if l == nil {
		return entries{}, fmt.Errorf("memvec: export %s: the map file has no map yet: no layout to make columns of (a writer creates it at its open)", name)
	}
	n := r.Len()
	if err := r.Err(); err != nil {
		return entries{}, err
	}
	return entries{layout: l, valueOff: r.ValueOffset(), n: n, all: r.All(), err: r.Err}, nil
}

// exportMap exports src's entries. It cannot know their number before it
// has read them all: Len is the length word, which a writer beside it
// changes, and which a writer killed in a Put or Delete leaves off by one.
// So it fills a batch of entries, laid out as struct{ Key K; Value V }
// (the key at 0, the value at valueOff, the padding zero), from All,
// writes it when it is full, and the last, partial one at the end: every
// batch's row count is the entries it holds, and the file's is the sum,
// what All yielded. Len is only the progress's first Total; the last
// progress has Total as Done.
func exportMap(w io.Writer, src entries, name string, o Options) (err error) {
	bw, err := newBatchWriter(w, src.layout, name, o.Format)
	if err != nil {
		return err
	}
	// RawMap guards its own reads of the mapping; this catches a fault
	// in a Map's, as the other exports do.
	defer catchFault(name, debug.SetPanicOnFault(true), &err)
	size, n, valueOff := src.layout.Size, src.n, src.valueOff
	per := batchRows(size)
	p := Progress{Total: n, TotalBytes: int64(n) * int64(size)}
	// The batch's buffer: room for the entries Len says, up to a batch,
	// grown if All yields more. Only the key's and the value's bytes of
	// an entry are written, so its padding stays zero.
	buf := make([]byte, min(per, max(n, 1))*size)
	m := 0 // the entries in buf
	flush := func() error {
		if err := bw.write(buf[:m*size], m); err != nil {
			return err
		}
		p.Done += m
		p.DoneBytes = int64(p.Done) * int64(size)
		p.Total, p.TotalBytes = max(p.Total, p.Done), max(p.TotalBytes, p.DoneBytes)
		m = 0
		if o.Progress != nil {
			o.Progress(p)
		}
		return nil
	}
	for k, v := range src.all {
		if (m+1)*size > len(buf) {
			buf = append(buf, make([]byte, min(per*size, 2*len(buf))-len(buf))...)
		}
		e := buf[m*size : (m+1)*size]
		copy(e, k)
		copy(e[valueOff:], v)
		if m++; m == per {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if err := src.err(); err != nil {
		return err
	}
	if m > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	if err := bw.close(); err != nil {
		return err
	}
	p.Total, p.TotalBytes = p.Done, p.DoneBytes
	if o.Progress != nil {
		o.Progress(p)
	}
	return nil
}
