//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"errors"
	"fmt"
	"io/fs"
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
	flag := unix.O_RDWR | unix.O_CREAT
	if o.readOnly {
		flag = unix.O_RDONLY
	}
	// os.OpenFile would put a regular file in non-blocking mode, try to add
	// it to the network poller, fail, and set it back: four fcntl calls and
	// an epoll_ctl, a tenth of what an Open costs. os.NewFile of a blocking
	// descriptor asks one fcntl and leaves the poller alone.
	var fd int
	for {
		fd, err = unix.Open(path, flag|unix.O_CLOEXEC, uint32(o.mode.Perm()))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("memvec: %w", &fs.PathError{Op: "open", Path: path, Err: err})
	}
	osf := os.NewFile(uintptr(fd), path)
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
	f := &File{osFile: osf, path: path, readOnly: o.readOnly, reserve: o.reserve, dirSync: size == 0}
	if size > 0 && !o.readOnly {
		if err := backHoles(osf, size); err != nil {
			return nil, fmt.Errorf("memvec: open %s: reserve disk blocks: %w", path, err)
		}
	}
	if err := f.cover(int(size)); err != nil {
		return nil, fmt.Errorf("memvec: map %s: %w", path, err)
	}
	f.setSize(int(size))
	return f, nil
}

// prot returns the protection of the file's mapping.
func (f *File) prot() int {
	if f.readOnly {
		return unix.PROT_READ
	}
	return unix.PROT_READ | unix.PROT_WRITE
}

// resize changes the file's size. Growth reserves the blocks (which also
// extends the file) and only then, if the file outgrows its mapping, maps
// it anew; shrinking only truncates: the pages past the new end stay
// mapped but are never handed out. On failure both are as they were.
func (f *File) resize(size int) error {
	old := len(f.b)
	if size < old {
		if err := f.osFile.Truncate(int64(size)); err != nil {
			return err
		}
		f.setSize(size)
		return nil
	}
	if err := reserveBlocks(f.osFile, int64(old), int64(size-old)); err != nil {
		// The reservation may have extended the file part of the way.
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	if err := f.cover(size); err != nil {
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	f.setSize(size)
	return nil
}

// cover makes sure the mapping covers size bytes. A writable file is mapped
// with its reservation, so that it grows into the mapping it has; when it
// outgrows it, the file is mapped anew at twice the size (or just size, if
// the system refuses the address space) and the old mapping goes: the only
// time a File's region moves. A read-only file is mapped at its size.
func (f *File) cover(size int) error {
	need := roundUp(size, pageSize)
	if need <= f.mapped {
		return nil
	}
	r := need
	if !f.readOnly {
		r = reservationSize(need, f.reserve, f.mapped)
	}
	p, err := mapFile(f.osFile, r, f.prot())
	if err != nil && r > need {
		r = need
		p, err = mapFile(f.osFile, r, f.prot())
	}
	if err != nil {
		return err
	}
	releaseAddressSpace(f.base, f.mapped)
	f.base, f.mapped = p, r
	return nil
}

// setSize makes Bytes the first size bytes of the mapping.
func (f *File) setSize(size int) {
	f.b = unsafe.Slice(f.base, f.mapped)[:size:size]
	if size == 0 {
		f.b = nil
	}
}

// sync flushes the mapping and, after a size change or where msync alone
// is not durable (macOS: see msyncReachesDisk), fsyncs the file.
func (f *File) sync() error {
	if len(f.b) > 0 {
		if err := unix.Msync(unsafe.Slice(f.base, roundUp(len(f.b), pageSize)), unix.MS_SYNC); err != nil {
			return err
		}
	}
	if f.sizeChanged || !msyncReachesDisk {
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
	return errors.Join(releaseAddressSpace(f.base, f.mapped), f.osFile.Close())
}

// mapFile maps size bytes (a page multiple) of the file shared. The mapping
// may reach past the end of the file: POSIX allows it, and only touching
// those pages faults, which the File never lets happen.
func mapFile(osf *os.File, size int, prot int) (*byte, error) {
	p, err := unix.MmapPtr(int(osf.Fd()), 0, nil, uintptr(size), prot, unix.MAP_SHARED)
	return (*byte)(p), err
}
