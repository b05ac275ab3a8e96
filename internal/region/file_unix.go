//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

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

	"github.com/memvec/memvec/internal/errs"
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
	headSize int    // Options.HeadSize: a follower maps its wake word once the file has that much
	synced   bool   // a Sync has run: no more 2 MiB pages (see adviseHugePages)
	// absPath is a writer's path made absolute at the open, or "" if the
	// working directory could not be had: where fileChange looks for the
	// file, wherever the program's working directory is by then.
	absPath string
}

// openFile opens, locks and maps the file at path.
func openFile(path string, o Options) (_ *File, err error) {
	flag := unix.O_RDWR | unix.O_CREAT
	switch {
	case o.ReadOnly:
		flag = unix.O_RDONLY
	case o.Follow:
		// Never created. Writable if it may be, for the wake word only
		// (see File.wakeWord); a follower that may not write polls.
		flag = unix.O_RDWR
	case o.MustExist:
		flag = unix.O_RDWR
	case o.CreateNew:
		// The kernel checks and creates in one step: of opens that race,
		// one creates the file and the others get EEXIST.
		flag = unix.O_RDWR | unix.O_CREAT | unix.O_EXCL
	}
	osf, flag, created, fi, sharedID, err := openLocked(path, flag, o)
	if err != nil {
		return nil, err
	}
	// An empty file may be new (and one CreateNew made is): its directory
	// entry becomes durable with the first Sync, or the header's.
	f := &File{osFile: osf, path: path, readOnly: o.ReadOnly || o.Follow, follow: o.Follow, reserve: o.Reserve, created: created, sharedID: sharedID,
		fileOS: fileOS{writable: o.Follow && flag == unix.O_RDWR, dirSync: fi.Size() == 0, advice: o.Advice, headSize: o.HeadSize}}
	// Closing the file releases the lock too: every error below closes
	// it, and removes the file if this open created it.
	defer func() {
		if err != nil {
			f.discard()
		}
	}()
	size := fi.Size()
	if size > math.MaxInt {
		return nil, fmt.Errorf("memvec: open %s: %d bytes do not fit in this platform's address space", path, size)
	}
	if !f.readOnly {
		f.absPath = absolutePath(path)
		own := size
		if o.HeadOnly {
			own = min(size, int64(o.HeadOnlyBlocks))
		}
		if err := ownBlocks(osf, own); err != nil {
			return nil, fmt.Errorf("memvec: open %s: reserve disk blocks: %w", path, err)
		}
	}
	cacheHeader(osf, min(size, int64(o.HeadSize)))
	if err := f.cover(int(size)); err != nil {
		return nil, fmt.Errorf("memvec: map %s: %w", path, err)
	}
	f.fileSize = int(size)
	f.setSize(int(size))
	return f, nil
}

// cacheHeader reads the file's first bytes with read(2), before anything
// touches the mapping, so that the page cache holds the header when the
// vector reads it there. A fault on a page of a file mapping that is not in
// the cache reads the disk's whole read-ahead window around it (Linux's
// mmap read-around: 8 MiB on a disk whose read_ahead_kb is 8192), so a
// cold Open that read its header through the mapping read megabytes it
// did not need; read(2)'s read-ahead starts at a few pages and grows only
// with sequential reads. The data's read-ahead stays the kernel's, by the
// access pattern and the Advise given. Errors are ignored: this only fills
// the cache, and a failure shows where the mapping is read.
func cacheHeader(osf *os.File, size int64) {
	if size == 0 {
		return
	}
	var b [512]byte // at least any header's size: no allocation
	unix.Pread(int(osf.Fd()), b[:min(size, int64(len(b)))], 0)
}

// openLocked opens the file at path with flag and locks it: a follower
// takes the follower byte, anyone else the file's lock, waiting up to the
// LockTimeout. It returns the open file, the flag it was opened with (a
// follower that may not write opens it read-only), whether the open
// created the file (see openDescriptor) and its Stat.
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
// open fails with errs.ErrLocked. A follower takes no lock that it waits for,
// and follows the file it opened.
//
// A file this open created and then failed to lock, or to Stat, is left
// where it is: another handle that opened it in between may hold it (and
// has the lock: the only way a new file's lock is not free).
func openLocked(path string, flag int, o Options) (osf *os.File, _ int, created bool, fi os.FileInfo, sharedID int, err error) {
	start := time.Now()
	for replaced := 0; ; replaced++ {
		var fd int
		fd, flag, created, err = openDescriptor(path, flag, o.Follow, o.Mode)
		if err != nil {
			return nil, 0, false, nil, 0, fmt.Errorf("memvec: %w", &fs.PathError{Op: "open", Path: path, Err: err})
		}
		osf = os.NewFile(uintptr(fd), path)
		if o.Follow {
			err = lockFollower(osf)
		} else {
			err = lockFile(osf, o.ReadOnly || o.Shared, o.LockTimeout-time.Since(start))
			if err == nil {
				sharedID, err = lockClass(osf, o, o.LockTimeout-time.Since(start))
			}
			if err == nil && !o.ReadOnly {
				markWriter(osf, o.Shared) // for File.HasWriter of the followers
			}
		}
		if err != nil {
			osf.Close()
			return nil, 0, false, nil, 0, fmt.Errorf("memvec: lock %s: %w", path, err)
		}
		if fi, err = osf.Stat(); err != nil {
			osf.Close()
			return nil, 0, false, nil, 0, fmt.Errorf("memvec: %w", err)
		}
		if o.Follow {
			return osf, flag, created, fi, sharedID, nil
		}
		same, err := sameFile(path, fi)
		if err != nil {
			osf.Close()
			return nil, 0, false, nil, 0, fmt.Errorf("memvec: lock %s: %w", path, err)
		}
		if same {
			return osf, flag, created, fi, sharedID, nil
		}
		osf.Close()
		if replaced >= replacedRetries && time.Since(start) >= o.LockTimeout {
			return nil, 0, false, nil, 0, fmt.Errorf("memvec: lock %s: the path was replaced %d times while this open locked the file: %w", path, replaced+1, errs.ErrLocked)
		}
	}
}

// replacedRetries is how many times an open tries again, past its
// LockTimeout, to lock a file whose path was replaced while it locked it
// (see openLocked).
const replacedRetries = 3

// openDescriptor opens path with flag, and returns the descriptor, the
// flag it used (a follower that may not write opens the file read-only)
// and whether this open created the file.
//
// It never waits. open(2) of a named pipe for reading waits for a writer,
// which may never come, and opens of some devices wait too: so the file is
// opened with O_NONBLOCK, which makes those return at once, and its type
// checked (see regularFile) before anything else is done with it. For a
// regular file O_NONBLOCK would change nothing, but it is cleared all the
// same: os.NewFile would take a non-blocking descriptor for one to poll
// (see below).
//
// An open that may create the file (O_CREAT without O_EXCL) opens it
// without O_CREAT first and creates it, if missing, with O_EXCL, so that
// it knows whether it created the file: only a file this open created may
// be removed when what follows fails (see File.discard). If another open
// creates the file in between (O_EXCL then fails with EEXIST), it opens
// or creates it as O_CREAT does, and counts it as not created; so does a
// dangling symbolic link, which O_CREAT follows and O_EXCL refuses.
//
// os.OpenFile would put a regular file in non-blocking mode, try to add it
// to the network poller, fail, and set it back: four fcntl calls and an
// epoll_ctl, a tenth of what an Open costs. os.NewFile of a blocking
// descriptor asks one fcntl and leaves the poller alone.
func openDescriptor(path string, flag int, follow bool, mode fs.FileMode) (fd, used int, created bool, err error) {
	used = flag
	try := flag
	openOrCreate := flag&unix.O_CREAT != 0 && flag&unix.O_EXCL == 0
	if openOrCreate {
		try &^= unix.O_CREAT
	}
	for {
		fd, err = unix.Open(path, try|unix.O_NONBLOCK|unix.O_CLOEXEC, uint32(mode.Perm()))
		switch {
		case err == unix.EINTR:
			continue
		case follow && used == unix.O_RDWR && (err == unix.EACCES || err == unix.EPERM || err == unix.EROFS):
			used, try = unix.O_RDONLY, unix.O_RDONLY
			continue
		case openOrCreate && err == unix.ENOENT && try&unix.O_CREAT == 0:
			try |= unix.O_CREAT | unix.O_EXCL
			continue
		case openOrCreate && err == unix.EEXIST:
			try &^= unix.O_EXCL
			continue
		}
		break
	}
	if err != nil {
		return -1, used, false, err
	}
	if err := regularFile(fd); err != nil {
		unix.Close(fd)
		return -1, used, false, err
	}
	// F_SETFL sets the status flags: of those, the descriptor has
	// O_NONBLOCK alone, which this clears.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		unix.Close(fd)
		return -1, used, false, os.NewSyscallError("fcntl", err)
	}
	return fd, used, try&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL, nil
}

// regularFile returns nil if the descriptor fd names a regular file, and
// otherwise the error notRegular gives for its type.
func regularFile(fd int) error {
	var st unix.Stat_t
	for {
		err := unix.Fstat(fd, &st)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("fstat", err)
		}
		break
	}
	// The type bits of fs.FileMode, as os.Stat makes them.
	typ := fs.FileMode(0)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFDIR:
		typ = fs.ModeDir
	case unix.S_IFIFO:
		typ = fs.ModeNamedPipe
	case unix.S_IFCHR:
		typ = fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		typ = fs.ModeDevice
	case unix.S_IFSOCK:
		typ = fs.ModeSocket
	default:
		typ = fs.ModeIrregular
	}
	return NotRegular(typ)
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
		return errs.ErrClosed
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
func (f *File) wakeWord(off int) *atomic.Uint32 {
	if f.wakePage == nil && f.writable && len(f.b) >= f.headSize {
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
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(f.wakePage), off))
}

// cover makes sure the mapping covers size bytes. A writable file is mapped
// with its reservation, so that it grows into the mapping it has; when it
// outgrows it, the file is mapped anew at twice the size (or just size, if
// the system refuses the address space, or after the quarantine has given
// its ranges back: see withAddressSpace) and the old mapping goes, to the
// quarantine: the only time a File's region moves. The new mapping is made
// before the old one goes, and nothing is ever mapped over a range that is
// not the File's. A read-only file is mapped at its size.
func (f *File) cover(size int) error {
	need := roundUp(size, pageSize)
	if need <= f.mapped {
		return nil
	}
	var p *byte
	var r int
	err := withAddressSpace(func() (err error) {
		r = need
		if !f.readOnly || f.follow {
			r = reservationSize(need, f.reserve, f.mapped)
		}
		p, err = mapFile(f.osFile, r, f.prot())
		if err != nil && r > need {
			r = need
			p, err = mapFile(f.osFile, r, f.prot())
		}
		return err
	})
	if err != nil {
		return err
	}
	if f.advice != AdviseNormal {
		// The advice covers the reservation the file grows into, so it
		// is kept across growth; a mapping made anew needs it again.
		adviseRegion(unsafe.Slice(p, r), f.advice)
	}
	if f.hugePages() {
		adviseHugePages(unsafe.Slice(p, r), true)
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

// sync flushes the mapping's first n bytes (in whole pages) and, after a
// size change or where msync alone is not durable (macOS: see
// msyncReachesDisk), fsyncs the file.
func (f *File) sync(n int) error {
	if f.hugePages() {
		adviseHugePages(unsafe.Slice(f.base, f.mapped), false)
	}
	f.synced = true
	if n = min(n, len(f.b)); n > 0 {
		if err := unix.Msync(unsafe.Slice(f.base, roundUp(n, pageSize)), unix.MS_SYNC); err != nil {
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

// hugePages reports whether the file's mapping has the 2 MiB pages advice:
// a writer's, until its first Sync, unless it has AdviseRandom (see
// adviseHugePages).
func (f *File) hugePages() bool {
	return !f.readOnly && !f.synced && f.advice != AdviseRandom
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
//
// A directory that the caller may not open (EACCES: one it may write and
// enter but not read, such as a 0733 directory of another user) cannot be
// synced, and that is not an error: the names in it reach the disk when the
// system writes the directory back, as they would without the sync, and
// what the caller made there is kept whole until then. Failing instead
// would refuse every vector in such a directory, where the caller may
// create and rename files but memvec could never sync one. PostgreSQL does
// the same (fsync_fname_ext ignores EACCES from opening a directory to
// fsync it). A directory that opens but whose fsync fails is an error: the
// names may not have been written. O_DIRECTORY makes the open fail, rather
// than wait, if dir is not a directory (see openDescriptor).
func syncDirectory(dir string) error {
	var fd int
	var err error
	for {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.EACCES:
		return nil
	case err != nil:
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	// os.File's Sync is F_FULLFSYNC on macOS, as for the vector's file.
	d := os.NewFile(uintptr(fd), dir)
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// discard closes a file whose vector could not be created or opened, and
// first, if this handle's open created the file (see openDescriptor),
// removes it: nothing is left of an open that failed, and an open with
// CreateNew may try again. It removes the path only if it still names the
// file this handle has open (device and inode), never a file renamed over
// it since, and it does so before closing, under the lock, so that an
// open waiting for the lock finds the path gone and opens it anew (see
// openLocked). Nothing else is synced: the name was never made durable
// either, or if it was (the directory's sync succeeded and a later step
// failed), a power loss may bring back the empty file, which opens as a
// new vector.
func (f *File) discard() error {
	if f.closed {
		return nil
	}
	// The open failed: whatever the path names now, or whether it names
	// anything (this call removes it), is no change to report at Close.
	f.pathReplaced = true
	var err error
	if f.created {
		var have os.FileInfo
		if have, err = f.osFile.Stat(); err == nil {
			err = removeIfSame(f.path, have)
		}
	}
	return errors.Join(err, f.Close())
}

// syncFirstPage makes the file's first page durable (see syncHeader):
// msync of that page, and on macOS the fsync that msync needs there (see
// msyncReachesDisk).
func (f *File) syncFirstPage() error {
	if err := unix.Msync(unsafe.Slice(f.base, pageSize), unix.MS_SYNC); err != nil {
		return err
	}
	if !msyncReachesDisk {
		if err := f.osFile.Sync(); err != nil {
			return err
		}
	}
	// A vector creates its header with this: its name must last too.
	return f.syncDir()
}

// absolutePath returns path, relative to the working directory, as an
// absolute path that leads where path leads now, or "" if the working
// directory cannot be had. It is not cleaned: ".." after a symbolic link
// in path goes where the kernel takes it, which is not where a lexical
// clean would.
func absolutePath(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	wd, err := unix.Getwd()
	if err != nil {
		return ""
	}
	return wd + "/" + path
}

// fileChange says how another program has changed the file under this
// writer, or returns "" if it has not: the file is shorter than the size
// this handle gave it (fstat), or the path (made absolute at the open)
// names no file or another one (stat, compared by device and inode). A
// file moved by Migrate, which renames the new vector over the path on
// purpose, is not compared with its path. A path that cannot be looked up
// for another reason (a directory made unreadable) is not taken for a
// change; a file with no link left is, wherever its path leads.
func (f *File) fileChange() (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.osFile.Fd()), &st); err != nil {
		return "", os.NewSyscallError("fstat", err)
	}
	if st.Size < int64(f.fileSize) {
		return f.cutError(st.Size), nil
	}
	if f.pathReplaced || f.absPath == "" {
		return "", nil
	}
	var named unix.Stat_t
	err := unix.Stat(f.absPath, &named)
	for err == unix.EINTR {
		err = unix.Stat(f.absPath, &named)
	}
	switch {
	case err == nil && (named.Dev != st.Dev || named.Ino != st.Ino):
		return "another file was put at the file's path by another program", nil
	case err == nil:
		return "", nil
	case err == unix.ENOENT || err == unix.ENOTDIR || st.Nlink == 0:
		return "the file was removed or renamed by another program", nil
	}
	return "", nil
}

// currentSize returns the file's size, as the system has it now.
func (f *File) currentSize() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.osFile.Fd()), &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return st.Size, nil
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

// close unmaps the file, cuts it to the size trimAtClose set (see trim)
// and closes it, which releases the lock.
func (f *File) close() error {
	var err error
	if f.wakePage != nil {
		err = releaseAddressSpace(f.wakePage, pageSize)
		f.wakePage = nil
	}
	err = errors.Join(err, retire(f.base, f.mapped))
	f.trim()
	return errors.Join(err, f.osFile.Close())
}

// mapFile maps size bytes (a page multiple) of the file shared. The mapping
// may reach past the end of the file: POSIX allows it, and only touching
// those pages faults, which the File never lets happen.
func mapFile(osf *os.File, size int, prot int) (*byte, error) {
	p, err := unix.MmapPtr(int(osf.Fd()), 0, nil, uintptr(size), prot, unix.MAP_SHARED)
	return (*byte)(p), err
}

// PollOnly makes a follower poll in Wait, as one whose file it may not
// write does: tests use it to run a follower that cannot sleep on the wake
// word.
func (f *File) PollOnly() { f.writable = false }

// SyncDirectory makes the names in the directory dir, new or renamed,
// durable (see syncDirectory): for a container that creates a directory of
// files of its own, and the files in it.
func SyncDirectory(dir string) error { return syncDirectory(dir) }

// growShared makes a Shared writer's region cover the file's size, or
// size bytes if the file is smaller: growth to size reserves the blocks
// from the file's end, as resize does, but never cuts the file back, not
// even when it fails, since other Shared writers map it and may have grown
// it meanwhile.
func (f *File) growShared(size int) error {
	have, err := f.currentSize()
	if err != nil {
		return err
	}
	if have < int64(size) {
		if err := reserveBlocks(f.osFile, have, int64(size)-have); err != nil {
			return err
		}
		have = int64(size)
	}
	if have > math.MaxInt {
		return fmt.Errorf("%d bytes do not fit in this platform's address space", have)
	}
	if err := f.cover(int(have)); err != nil {
		return err
	}
	f.fileSize = int(have)
	f.setSize(int(have))
	f.sizeChanged = true
	return nil
}

// readyShared readies the disk blocks of the file's bytes from off to the
// end of the region (see reserveBlocks): a Shared writer that died while it
// grew the file may have left it longer with no blocks under its end.
func (f *File) readyShared(off int) error {
	if off >= len(f.b) {
		return nil
	}
	return reserveBlocks(f.osFile, int64(off), int64(len(f.b)-off))
}
