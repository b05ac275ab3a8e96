//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileHandle is the open file behind a File.
type fileHandle = *os.File

// fileOS is what a File keeps on Unix only: the follower's wake word (a
// futex on Linux; elsewhere the word that tells a writer nobody sleeps) and
// the directory to sync.
type fileOS struct {
	wakePage *byte  // a follower's writable mapping of the header's first page, once Wait needs it
	writable bool   // a follower's descriptor is open for writing: it may map wakePage
	dirSync  bool   // the file may be new: Sync fsyncs its directory once
	advice   Advice // the Advise option, given to every mapping of the file
}

// openFile opens, locks and maps the file at path.
func openFile(path string, o options) (_ *File, err error) {
	flag := unix.O_RDWR | unix.O_CREAT
	switch {
	case o.readOnly:
		flag = unix.O_RDONLY
	case o.follow:
		// Never created. Writable if it may be, for the wake word only
		// (see File.wakeWord); a follower that may not write polls.
		flag = unix.O_RDWR
	case o.mustExist:
		flag = unix.O_RDWR
	case o.createNew:
		// The kernel checks and creates in one step: of opens that race,
		// one creates the file and the others get EEXIST.
		flag = unix.O_RDWR | unix.O_CREAT | unix.O_EXCL
	}
	osf, flag, fi, err := openLocked(path, flag, o)
	if err != nil {
		return nil, err
	}
	// Closing the file releases the lock too: every error below closes it.
	defer func() {
		if err != nil {
			osf.Close()
		}
	}()
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("memvec: open %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("memvec: open %s: %d bytes do not fit in this platform's address space", path, size)
	}
	// An empty file may be new (and one CreateNew made is): its directory
	// entry becomes durable with the first Sync, or the header's.
	f := &File{osFile: osf, path: path, readOnly: o.readOnly || o.follow, follow: o.follow, reserve: o.reserve,
		fileOS: fileOS{writable: o.follow && flag == unix.O_RDWR, dirSync: size == 0, advice: o.advice}}
	if size > 0 && !f.readOnly {
		back := size
		if o.headOnly {
			back = min(size, newRegionMax)
		}
		if err := backHoles(osf, back); err != nil {
			return nil, fmt.Errorf("memvec: open %s: reserve disk blocks: %w", path, err)
		}
	}
	if err := f.cover(int(size)); err != nil {
		return nil, fmt.Errorf("memvec: map %s: %w", path, err)
	}
	f.fileSize = int(size)
	f.setSize(int(size))
	return f, nil
}

// openLocked opens the file at path with flag and locks it: a follower
// takes the follower byte, anyone else the file's lock, waiting up to the
// LockTimeout. It returns the open file, the flag it was opened with (a
// follower that may not write opens it read-only) and its Stat.
//
// A lock taken is a lock on the file the descriptor names, which need not
// be the file the path names by then: while this open waited for the lock,
// its holder may have renamed another file over the path (Migrate does, and
// holds the old file's lock until the new one is in place). The lock of the
// old file, unlinked, would be worth nothing, and what this open wrote
// there nobody would ever see. So once locked, openLocked compares the
// path's file with the descriptor's (device and inode: see sameFile) and,
// if the path was replaced (or removed), closes the descriptor and opens
// the path again, within what is left of the LockTimeout. Opening again is
// not waiting, so a path replaced while a LockTimeout of zero tried once
// is opened again too, up to replacedRetries times: a path replaced more
// often than that during one open is being replaced in a loop, and the
// open fails with ErrLocked. A follower takes no lock that it waits for,
// and follows the file it opened.
func openLocked(path string, flag int, o options) (osf *os.File, _ int, fi os.FileInfo, err error) {
	start := time.Now()
	for replaced := 0; ; replaced++ {
		var fd int
		fd, flag, err = openDescriptor(path, flag, o.follow, o.mode)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("memvec: %w", &fs.PathError{Op: "open", Path: path, Err: err})
		}
		osf = os.NewFile(uintptr(fd), path)
		if o.follow {
			err = lockFollower(osf)
		} else {
			err = lockFile(osf, o.readOnly, o.lockTimeout-time.Since(start))
		}
		if err != nil {
			osf.Close()
			return nil, 0, nil, fmt.Errorf("memvec: lock %s: %w", path, err)
		}
		if fi, err = osf.Stat(); err != nil {
			osf.Close()
			return nil, 0, nil, fmt.Errorf("memvec: %w", err)
		}
		if o.follow {
			return osf, flag, fi, nil
		}
		same, err := sameFile(path, fi)
		if err != nil {
			osf.Close()
			return nil, 0, nil, fmt.Errorf("memvec: lock %s: %w", path, err)
		}
		if same {
			return osf, flag, fi, nil
		}
		osf.Close()
		if replaced >= replacedRetries && time.Since(start) >= o.lockTimeout {
			return nil, 0, nil, fmt.Errorf("memvec: lock %s: the path was replaced %d times while this open locked the file: %w", path, replaced+1, ErrLocked)
		}
	}
}

// replacedRetries is how many times an open tries again, past its
// LockTimeout, to lock a file whose path was replaced while it locked it
// (see openLocked).
const replacedRetries = 3

// openDescriptor opens path with flag, and returns the descriptor and the
// flag it used: a follower that may not write opens the file read-only.
//
// os.OpenFile would put a regular file in non-blocking mode, try to add it
// to the network poller, fail, and set it back: four fcntl calls and an
// epoll_ctl, a tenth of what an Open costs. os.NewFile of a blocking
// descriptor asks one fcntl and leaves the poller alone.
func openDescriptor(path string, flag int, follow bool, mode fs.FileMode) (int, int, error) {
	for {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, uint32(mode.Perm()))
		switch {
		case err == unix.EINTR:
			continue
		case follow && flag == unix.O_RDWR && (err == unix.EACCES || err == unix.EPERM || err == unix.EROFS):
			flag = unix.O_RDONLY
			continue
		}
		return fd, flag, err
	}
}

// prot returns the protection of the file's mapping.
func (f *File) prot() int {
	if f.readOnly {
		return unix.PROT_READ
	}
	return unix.PROT_READ | unix.PROT_WRITE
}

// resize changes the region's size. Growth reserves the blocks (which also
// extends the file) and only then, if the file outgrows its mapping, maps
// it anew; shrinking only truncates, and not while followers are attached
// (see Resize): the pages past the new end stay mapped but are never
// handed out. On failure both are as they were.
func (f *File) resize(size int) error {
	if size <= f.fileSize {
		// Shrinking, or growing back into bytes a shrink kept.
		if size < f.fileSize {
			followed, err := followersAttached(f.osFile)
			if err != nil {
				return err
			}
			if !followed {
				if err := f.osFile.Truncate(int64(size)); err != nil {
					return err
				}
				f.fileSize = size
			}
		}
		f.setSize(size)
		return nil
	}
	old := f.fileSize
	if err := reserveBlocks(f.osFile, int64(old), int64(size-old)); err != nil {
		// The reservation may have extended the file part of the way.
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	if err := f.cover(size); err != nil {
		return errors.Join(err, f.osFile.Truncate(int64(old)))
	}
	f.fileSize = size
	f.setSize(size)
	return nil
}

// followTo makes a follower's region cover at least size bytes: the file's
// size, read again if size is past the region (the writer grows the file
// before its length counts the new elements), mapped anew if the file
// outgrew the mapping's reservation. It returns an error wrapping
// ErrCorrupt if the file is smaller than size.
func (f *File) followTo(size int) error {
	if f.closed {
		return ErrClosed
	}
	if size <= len(f.b) && size > 0 {
		return nil
	}
	have, err := followedSize(f.osFile, size)
	if err != nil {
		return err
	}
	if err := f.cover(have); err != nil {
		return err
	}
	f.fileSize = have
	f.setSize(have)
	return nil
}

// wakeWord returns the header's wake word in a writable mapping of the
// file's first page, made the first time, or nil if the follower's
// descriptor is read-only or the mapping fails: Wait then polls. The data
// stay mapped read-only, so a write through a follower's view still
// faults.
func (f *File) wakeWord() *atomic.Uint32 {
	if f.wakePage == nil && f.writable && len(f.b) >= headerSize {
		p, err := unix.MmapPtr(int(f.osFile.Fd()), 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			f.writable = false
			return nil
		}
		f.wakePage = (*byte)(p)
	}
	if f.wakePage == nil {
		return nil
	}
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(f.wakePage), offWake))
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
	if !f.readOnly || f.follow {
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
	if f.advice != AdviseNormal {
		// The advice covers the reservation the file grows into, so it
		// is kept across growth; a mapping made anew needs it again.
		adviseRegion(unsafe.Slice(p, r), f.advice)
	}
	retire(f.base, f.mapped)
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
	return f.syncDir()
}

// syncDir fsyncs the directory of a file that may be new, once: a new file
// survives a power loss only once the directory that names it does.
func (f *File) syncDir() error {
	if !f.dirSync {
		return nil
	}
	if err := syncDirectory(filepath.Dir(f.path)); err != nil {
		return err
	}
	f.dirSync = false
	return nil
}

// syncDirectory fsyncs the directory dir: what makes the names in it, new
// or renamed, survive a power loss.
func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// syncHeader makes the file's first page, which holds the header, durable
// alone: msync of that page, and on macOS the fsync that msync needs there
// (see msyncReachesDisk). The vector calls it to raise or lower the durable
// length (durable.go).
func (f *File) syncHeader() error {
	if f.closed || f.readOnly || len(f.b) == 0 {
		return nil
	}
	if err := unix.Msync(unsafe.Slice(f.base, pageSize), unix.MS_SYNC); err != nil {
		return fmt.Errorf("memvec: sync %s: %w", f.path, err)
	}
	if !msyncReachesDisk {
		if err := f.osFile.Sync(); err != nil {
			return fmt.Errorf("memvec: sync %s: %w", f.path, err)
		}
	}
	// A vector creates its header with this: its name must last too.
	if err := f.syncDir(); err != nil {
		return fmt.Errorf("memvec: sync %s: %w", f.path, err)
	}
	return nil
}

// diskSize returns the bytes of disk the file occupies: st_blocks counts
// 512-byte units on every Unix, whatever the file system's block size.
func (f *File) diskSize() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.osFile.Fd()), &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return int64(st.Blocks) * 512, nil
}

// close unmaps the file and closes it, which releases the lock.
func (f *File) close() error {
	var err error
	if f.wakePage != nil {
		err = releaseAddressSpace(f.wakePage, pageSize)
		f.wakePage = nil
	}
	return errors.Join(err, retire(f.base, f.mapped), f.osFile.Close())
}

// mapFile maps size bytes (a page multiple) of the file shared. The mapping
// may reach past the end of the file: POSIX allows it, and only touching
// those pages faults, which the File never lets happen.
func mapFile(osf *os.File, size int, prot int) (*byte, error) {
	p, err := unix.MmapPtr(int(osf.Fd()), 0, nil, uintptr(size), prot, unix.MAP_SHARED)
	return (*byte)(p), err
}
