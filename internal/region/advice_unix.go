//go:build unix

package region

import "golang.org/x/sys/unix"

// adviseRegion gives the advice a to the mapping b, reservation and all.
// madvise(MADV_SEQUENTIAL/RANDOM) sets a flag on each mapping (VMA) in the
// range, whether its pages are accessible, past the end of the file, or
// PROT_NONE; mprotect carries the flag to the pieces it splits off, so the
// pages the region grows into have it. Only a mapping made anew (a region
// moved, or Anon's pages decommitted, which maps fresh reserved pages)
// needs the advice again, which is why the File and Anon give it after
// every such change. A refusal is ignored: the advice is a hint. The
// paging hints on a range (hintPages) differ between Linux and the other
// systems: hint_linux.go, hint_unix.go.
func adviseRegion(b []byte, a Advice) {
	if len(b) > 0 {
		unix.Madvise(b, madvice[a])
	}
}

// madvice maps an Advice to madvise's.
var madvice = [...]int{AdviseNormal: unix.MADV_NORMAL, AdviseSequential: unix.MADV_SEQUENTIAL, AdviseRandom: unix.MADV_RANDOM}
