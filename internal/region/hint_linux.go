package region

import "golang.org/x/sys/unix"

// hintPages gives the hint h on b, page-aligned, of a file's shared mapping
// (file) or of anonymous memory. See DontNeed for why each hint is safe for
// the contents: MADV_DONTNEED is given only to a shared file mapping, whose
// dirty pages stay in the page cache, never to anonymous memory, which it
// would zero.
func hintPages(h Hint, b []byte, file bool) error {
	switch h {
	case HintWillNeed:
		return unix.Madvise(b, unix.MADV_WILLNEED)
	case HintRelease:
		// A read-only view of a file: drop the page-table entries,
		// whoever else maps the pages (MADV_PAGEOUT would skip those),
		// and leave the page cache alone.
		return unix.Madvise(b, unix.MADV_DONTNEED)
	case HintDontNeed:
		// MADV_PAGEOUT (Linux 5.4) unmaps the pages and reclaims the
		// clean file pages; dirty ones wait in the page cache for their
		// writeback. Anonymous pages go to swap, or stay.
		err := unix.Madvise(b, unix.MADV_PAGEOUT)
		if err == unix.EINVAL {
			if !file {
				return nil
			}
			return unix.Madvise(b, unix.MADV_DONTNEED)
		}
		return err
	default:
		advice := unix.MADV_POPULATE_READ
		if !file {
			advice = unix.MADV_POPULATE_WRITE
		}
		// Linux 5.14; older kernels refuse with EINVAL.
		err := unix.Madvise(b, advice)
		if err == unix.EINVAL {
			TouchPages(b)
			return nil
		}
		return err
	}
}
