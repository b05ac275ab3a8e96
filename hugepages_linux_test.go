package memvec

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestWriterMapsInHugePages: a writer's mapping, its reservation included,
// has the MADV_HUGEPAGE advice (VmFlags hg) until its first Sync, so that
// the pushes into a new file fault in and map its pages 2 MiB at a time: of
// 24 MB pushed, at least three quarters are mapped in 2 MiB pages
// (FilePmdMapped). After a Sync it has it no more, so that a writer that
// syncs often does not write back 2 MiB a Sync, also when the file grows,
// in place and past its reservation. A writer with
// AdviseRandom, and a reader, have no such advice. Skipped where the kernel
// has no transparent huge pages, or has them off.
func TestWriterMapsInHugePages(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		t.Skipf("no transparent huge pages here (%q, %v)", b, err)
	}
	path := vecPath(t)
	w := openVec[point](t, path, Reserve(64<<20))
	for _, off := range []int{0, len(w.mem.Bytes()) - 1, 32 << 20} {
		require.Contains(t, vmFlags(t, addrOf(w, 0)+uintptr(off)), "hg", "a writer's mapping at byte %d", off)
	}
	const n = 1_000_000 // 24 MB
	require.NoError(t, w.Append(pts(seq(n)...)...))
	if filesystemMapsHugePages(t, filepath.Dir(path)) {
		kb, err := strconv.Atoi(strings.TrimSuffix(smapsOf(t, addrOf(w, 0))["FilePmdMapped"], " kB"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, kb<<10, n*24*3/4, "bytes mapped in 2 MiB pages, of %d pushed", n*24)
	}

	require.NoError(t, w.Sync())
	noHuge := func(when string) {
		t.Helper()
		for _, off := range []int{0, len(w.mem.Bytes()) - 1} {
			flags := vmFlags(t, addrOf(w, 0)+uintptr(off))
			require.False(t, slices.Contains(flags, "hg"), "%s, at byte %d: %v", when, off, flags)
		}
	}
	noHuge("after a Sync")
	for w.Len() < 4_000_000 { // 96 MB: past the 64 MiB reservation
		require.NoError(t, w.Push(pt(w.Len())))
	}
	noHuge("grown past the reservation after a Sync")

	require.NoError(t, w.Close())
	r := openVec[point](t, path, ReadOnly())
	require.False(t, slices.Contains(vmFlags(t, addrOf(r, 0)), "hg"), "a reader's mapping")
	random := openVec[point](t, vecPath(t), Advise(AdviseRandom))
	require.False(t, slices.Contains(vmFlags(t, addrOf(random, 0)), "hg"), "a writer's mapping with AdviseRandom")
}

// filesystemMapsHugePages reports whether the filesystem of dir maps a
// file's pages 2 MiB at a time under MADV_HUGEPAGE, by trying it with a
// scratch file of its own, without memvec: not every one does (tmpfs only
// with shmem_enabled other than never; ext4 only on newer kernels, with
// large folios), and where it does not, the advice is all a writer can
// give.
func filesystemMapsHugePages(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	require.NoError(t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	const size = 8 << 20
	require.NoError(t, f.Truncate(size))
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(b)
	require.NoError(t, unix.Madvise(b, unix.MADV_HUGEPAGE))
	for i := 0; i < size; i += 4096 {
		b[i] = 1
	}
	kb, err := strconv.Atoi(strings.TrimSuffix(smapsOf(t, uintptr(unsafe.Pointer(&b[0])))["FilePmdMapped"], " kB"))
	require.NoError(t, err)
	if kb == 0 {
		t.Logf("the filesystem of %s maps no file pages 2 MiB at a time: only the advice is checked", dir)
	}
	return kb > 0
}
