package memvec

import (
	"fmt"
	"unsafe"
)

// Anon is anonymous memory: a private mapping that no file backs, outside
// the Go heap. The garbage collector never scans it, and the pages count
// against the process's memory only once written. It is lost when closed or
// when the process exits.
//
// Anon maps its pages private rather than shared: a shared anonymous mapping
// is backed by a tmpfs object of fixed size, so growing it with mremap maps
// pages past the object's end, which fault; a private one grows freely.
// On Linux it grows with mremap, which moves page-table entries instead of
// copying the data; elsewhere it maps a new region and copies.
type Anon struct {
	b      []byte // the region; len(b) is its size, mapped its mapped length
	mapped int
	closed bool
}

// NewAnon returns anonymous memory of size bytes, all zero. A size of 0 maps
// nothing until the first Resize. It returns the system's error (such as
// ENOMEM) if the memory cannot be mapped.
func NewAnon(size int) (*Anon, error) {
	if size < 0 {
		return nil, fmt.Errorf("memvec: NewAnon: negative size %d", size)
	}
	a := &Anon{}
	if err := a.Resize(size); err != nil {
		return nil, err
	}
	return a, nil
}

// Bytes returns the whole region. It returns nil after Close.
func (a *Anon) Bytes() []byte { return a.b }

// Resize grows or shrinks the region to size bytes, keeping the common
// prefix; new bytes are zero. It returns ErrClosed after Close and the
// system's error if the memory cannot be mapped, and the region is then
// unchanged.
func (a *Anon) Resize(size int) error {
	switch {
	case a.closed:
		return fmt.Errorf("memvec: resize anonymous memory: %w", ErrClosed)
	case size < 0:
		return fmt.Errorf("memvec: resize anonymous memory to negative size %d", size)
	}
	if m := roundUp(size, pageSize); m != a.mapped {
		p, err := anonRemap(unsafe.SliceData(a.b), a.mapped, m)
		if err != nil {
			return fmt.Errorf("memvec: resize anonymous memory from %d to %d bytes: %w", a.mapped, m, err)
		}
		a.b, a.mapped = unsafe.Slice(p, m), m
	}
	if size < len(a.b) {
		clear(a.b[size:]) // the rest of the last page: zero again if it grows
	}
	a.b = a.b[:size]
	if size == 0 {
		a.b = nil
	}
	return nil
}

// Sync does nothing: anonymous memory has nowhere to be made durable. It
// returns ErrClosed after Close.
func (a *Anon) Sync() error {
	if a.closed {
		return fmt.Errorf("memvec: sync anonymous memory: %w", ErrClosed)
	}
	return nil
}

// Close unmaps the memory. Every slice of it becomes invalid. A second Close
// returns nil.
func (a *Anon) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	_, err := anonRemap(unsafe.SliceData(a.b), a.mapped, 0)
	a.b, a.mapped = nil, 0
	if err != nil {
		return fmt.Errorf("memvec: unmap anonymous memory: %w", err)
	}
	return nil
}
