//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package region

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
)

// fileHandle is the open file behind a File; none is ever opened here.
type fileHandle = *os.File

// fileOS is empty: there are no files here.
type fileOS struct{}

// openFile fails: file-backed vectors need a mapping and lock backend for
// this platform (AIX, Plan 9, WebAssembly), which does not exist yet.
func openFile(path string, o Options) (*File, error) {
	return nil, fmt.Errorf("memvec: open %s: file-backed vectors are not supported on %s yet: %w", path, runtime.GOOS, errors.ErrUnsupported)
}

// createUnnamed fails: there are no files here.
func createUnnamed(dir, name string, o Options) (*File, error) {
	return nil, fmt.Errorf("file-backed regions are not supported on %s yet: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (f *File) resize(size int) error { return errors.ErrUnsupported }
func (f *File) sync(int) error        { return errors.ErrUnsupported }
func (f *File) syncFirstPage() error  { return errors.ErrUnsupported }
func (f *File) close() error          { return nil }
func (f *File) discard() error        { return f.Close() }

func (f *File) diskSize() (int64, error)    { return 0, errors.ErrUnsupported }
func (f *File) fileChange() (string, error) { return "", nil }
func (f *File) currentSize() (int64, error) { return 0, errors.ErrUnsupported }

func (f *File) followTo(size int) error         { return errors.ErrUnsupported }
func (f *File) wakeWord(off int) *atomic.Uint32 { return nil }

// SyncDirectory does nothing: there are no files here.
func SyncDirectory(dir string) error { return nil }

func (f *File) growShared(size int) error { return errors.ErrUnsupported }
func (f *File) readyShared(off int) error { return errors.ErrUnsupported }
