package region

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// syncPrefix makes the file's first n bytes durable: FlushViewOfFile of
// them, which writes them to the file, then FlushFileBuffers, which waits
// for the disk (see File.sync). Relabel calls it for the header and the
// layout slots.
func (f *File) syncPrefix(n int) error {
	if err := windows.FlushViewOfFile(uintptr(unsafe.Pointer(f.base)), uintptr(min(n, len(f.b)))); err != nil {
		return os.NewSyscallError("FlushViewOfFile", err)
	}
	return f.osFile.Sync()
}
