//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileHandle is the open file behind a File.
type fileHandle = *os.File

// openFile opens, locks and maps the file at path.
func openFile(path string, o options) (_ *File, err error) {
	flag := os.O_RDWR | os.O_CREATE
	if o.readOnly {
		flag = os.O_RDONLY
	}
	osf, err := os.OpenFile(path, flag, o.mode)
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err) // *PathError: op, path and errno
	}
	// Closing the file releases the lock too: every error below closes it.
	defer func() {
		if err != nil {
			osf.Close()
		}
	}()
	if err := lockFile(osf, o.readOnly, o.lockTimeout); err != nil {
		return nil, fmt.Errorf("memvec: lock %s: %w", path, err)
	}
	fi, err := osf.Stat()
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("memvec: open %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("memvec: open %s: %d bytes do not fit in this platform's address space", path, size)
	}
	// An empty file may be new: its directory entry becomes durable with
	// the first Sync.
	f := &File{osFile: osf, path: path, readOnly: o.readOnly, dirSync: size == 0}
	if size > 0 && !o.readOnly {
		if err := backHoles(osf, size); err != nil {
			return nil, fmt.Errorf("memvec: open %s: reserve disk blocks: %w", path, err)
		}
	}
	if err := f.remap(int(size)); err != nil {
		return nil, fmt.Errorf("memvec: map %s: %w", path, err)
	}
	return f, nil
}

// prot returns the protection of the file's mapping.
func (f *File) prot() int {
	if f.readOnly {
		return unix.PROT_READ
	}
	return unix.PROT_READ | unix.PROT_WRITE
}

// resize changes the file's size and mapping. Growth reserves the blocks
// (which also extends the file) before the mapping covers them; shrinking
// unmaps the tail before truncating, so no mapped page is ever past the end
// of the file. On failure both are as they were.
func (f *File) resize(size int) error {
	old := len(f.b)
	if size < old {
		if err := f.remap(size); err != nil {
			return err
		}
		if err := f.osFile.Truncate(int64(size)); err != nil {
			return errors.Join(err, f.remap(old)) // the file is still old bytes long
		}
		return nil
	}
	if err := reserveBlocks(f.osFile, int64(old), int64(size-old)); err != nil {
		// The reservation may have extended the file part of the way.
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	if err := f.remap(size); err != nil {
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	return nil
}

// remap makes the mapping cover size bytes of the file.
func (f *File) remap(size int) error {
	m := roundUp(size, pageSize)
	if m != f.mapped {
		p, err := fileRemap(f.osFile, unsafe.SliceData(f.b), f.mapped, m, f.prot())
		if err != nil {
			return err
		}
		f.b, f.mapped = unsafe.Slice(p, m), m
	}
	f.b = f.b[:size]
	if size == 0 {
		f.b = nil
	}
	return nil
}

// sync flushes the mapping and, after a size change, the file's metadata.
func (f *File) sync() error {
	if f.mapped > 0 {
		if err := unix.Msync(unsafe.Slice(unsafe.SliceData(f.b), f.mapped), unix.MS_SYNC); err != nil {
			return err
		}
	}
	if f.sizeChanged {
		if err := f.osFile.Sync(); err != nil {
			return err
		}
		f.sizeChanged = false
	}
	if f.dirSync {
		// A new file survives a power loss only once the directory that
		// names it does.
		dir, err := os.Open(filepath.Dir(f.path))
		if err != nil {
			return err
		}
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return err
		}
		f.dirSync = false
	}
	return nil
}

// close unmaps the file and closes it, which releases the lock.
func (f *File) close() error {
	var err error
	if f.mapped > 0 {
		err = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(f.b)), uintptr(f.mapped))
	}
	return errors.Join(err, f.osFile.Close())
}

// mapFile maps size bytes (a page multiple) of the file shared.
func mapFile(osf *os.File, size int, prot int) (*byte, error) {
	p, err := unix.MmapPtr(int(osf.Fd()), 0, nil, uintptr(size), prot, unix.MAP_SHARED)
	return (*byte)(p), err
}
