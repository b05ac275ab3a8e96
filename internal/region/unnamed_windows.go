package region

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/windows"
)

// createUnnamed creates the file of CreateUnnamed in dir, as near to
// unnamed as Windows allows:
//
//   - CreateFile with CREATE_NEW and a random name, FILE_FLAG_DELETE_ON_CLOSE
//     (the system deletes the file when its last handle closes: at Close,
//     or when the process dies and the system closes its handles; a
//     mapping's section holds the file until its views are gone, which is
//     at the same moments), no sharing (no other open of the file succeeds
//     while it exists, not even one asking only to read), and
//     FILE_ATTRIBUTE_TEMPORARY (the cache manager keeps its pages in memory
//     rather than write them while memory lasts).
//   - Then the name is removed at once, as unlink does on Unix:
//     SetFileInformationByHandle with FileDispositionInfoEx and
//     FILE_DISPOSITION_FLAG_POSIX_SEMANTICS, which NTFS has since Windows
//     10 1709. Where it is refused (FAT, ReFS before its support, older
//     Windows, Wine), the name stays in dir until the file is deleted at
//     Close or at the process's death, and while it stays no open of it
//     succeeds (a sharing violation) and no new file can take it.
func createUnnamed(dir, name string, o Options) (*File, error) {
	var h windows.Handle
	var path string
	for try := 0; ; try++ {
		path = filepath.Join(dir, "memvec-"+strconv.FormatUint(rand.Uint64(), 16))
		p, err := windows.UTF16PtrFromString(path)
		if err != nil {
			return nil, &fs.PathError{Op: "create", Path: dir, Err: err}
		}
		h, err = windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE|windows.DELETE, 0, nil, windows.CREATE_NEW,
			windows.FILE_ATTRIBUTE_TEMPORARY|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_FILE_EXISTS) || try >= 100 {
			return nil, &fs.PathError{Op: "create", Path: dir, Err: err}
		}
	}
	removed := removeName(h)
	osf := os.NewFile(uintptr(h), name)
	return &File{osFile: osf, path: name, reserve: o.Reserve, unnamed: true, pathReplaced: true, nameStays: !removed}, nil
}

// removeName removes the name of the open file h from its directory, with
// POSIX semantics: the file stays open and usable through h, and is
// deleted when its last handle closes. It reports whether it did. Failure
// is no error: the file is deleted at its close all the same
// (FILE_FLAG_DELETE_ON_CLOSE), only its name stays until then (see
// createUnnamed).
func removeName(h windows.Handle) bool {
	info := struct{ Flags uint32 }{windows.FILE_DISPOSITION_DELETE | windows.FILE_DISPOSITION_POSIX_SEMANTICS}
	err := windows.SetFileInformationByHandle(h, windows.FileDispositionInfoEx, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	return err == nil
}
