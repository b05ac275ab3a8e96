package memvec

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
)

// mapping is one line of /proc/self/maps.
type mapping struct {
	lo, hi uintptr
	perms  string
	path   string
}

// selfMaps reads this process's mappings.
func selfMaps(t *testing.T) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	require.NoError(t, err)
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		lo, hi, _ := strings.Cut(fields[0], "-")
		m := mapping{perms: fields[1]}
		a, err := strconv.ParseUint(lo, 16, 64)
		require.NoError(t, err)
		b, err := strconv.ParseUint(hi, 16, 64)
		require.NoError(t, err)
		m.lo, m.hi = uintptr(a), uintptr(b)
		if len(fields) >= 6 {
			m.path = fields[5]
		}
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// within returns the mappings that overlap [lo, hi).
func within(maps []mapping, lo, hi uintptr) []mapping {
	var out []mapping
	for _, m := range maps {
		if m.lo < hi && lo < m.hi {
			out = append(out, m)
		}
	}
	return out
}

// vmSize returns this process's VmSize in bytes.
func vmSize(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// TestGrowthKeepsOneMapping: however often a vector grows, its region is one
// mapping of the file (plus, for anonymous memory, the reserved tail): growth
// never fragments it into pieces that count against vm.max_map_count.
func TestGrowthKeepsOneMapping(t *testing.T) {
	path := vecPath(t)
	f := openVec[point](t, path)
	a, err := Make[point](0)
	require.NoError(t, err)
	defer a.Close()
	for i := range 3_000_000 {
		require.NoError(t, f.Push(pt(i)))
		require.NoError(t, a.Push(pt(i)))
	}
	maps := selfMaps(t)

	var ofFile []mapping
	for _, m := range maps {
		if m.path == path {
			ofFile = append(ofFile, m)
		}
	}
	require.Len(t, ofFile, 1, "the file is mapped in one piece: %v", ofFile)
	fm := f.mem.(*File)
	require.Equal(t, uintptr(unsafe.Pointer(fm.r.Base())), ofFile[0].lo)

	am := a.mem.(*Anon)
	lo := uintptr(unsafe.Pointer(am.r.Base()))
	pieces := within(maps, lo, lo+uintptr(am.r.Reserved()))
	require.Len(t, pieces, 2, "anonymous memory is its accessible part and its reserved tail: %v", pieces)
	require.Equal(t, "rw-p", pieces[0].perms)
	require.Equal(t, "---p", pieces[1].perms)
	require.Equal(t, lo+uintptr(am.r.Mapped()), pieces[0].hi)
}

// TestThousandOpenVectors measures what 1,000 open vectors (500 files, 500
// anonymous) cost in address space and mappings, and requires at most two
// mappings each, far inside vm.max_map_count.
func TestThousandOpenVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 vectors")
	}
	dir := tempDir(t)
	maps0, vm0 := len(selfMaps(t)), vmSize(t)
	var vecs []*MemVec[point]
	defer func() {
		for _, v := range vecs {
			v.Close()
		}
	}()
	for i := range 1000 {
		var v *MemVec[point]
		var err error
		if i%2 == 0 {
			v, err = Open[point](filepath.Join(dir, fmt.Sprint(i)))
		} else {
			v, err = Make[point](0)
		}
		require.NoError(t, err)
		vecs = append(vecs, v)
		for j := range 1000 {
			require.NoError(t, v.Push(pt(j)))
		}
	}
	maps1, vm1 := len(selfMaps(t)), vmSize(t)
	limit, err := os.ReadFile("/proc/sys/vm/max_map_count")
	require.NoError(t, err)
	t.Logf("1,000 open vectors: %d more mappings (vm.max_map_count %s), %.1f TiB more address space",
		maps1-maps0, strings.TrimSpace(string(limit)), float64(vm1-vm0)/(1<<40))
	if strconv.IntSize == 64 {
		require.LessOrEqual(t, maps1-maps0, 2*1000)
	} // on 32-bit platforms most reservations are refused and vectors take the fallback
}

// smapsOf returns the fields of the mapping that contains p in
// /proc/self/smaps ("Rss" -> "4096 kB", "THPeligible" -> "1", ...).
func smapsOf(t *testing.T, p uintptr) map[string]string {
	b, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err != nil || p < lo || p >= hi {
			continue
		}
		fields := map[string]string{}
		for _, field := range lines[i+1:] {
			name, value, ok := strings.Cut(field, ":")
			if !ok || strings.Contains(name, " ") { // the next mapping's first line
				break
			}
			fields[name] = strings.TrimSpace(value)
		}
		return fields
	}
	t.Fatalf("no mapping contains %#x", p)
	return nil
}

// rssOf returns the resident bytes of the mapping that contains p, from
// /proc/self/smaps.
func rssOf(t *testing.T, p uintptr) int {
	rss, ok := smapsOf(t, p)["Rss"]
	require.True(t, ok, "no Rss in /proc/self/smaps")
	kb, err := strconv.Atoi(strings.TrimSuffix(rss, " kB"))
	require.NoError(t, err)
	return kb << 10
}

// residentUnit returns the size of the blocks in which the kernel makes
// the pages of the mapping that contains p resident: a page, or where the
// mapping may have transparent huge pages (THPeligible: with
// transparent_hugepage "always", as in Debian's kernels, a write to one
// page of a free, aligned 2 MiB block of it can fault in, or khugepaged
// later collapse, the whole block), the huge page's size.
func residentUnit(t *testing.T, p uintptr) int {
	if smapsOf(t, p)["THPeligible"] != "1" {
		return pageSize
	}
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	require.NoError(t, err)
	size, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return size
}

// TestPushPrefaultsAhead: an anonymous vector faults its pages in 1 MiB
// windows ahead of the pushes (madvise calls for 256 pages instead of a page
// fault each): once the pushes cross a window, the next one is resident
// before they write it, and never more than a window, and the helper's
// region.PrefaultWindow, runs ahead of them, whatever the capacity. The helper's
// chunk in progress is waited for (stop) before the pages are counted.
func TestPushPrefaultsAhead(t *testing.T) {
	v, err := Make[point](1 << 20) // 24 MiB of capacity
	require.NoError(t, err)
	defer v.Close()
	base := uintptr(unsafe.Pointer(unsafe.SliceData(v.mem.Bytes())))
	require.Less(t, rssOf(t, base), 1<<20, "Make reserves; it does not touch")
	for _, windows := range []int{1, 2, 5} {
		n := (windows*region.PrefaultWindow + 2*pageSize) / 24 // just across the window
		for v.Len() < n {
			require.NoError(t, v.Push(pt(v.Len())))
		}
		written := ptOff + n*24
		v.mem.(*Anon).touch.Stop()
		rss := rssOf(t, base)
		require.GreaterOrEqual(t, rss, written+region.PrefaultWindow/2, "after %d windows the next is resident", windows)
		// What memvec touches ends a window and the helper's reach past
		// the writes; with huge pages, the kernel makes the block it ends
		// in resident (from the block's start, where the mapping starts
		// before it).
		unit := residentUnit(t, base)
		touched := base + uintptr(written+region.PrefaultWindow+region.PrefaultWindow+pageSize)
		limit := int((touched+uintptr(unit)-1)&^uintptr(unit-1) - base)
		require.LessOrEqual(t, rss, limit, "no more than a window and the helper's reach ahead (resident in blocks of %d bytes)", unit)
	}
}

// TestReadOnlyFileMapsOnlyTheFile: a read-only file cannot grow, so it maps
// the file's pages and reserves nothing past them (Reserve's documentation),
// while a writable one maps its whole reservation.
func TestReadOnlyFileMapsOnlyTheFile(t *testing.T) {
	path := vecPath(t)
	w := openVec[point](t, path)
	require.NoError(t, w.Append(pts(seq(1000)...)...))
	mappedSize := func() uintptr {
		for _, m := range selfMaps(t) {
			if m.path == path {
				return m.hi - m.lo
			}
		}
		t.Fatal("the file is not mapped")
		return 0
	}
	require.Equal(t, uintptr(DefaultReserve), mappedSize())
	require.NoError(t, w.Close())

	r := openVec[point](t, path, ReadOnly())
	require.Equal(t, uintptr(roundUp(len(r.mem.Bytes()), pageSize)), mappedSize())
	require.Equal(t, pt(999), r.Index(999))
}

// TestReservedMappedMatchSelfMaps: the numbers Reserved and Mapped report
// are the mappings /proc/self/maps shows: a File's one shared mapping of
// Reserved bytes from the region's start; an Anon's accessible Mapped
// bytes followed by its inaccessible reservation, to Reserved bytes.
func TestReservedMappedMatchSelfMaps(t *testing.T) {
	path := vecPath(t)
	fv := openVec[point](t, path)
	av, err := Make[point](0)
	require.NoError(t, err)
	defer av.Close()
	f, a := fv.Memory().(*File), av.Memory().(*Anon)
	for i := range 200_000 {
		require.NoError(t, fv.Push(pt(i)))
		require.NoError(t, av.Push(pt(i)))
	}
	maps := selfMaps(t)

	lo := uintptr(unsafe.Pointer(unsafe.SliceData(f.Bytes())))
	ofFile := within(maps, lo, lo+1)
	require.Len(t, ofFile, 1)
	require.Equal(t, path, ofFile[0].path)
	require.Equal(t, lo, ofFile[0].lo)
	require.Equal(t, f.Reserved(), int(ofFile[0].hi-lo), "the file's mapping is Reserved bytes")
	require.Greater(t, f.Mapped(), 200_000*24)

	lo = uintptr(unsafe.Pointer(unsafe.SliceData(a.Bytes())))
	pieces := within(maps, lo, lo+uintptr(a.Reserved()))
	require.Len(t, pieces, 2, "%v", pieces)
	require.Equal(t, "rw-p", pieces[0].perms)
	require.Equal(t, lo+uintptr(a.Mapped()), pieces[0].hi, "the accessible part is Mapped bytes")
	require.Equal(t, "---p", pieces[1].perms)
	require.GreaterOrEqual(t, pieces[1].hi, lo+uintptr(a.Reserved()), "the reservation reaches Reserved bytes")
	require.Equal(t, DefaultReserve, a.Reserved())

	require.NoError(t, fv.Close())
	for _, m := range selfMaps(t) {
		require.NotEqual(t, path, m.path, "the file is still mapped after Close")
	}
	require.Zero(t, f.Reserved())
}
