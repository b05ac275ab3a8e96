package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// advice maps the -hint flag to madvise advice. pageout reclaims the pages
// now (writing dirty ones back first); cold moves them to the inactive
// list, to be reclaimed first under pressure; dontneed drops them from the
// mapping at once.
var advice = map[string]int{
	"pageout":  unix.MADV_PAGEOUT,
	"cold":     unix.MADV_COLD,
	"dontneed": unix.MADV_DONTNEED,
}

// evict drops the file's clean pages from the page cache, so that the next
// scan reads it from the disk.
func evict(path string) {
	if f, err := os.Open(path); err == nil {
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
}
