//go:build unix && !linux

package main

import "golang.org/x/sys/unix"

// advice maps the -hint flag to madvise advice. Only Linux has
// MADV_PAGEOUT and MADV_COLD; elsewhere pageout falls back to dontneed,
// which drops the pages from the mapping.
var advice = map[string]int{
	"pageout":  unix.MADV_DONTNEED,
	"dontneed": unix.MADV_DONTNEED,
}

// evict does nothing here: the scans may read from the page cache.
func evict(path string) {}
