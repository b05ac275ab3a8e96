package region

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserveBlocks allocates the disk blocks of bytes [off, off+n) of osf,
// extending the file if they lie past its end, so that writing them through
// the mapping can never fail for want of space: a full disk is ENOSPC here,
// not a SIGBUS later.
//
// macOS has no fallocate; fcntl(F_PREALLOCATE) allocates without writing,
// and ftruncate then extends the file over the blocks allocated.
// F_PREALLOCATE allocates only from the file's physical end
// (F_PEOFPOSMODE), never into holes, so the bytes before the end of the
// file are left as they are, as backHoles leaves them on this platform; past
// the end it covers the range, since the physical end is at or past the
// logical one. F_ALLOCATEALL makes it all or nothing: on a full disk
// nothing is allocated. Filesystems without it (FAT, network filesystems)
// get a zero byte written into every block instead.
func reserveBlocks(osf *os.File, off, n int64) error {
	fi, err := osf.Stat()
	if err != nil {
		return err
	}
	end := off + n
	if end <= fi.Size() {
		return nil
	}
	store := unix.Fstore_t{Flags: unix.F_ALLOCATEALL, Posmode: unix.F_PEOFPOSMODE, Length: end - fi.Size()}
	for {
		err = unix.FcntlFstore(osf.Fd(), unix.F_PREALLOCATE, &store)
		switch {
		case err == nil:
			return osf.Truncate(end)
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
			return writeBlocks(osf, off, n)
		}
		return err
	}
}

// ownBlocks would ready the file of a writer's open so that no write
// through the mapping needs a disk block the file does not have (see the
// Linux version). F_PREALLOCATE cannot fill holes, and writing every block
// would make opening cost a pass over the file, so here it does nothing: a
// file with holes (one copied sparse) can still fault on a full disk on
// macOS. So can a clone on APFS (what the Finder's copy and cp -c make),
// whose blocks are shared until written, and any file in a snapshot (Time
// Machine's local ones): macOS has no call that gives a file its own blocks
// without rewriting it.
func ownBlocks(osf *os.File, size int64) error {
	return nil
}
