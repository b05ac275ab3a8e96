package region

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// errNoTmpfile says that openTmpfile cannot make an unnamed file here: the
// caller makes one by removing a new file's name (createRemoved).
var errNoTmpfile = errors.New("no O_TMPFILE")

// TryTmpfile is whether openTmpfile tries O_TMPFILE: a variable, so that a
// test can try the fallback on a filesystem that has it.
var TryTmpfile = true

// openTmpfile opens an unnamed file in dir with O_TMPFILE (Linux 3.11, on
// ext2/3/4, XFS, btrfs, tmpfs, F2FS and others), which never has a name:
// no moment exists at which another process could find it, or a crash
// leave it behind. O_EXCL keeps anyone from giving it one later (linkat
// through /proc/self/fd). A filesystem without it says EOPNOTSUPP, a
// kernel older than 3.11 EISDIR (it reads O_TMPFILE as O_DIRECTORY), and
// some EINVAL: then errNoTmpfile.
func openTmpfile(dir string) (int, error) {
	if !TryTmpfile {
		return -1, errNoTmpfile
	}
	for {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EINTR:
			continue
		case err == unix.EOPNOTSUPP, err == unix.EISDIR, err == unix.EINVAL:
			return -1, errNoTmpfile
		}
		return -1, &fs.PathError{Op: "create", Path: dir, Err: err}
	}
}
