//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createUnnamed creates the file of CreateUnnamed in dir: an O_TMPFILE
// where the system and the filesystem have it (openTmpfile), and otherwise
// a file with a random name, removed at once (createRemoved). A new, empty
// file on btrfs gets the no-copy-on-write attribute, as a vector file does
// (see ownBlocks), so that the blocks growth reserves are the ones the
// writes go to.
func createUnnamed(dir, name string, o Options) (*File, error) {
	fd, err := openTmpfile(dir)
	if err == errNoTmpfile {
		fd, err = createRemoved(dir)
	}
	if err != nil {
		return nil, err
	}
	osf := os.NewFile(uintptr(fd), name)
	if err := ownBlocks(osf, 0); err != nil {
		osf.Close()
		return nil, err
	}
	return &File{osFile: osf, path: name, reserve: o.Reserve, unnamed: true, pathReplaced: true,
		fileOS: fileOS{advice: o.Advice, headSize: o.HeadSize}}, nil
}

// createRemoved creates a file with a random name in dir, readable and
// writable by its owner alone, and removes its name at once: the file
// lives on, reached by the descriptor alone, until the descriptor is
// closed. O_EXCL makes the name this call's (a name that exists is tried
// again with another), and O_NOFOLLOW keeps a symbolic link planted at the
// name from being followed. Between the creation and the removal, a few
// microseconds, the name exists: a process killed there leaves an empty
// file named memvec-<16 hex digits> in dir.
func createRemoved(dir string) (int, error) {
	for try := 0; ; try++ {
		path := filepath.Join(dir, "memvec-"+strconv.FormatUint(rand.Uint64(), 16))
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		switch {
		case err == unix.EINTR, err == unix.EEXIST && try < 100:
			continue
		case err != nil:
			return -1, &fs.PathError{Op: "create", Path: dir, Err: err}
		}
		for err = unix.Unlink(path); err == unix.EINTR; err = unix.Unlink(path) {
		}
		if err != nil {
			unix.Close(fd)
			return -1, &fs.PathError{Op: "remove", Path: path, Err: err}
		}
		return fd, nil
	}
}
