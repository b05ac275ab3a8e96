package memvec

import (
	"fmt"

	"github.com/memvec/memvec/internal/region"
)

// scratchFile is the Memory of Make and MakeBytes with TempDir: a file
// that no name reaches (region.CreateUnnamed), mapped shared and grown as
// a File is, with its disk blocks reserved first, but with nothing of a
// File's durability: no lock, no header made durable, no Sync. Nobody can
// open it again, so nobody could read what durability would keep, and the
// vector treats it as it treats Anon (not persistent).
type scratchFile struct {
	r     *region.File
	touch region.Pretoucher // faults pages in ahead of the pushes, as for a File
}

// newScratchFile creates the unnamed file of a TempDir region in o's
// directory; name is what errors call it.
func newScratchFile(o options, name string) (*scratchFile, error) {
	r, err := region.CreateUnnamed(o.tempDir, name, o.region())
	if err != nil {
		return nil, err
	}
	return &scratchFile{r: r}, nil
}

// Bytes returns the mapped file; nil after Close.
func (s *scratchFile) Bytes() []byte { return s.r.Bytes() }

// Name returns what errors call the region: "unnamed file in <dir>".
func (s *scratchFile) Name() string { return s.r.Path() }

// Resize sets the file's size to size bytes and maps all of it, as a
// File's Resize does: growth reserves the disk blocks first, so that a
// full disk is an error wrapping ENOSPC here, never a SIGBUS in a later
// write, and leaves the file and its mapping unchanged. A change of the
// file by another program (only one that reaches it through
// /proc/<pid>/fd could) is an error wrapping ErrFileChanged, as for a
// File: growth would bring the bytes it cut back as zeros.
func (s *scratchFile) Resize(size int) error {
	switch {
	case s.r.Closed():
		return fmt.Errorf("memvec: resize %s: %w", s.r.Path(), ErrClosed)
	case size < 0:
		return fmt.Errorf("memvec: resize %s: negative size %d", s.r.Path(), size)
	case size == len(s.r.Bytes()) && size == s.r.Size():
		return nil
	}
	if err := s.r.CheckChange(); err != nil {
		return fmt.Errorf("memvec: resize %s: %w", s.r.Path(), err)
	}
	s.touch.Stop()
	if err := s.r.Resize(size); err != nil {
		return fmt.Errorf("memvec: resize %s: from %d to %d bytes: %w", s.r.Path(), len(s.r.Bytes()), size, err)
	}
	return nil
}

// Sync does nothing: no one can open the file again, so nothing needs to
// reach the disk. It returns ErrClosed after Close.
func (s *scratchFile) Sync() error {
	if s.r.Closed() {
		return fmt.Errorf("memvec: sync %s: %w", s.r.Path(), ErrClosed)
	}
	return nil
}

// Close unmaps the file and closes it, which gives its disk space back to
// the filesystem: the pages not yet written back are dropped, unwritten.
// A second Close returns nil.
func (s *scratchFile) Close() error {
	if s.r.Closed() {
		return nil
	}
	s.touch.Stop()
	if err := s.r.Close(); err != nil {
		return fmt.Errorf("memvec: close %s: %w", s.r.Path(), err)
	}
	return nil
}

// prefault faults in the pages of bytes [off, off+n) for writing, in bulk,
// ahead of the pushes (see File.prefault): their blocks are reserved.
func (s *scratchFile) prefault(off, n int) {
	if s.r.Base() != nil {
		s.touch.Prefault(s.r.Bytes(), off, n)
	}
}

// hint gives the hint h on b, a page-aligned part of the region, as for a
// File: the page cache keeps the data whatever the mapping drops, so
// DontNeed (MADV_PAGEOUT on Linux) writes the pages back to the file and
// frees them, as a vector larger than the memory needs.
func (s *scratchFile) hint(h region.Hint, b []byte) error {
	if s.r.Closed() {
		return ErrClosed
	}
	s.touch.Stop() // so that no page it drops is faulted in again behind it
	return s.r.Hint(h, b)
}

// What a vector asks of its Memory beyond the interface, a scratchFile has.
var (
	_ prefaulter  = (*scratchFile)(nil)
	_ hinter      = (*scratchFile)(nil)
	_ namedMemory = (*scratchFile)(nil)
)
