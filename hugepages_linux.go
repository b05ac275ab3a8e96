package memvec

import "golang.org/x/sys/unix"

// adviseHugePages asks the system to keep the writer's mapping b (its
// reservation included) in 2 MiB pages where it can (MADV_HUGEPAGE): the
// page cache then allocates the file's new pages as 2 MiB folios when they
// are first faulted in, and maps each with one page-table entry, so that
// the pushes into a new file take one fault, and the CPU one TLB entry, per
// 2 MiB instead of per 4 KiB page. Without it, Linux's mmap read-around
// made large folios of only part of a new file, and mapped with 2 MiB
// entries less than half of it: 10,000,000 pushes of 24 bytes took about
// twice as long (BENCHMARKS.md, "The whole write job"). Not for
// AdviseRandom: the fault of a page not in the page cache would then read
// 2 MiB around it, where AdviseRandom reads the page alone. A refusal (a
// kernel without transparent huge pages) is ignored: the advice is a hint.
func adviseHugePages(b []byte) {
	if len(b) > 0 {
		unix.Madvise(b, unix.MADV_HUGEPAGE)
	}
}
