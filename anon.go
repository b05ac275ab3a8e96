package memvec

import (
	"fmt"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
)

// Anon is anonymous memory: a private mapping that no file backs, outside
// the Go heap. The garbage collector never scans it, and the pages count
// against the process's memory only once written. It is lost when closed or
// when the process exits.
//
// Anon maps its pages private rather than shared: a shared anonymous mapping
// is backed by a tmpfs object of fixed size, whose pages past its end fault
// when the mapping grows; a private one grows freely.
//
// On Unix and Windows, Anon reserves address space up front (see Reserve)
// and grows by making the next reserved pages accessible (on Windows,
// committing them): the region never moves and growth copies nothing. Past
// the reservation it moves to a new one twice as large (on Linux by mremap,
// which moves page-table entries instead of copying; elsewhere by copying).
// On other platforms (Plan 9, WebAssembly) it is a block of the Go heap that
// growth copies and moves.
//
// On Linux, a vector's pushes fault the next pages in ahead of them, a MiB at
// a time, sharing the work with a short-lived helper goroutine when
// GOMAXPROCS is more than 1; Resize, the paging hints and Close wait for the
// helper to return first.
type Anon struct {
	b      []byte      // the region: len(b) is its size
	r      region.Anon // the reservation and its mapped pages: the region layer's part
	closed bool
	touch  region.Pretoucher // faults pages in ahead of the pushes
}

// NewAnon returns anonymous memory of size bytes, all zero. A size of 0 maps
// nothing until the first Resize. Of the options, only Reserve and Advise
// apply: it returns an error naming any other it is given (ReadOnly,
// Follow, MustExist, CreateNew, LockTimeout, Mode), as in "memvec: map
// anonymous memory: option ReadOnly does not apply to anonymous memory". It
// returns the system's error (such as ENOMEM) if the memory cannot be
// mapped.
func NewAnon(size int, opts ...Option) (*Anon, error) {
	if size < 0 {
		return nil, fmt.Errorf("memvec: map anonymous memory: negative size %d", size)
	}
	o, err := anonOptions("map", opts)
	if err != nil {
		return nil, err
	}
	a := &Anon{r: region.Anon{Reserve: o.reserve, Advice: region.Advice(o.advice)}}
	if err := a.Resize(size); err != nil {
		return nil, err
	}
	return a, nil
}

// Bytes returns the whole region. It returns nil after Close.
func (a *Anon) Bytes() []byte { return a.b }

// Reserved returns the bytes of address space the region holds: it grows
// in place up to this size without moving (see Reserve). It is
// DefaultReserve (or the Reserve option's size) from the region's first
// growth past 0 bytes on; more once the region outgrows that and moves to a
// reservation twice as large; only Mapped if the system refuses the address
// space. On Plan 9 and WebAssembly, where the region is a block of the Go
// heap, it is Mapped. It returns 0 before the first growth and after Close.
func (a *Anon) Reserved() int { return a.r.Reserved() }

// Mapped returns the bytes of the region that are accessible (on Windows,
// committed): len(Bytes()) rounded up to pages. Of these, a page counts
// against the process's memory only once written. It returns 0 after
// Close.
func (a *Anon) Mapped() int { return a.r.Mapped() }

// Resize grows or shrinks the region to size bytes, keeping the common
// prefix; new bytes are zero. Within the reservation the region stays where
// it is. It returns ErrClosed after Close and the system's error if the
// memory cannot be mapped, and the region is then unchanged.
func (a *Anon) Resize(size int) error {
	switch {
	case a.closed:
		return fmt.Errorf("memvec: resize anonymous memory: %w", ErrClosed)
	case size < 0:
		return fmt.Errorf("memvec: resize anonymous memory: negative size %d", size)
	}
	a.touch.Stop()
	old := len(a.b)
	if m := roundUp(size, pageSize); m != a.r.Mapped() {
		if err := a.r.Remap(m); err != nil {
			if old > 0 {
				// A growth that moved the region and then failed left
				// its bytes at the new address.
				a.b = unsafe.Slice(a.r.Base(), a.r.Mapped())[:old:old]
			}
			return fmt.Errorf("memvec: resize anonymous memory: from %d to %d bytes: %w", old, size, err)
		}
	}
	full := unsafe.Slice(a.r.Base(), a.r.Mapped())
	if size < old {
		clear(full[size:min(old, a.r.Mapped())]) // zero again, should it grow back
	}
	a.b = full[:size:size]
	if size == 0 {
		a.b = nil
	}
	return nil
}

// prefault faults in the pages of bytes [off, off+n) for writing, in bulk,
// and has a helper goroutine fault in some beyond (see prefaulter and
// pretoucher). It is a hint: where the system cannot, the pages fault in
// one by one as they are written.
func (a *Anon) prefault(off, n int) {
	if a.r.Base() != nil {
		a.touch.Prefault(unsafe.Slice(a.r.Base(), a.r.Mapped()), off, n)
	}
}

// Sync does nothing: anonymous memory has nowhere to be made durable. It
// returns ErrClosed after Close.
func (a *Anon) Sync() error {
	if a.closed {
		return fmt.Errorf("memvec: sync anonymous memory: %w", ErrClosed)
	}
	return nil
}

// Close unmaps the memory and its reservation. Every slice of it becomes
// invalid. A second Close returns nil.
func (a *Anon) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	a.touch.Stop()
	err := a.r.Free()
	a.b = nil
	if err != nil {
		return fmt.Errorf("memvec: close anonymous memory: %w", err)
	}
	return nil
}
