package region

import "golang.org/x/sys/unix"

// adviseHugePages asks the system to keep the writer's mapping b (its
// reservation included) in 2 MiB pages where it can (MADV_HUGEPAGE), or,
// with on false, no longer (MADV_NOHUGEPAGE). With it, the page cache
// allocates a new file's pages as 2 MiB folios when they are first faulted
// in, and maps each with one entry, so that the pushes into a new file take
// one fault, and the CPU one TLB entry, per 2 MiB instead of per 4 KiB:
// without it, Linux's mmap read-around made large folios of only part of a
// new file, and mapped less than half of it so, and 10,000,000 pushes of 24
// bytes took about twice as long (BENCHMARKS.md, "The whole write job").
//
// A File gives it up at its first Sync (File.sync): a 2 MiB folio is
// dirtied, and written back, as a whole, so that a writer that syncs every
// few records would write 2 MiB for each (with a Sync every 10,000 points,
// 543 MB for 57.6 MB). Not for AdviseRandom either: the fault of a page not
// in the page cache would read 2 MiB around it, where AdviseRandom reads
// the page alone. A refusal (a kernel without transparent huge pages) is
// ignored: the advice is a hint.
func adviseHugePages(b []byte, on bool) {
	advice := unix.MADV_NOHUGEPAGE
	if on {
		advice = unix.MADV_HUGEPAGE
	}
	if len(b) > 0 {
		unix.Madvise(b, advice)
	}
}
