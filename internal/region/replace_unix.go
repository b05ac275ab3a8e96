//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package region

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// replaceFile renames tmp over path, makes the rename durable, and then
// calls release, which closes the old vector and so releases its lock, and
// reports whether the rename happened.
//
// On Unix a rename over a file that is open, mapped and locked is allowed:
// the old file lives on, unlinked, for the handles that have it (the
// caller's, followers'), and the lock stays with the caller until release,
// so no other writer gets in before the new file is in place. The
// directory is fsynced next: until then a power loss may undo the rename,
// which leaves the old vector, as whole as it was (its inode is freed only
// once the rename is on the disk). An open that was waiting for the lock
// gets it after release and finds that the path names another file now
// (see openLocked).
func ReplaceFile(tmp, path string, release func() error, step func(string)) (renamed bool, err error) {
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	step("renamed")
	if err := syncDirectory(filepath.Dir(path)); err != nil {
		return true, errors.Join(fmt.Errorf("the new vector is in place, but the sync of its directory failed, so a power loss may undo the rename: %w", err), release())
	}
	step("dirsynced")
	if err := release(); err != nil {
		return true, fmt.Errorf("the new vector is in place, but closing the old one failed: %w", err)
	}
	step("released")
	return true, nil
}

// AdoptOwnership gives the new file f the old file's owner and group (old
// is the old file's Stat), where the process may (as root, or for a group
// it belongs to; otherwise the new file is the caller's, as any file it
// creates), and, if perm, exactly the old file's permission bits, which
// the umask trimmed when f was created.
func (f *File) AdoptOwnership(old os.FileInfo, perm bool) error {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		err := f.osFile.Chown(int(st.Uid), int(st.Gid))
		if err != nil && !errors.Is(err, os.ErrPermission) {
			return err
		}
	}
	if perm {
		return f.osFile.Chmod(old.Mode().Perm())
	}
	return nil
}
