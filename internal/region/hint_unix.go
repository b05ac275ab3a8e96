//go:build unix && !linux

package region

import "golang.org/x/sys/unix"

// hintPages gives the hint h on b, page-aligned, of a file's shared mapping
// (file) or of anonymous memory. Outside Linux, MADV_DONTNEED is given only
// to a file's mapping, where the BSDs, macOS and Solaris take it as a lower
// priority for pages whose data the file keeps; anonymous memory gets
// nothing, since no system there offers a hint that surely keeps it.
// Populate reads each page: there is no MADV_POPULATE here.
func hintPages(h Hint, b []byte, file bool) error {
	switch h {
	case HintWillNeed:
		return unix.Madvise(b, unix.MADV_WILLNEED)
	case HintDontNeed, HintRelease:
		if !file {
			return nil
		}
		return unix.Madvise(b, unix.MADV_DONTNEED)
	default:
		TouchPages(b)
		return nil
	}
}
