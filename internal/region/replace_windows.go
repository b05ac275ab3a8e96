package region

import (
	"errors"
	"fmt"
	"os"

	"github.com/memvec/memvec/internal/errs"
	"golang.org/x/sys/windows"
)

// replaceFile calls release, which closes the old vector and so releases
// its lock, then renames tmp over path and flushes the renamed file, and
// reports whether the rename happened.
//
// The old vector must be closed first: MoveFileEx replaces a file only if
// no handle has it open (and memvec's handles, opened by os.OpenFile, do
// not share it for deletion, which even a rename with POSIX semantics
// would need). So the lock does not cover the rename here, and Migrate's
// documentation says what that leaves open. A handle that has the old
// file open at the rename makes it fail (ERROR_SHARING_VIOLATION, or
// ERROR_ACCESS_DENIED): the old file stays, and the error wraps errs.ErrLocked.
//
// MOVEFILE_WRITE_THROUGH matters only for a move that copies (across
// volumes, which a file beside its target never is); it is given all the
// same. What makes the rename durable is the flush after it: NTFS logs the
// rename in its journal, and FlushFileBuffers on the renamed file commits
// the journal with the file's metadata. (There is no directory to flush
// through a handle os.Open returns; see File.sync.) A new file without the
// write bit (see Mode) cannot be opened to be flushed: its rename reaches
// the disk when NTFS next commits its journal, within seconds.
func ReplaceFile(tmp, path string, release func() error, step func(string)) (renamed bool, err error) {
	if err := release(); err != nil {
		return false, err
	}
	step("released")
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return false, err
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	err = windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
	switch {
	case errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return false, fmt.Errorf("rename %s over it: another handle has the old file open: %w (%w)", tmp, errs.ErrLocked, os.NewSyscallError("MoveFileEx", err))
	case err != nil:
		return false, &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	step("renamed")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrPermission) {
		return true, nil
	}
	if err == nil {
		err = errors.Join(f.Sync(), f.Close())
	}
	if err != nil {
		return true, fmt.Errorf("the new vector is in place, but flushing it failed, so a power loss may undo the rename: %w", err)
	}
	step("dirsynced")
	return true, nil
}

// AdoptOwnership does nothing: Windows has no owner and group bits to
// copy, and the permission bits are Mode's read-only attribute, which the
// old file, opened for writing, cannot have had.
func (f *File) AdoptOwnership(old os.FileInfo, perm bool) error { return nil }
