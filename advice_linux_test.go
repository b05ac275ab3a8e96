package memvec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// vmFlags returns the VmFlags of /proc/self/smaps for the mapping that
// contains p: "sr" for MADV_SEQUENTIAL, "rr" for MADV_RANDOM.
func vmFlags(t *testing.T, p uintptr) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err != nil || p < lo || p >= hi {
			continue
		}
		for _, field := range lines[i+1:] {
			if rest, ok := strings.CutPrefix(field, "VmFlags:"); ok {
				return strings.Fields(rest)
			}
		}
	}
	t.Fatalf("no mapping contains %#x", p)
	return nil
}

// addrOf returns the address of the byte at off in v's region.
func addrOf(v *MemVec[point], off int) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(v.mem.Bytes()))) + uintptr(off)
}

// TestAdviseKeptAcrossGrowth: the Advise option sets the mapping's flag
// (VmFlags sr or rr) on the first page, the last element, and the capacity
// past it, and keeps it when the region grows within its reservation, when
// it moves past it, and after a Clip (which, for Anon, maps the pages past
// the new end anew).
func TestAdviseKeptAcrossGrowth(t *testing.T) {
	flag := map[Advice]string{AdviseSequential: "sr", AdviseRandom: "rr"}
	for _, a := range []Advice{AdviseSequential, AdviseRandom} {
		for _, backend := range []string{"anon", "file"} {
			t.Run(backend+"/"+a.String(), func(t *testing.T) {
				var v *MemVec[point]
				if backend == "anon" {
					var err error
					v, err = Make[point](0, Advise(a), Reserve(4<<20))
					require.NoError(t, err)
					t.Cleanup(func() { v.Close() })
				} else {
					v = openVec[point](t, vecPath(t), Advise(a), Reserve(4<<20))
				}
				check := func(when string) {
					t.Helper()
					for _, off := range []int{0, v.dataOffset + max(v.Len()-1, 0)*24, len(v.mem.Bytes()) - 1} {
						require.Contains(t, vmFlags(t, addrOf(v, off)), flag[a], "%s, at byte %d of %d", when, off, len(v.mem.Bytes()))
					}
				}
				check("new")
				base := addrOf(v, 0)
				for v.Len() < 100_000 { // 2.4 MB: growth within the 4 MiB reservation
					require.NoError(t, v.Push(pt(v.Len())))
				}
				require.Equal(t, base, addrOf(v, 0), "grown in place")
				check("grown in place")
				for v.Len() < 400_000 { // 9.6 MB: past the reservation
					require.NoError(t, v.Push(pt(v.Len())))
				}
				require.NotEqual(t, base, addrOf(v, 0), "moved past the reservation")
				check("moved")
				v.Truncate(1000)
				require.NoError(t, v.Clip())
				check("clipped")
				for v.Len() < 200_000 {
					require.NoError(t, v.Push(pt(v.Len())))
				}
				check("grown after the clip")
			})
		}
	}
}

// TestNoAdviceNoFlag: without Advise the mappings have neither flag, so
// that the test above sees the option's doing.
func TestNoAdviceNoFlag(t *testing.T) {
	for _, b := range backends {
		v := b.open(t)
		require.NoError(t, v.Append(pts(seq(1000)...)...))
		flags := vmFlags(t, addrOf(v, 0))
		require.False(t, slices.Contains(flags, "sr") || slices.Contains(flags, "rr"), "%s: %v", b.name, flags)
	}
}

// TestDontNeedFreesFilePages: DontNeed on a file vector's elements drops
// their pages from the process's memory (the mapping's Rss), written back
// first, synced or not: they read back as they were.
func TestDontNeedFreesFilePages(t *testing.T) {
	const n = 1 << 20 / 24 * 8 // 8 MiB
	v := openVec[point](t, vecPath(t))
	require.NoError(t, v.Append(pts(seq(n/2)...)...))
	require.NoError(t, v.Sync())
	require.NoError(t, v.Append(pts(seq(n)[n/2:]...)...))
	base := addrOf(v, 0)
	require.Greater(t, rssOf(t, base), 7<<20, "written, the pages are resident")
	require.NoError(t, v.DontNeed(0, n))
	require.Less(t, rssOf(t, base), 1<<20, "DontNeed drops them")
	for i, p := range v.All() {
		if p != pt(i) {
			t.Fatalf("after DontNeed element %d is %v, want %v", i, p, pt(i))
		}
	}
	require.NoError(t, v.Close())
	r := openVec[point](t, v.mem.(*File).Name(), ReadOnly())
	for i, p := range r.All() {
		if p != pt(i) {
			t.Fatalf("in the file, element %d is %v, want %v", i, p, pt(i))
		}
	}
}

// TestPopulateFaultsIn: Populate maps a file vector's pages into the
// process (Rss), for a writable vector and a read-only one.
func TestPopulateFaultsIn(t *testing.T) {
	const n = 1 << 20 / 24 * 8 // 8 MiB
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(n)...)...))
	require.NoError(t, w.Close())
	for _, opts := range [][]Option{nil, {ReadOnly()}} {
		v := openVec[point](t, path, opts...)
		base := addrOf(v, 0)
		require.Less(t, rssOf(t, base), 1<<20, "opened, nothing is mapped in")
		require.NoError(t, v.Populate(n/4, n))
		rss := rssOf(t, base)
		require.Greater(t, rss, 6<<20-pageSize, "Populate maps the range in")
		require.Less(t, rss, 7<<20, "and not much more")
		require.NoError(t, v.Close())
	}
}

// TestWillNeedReadsAhead: WillNeed starts reading a file vector's pages
// into the page cache (mincore), without waiting for them. The file's pages
// are dropped from the cache first; on a filesystem that cannot drop them
// (tmpfs) the test skips.
func TestWillNeedReadsAhead(t *testing.T) {
	const n = 1 << 20 / 24 * 8 // 8 MiB
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(n)...)...))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	f, err := os.Open(path)
	require.NoError(t, err)
	require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
	f.Close()

	v := openVec[point](t, path, ReadOnly())
	b := v.mem.Bytes()
	pages := (len(b) + pageSize - 1) / pageSize
	// resident counts the pages of the file in the page cache.
	resident := func() int {
		vec := make([]byte, pages)
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
		require.Zero(t, errno, "mincore")
		k := 0
		for _, x := range vec {
			k += int(x & 1)
		}
		return k
	}
	if resident() > pages/2 {
		t.Skip("the filesystem keeps the file's pages in memory")
	}
	require.NoError(t, v.WillNeed(0, n))
	deadline := time.Now().Add(5 * time.Second)
	for resident() < pages*9/10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.GreaterOrEqual(t, resident(), pages*9/10, "WillNeed read the file in")
}

// TestMapFileIsAdvisedRandom: a map file's mapping is advised MADV_RANDOM
// (VmFlags rr) unless Advise says otherwise, also after the map grew
// through splits: its pages are read and written at random, and without
// the advice the page cache builds large folios that each Put into a
// written-back page marks again, block by block (BENCHMARKS.md, "Maps").
func TestMapFileIsAdvisedRandom(t *testing.T) {
	dir := tempDir(t)
	for _, c := range []struct {
		name string
		opts []Option
		want string
	}{
		{"default", nil, "rr"},
		{"AdviseSequential", []Option{Advise(AdviseSequential)}, "sr"},
		{"AdviseNormal", []Option{Advise(AdviseNormal)}, ""},
	} {
		m, err := OpenMap[uint64, uint64](filepath.Join(dir, c.name+".map"), c.opts...)
		require.NoError(t, err)
		for k := range uint64(20_000) {
			require.NoError(t, m.Put(k, k))
		}
		flags := vmFlags(t, uintptr(unsafe.Pointer(unsafe.SliceData(m.b)))+uintptr(len(m.b)-1))
		for _, f := range []string{"rr", "sr"} {
			require.Equal(t, f == c.want, slices.Contains(flags, f), "%s: VmFlags %v", c.name, flags)
		}
		require.NoError(t, m.Close())
	}
}
