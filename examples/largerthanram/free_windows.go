package main

import "golang.org/x/sys/windows"

// freeSpace returns the bytes of the volume of dir that the user may still
// write (within their quota), and true.
func freeSpace(dir string) (uint64, bool, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, false, err
	}
	var free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, nil, nil); err != nil {
		return 0, false, err
	}
	return free, true, nil
}
