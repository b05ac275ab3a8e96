package main

import "golang.org/x/sys/unix"

// advice maps the -hint flag to madvise advice. pageout reclaims the pages
// now (writing dirty ones back first); cold moves them to the inactive
// list, to be reclaimed first under pressure; dontneed drops them from the
// mapping at once.
var advice = map[string]int{
	"pageout":  unix.MADV_PAGEOUT,
	"cold":     unix.MADV_COLD,
	"dontneed": unix.MADV_DONTNEED,
}
