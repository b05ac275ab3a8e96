package memvec

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"runtime"

	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/format"

	"github.com/stretchr/testify/require"
)

// wide is the value type of the tests whose values do not fit in a word:
// its three words must agree (wideOf), so a torn value shows.
type wide [3]int64

func wideOf(x uint64) wide { return wide{int64(x), int64(x * 3), int64(x ^ 0x5555)} }

func (w wide) whole() bool { return w == wideOf(uint64(w[0])) }

// requireSameMap requires m to hold exactly want's entries: by Len, by Get
// of each key, and by All (each once).
func requireSameMap[K comparable, V comparable](t *testing.T, want map[K]V, m *Map[K, V], where string) {
	t.Helper()
	require.Equal(t, len(want), m.Len(), "%s: Len", where)
	for k, v := range want {
		got, ok := m.Get(k)
		require.True(t, ok, "%s: key %v missing", where, k)
		require.Equal(t, v, got, "%s: key %v", where, k)
	}
	seen := map[K]V{}
	for k, v := range m.All() {
		_, dup := seen[k]
		require.False(t, dup, "%s: All yields %v twice", where, k)
		seen[k] = v
	}
	require.Equal(t, want, seen, "%s: All", where)
}

// runMapModel applies n random Puts, Deletes and Gets of keys below keys
// to m and to a Go map, comparing every answer, and every so often the
// whole map; reopen, if not nil, closes and reopens m.
func runMapModel(t *testing.T, seed uint64, m *Map[uint64, wide], n, keys int, reopen func(*Map[uint64, wide]) *Map[uint64, wide]) *Map[uint64, wide] {
	r := rand.New(rand.NewPCG(seed, 1))
	want := map[uint64]wide{}
	for j := range n {
		k := r.Uint64N(uint64(keys))*0x9E3779B97F4A7C15 | uint64(r.IntN(2)) // spread, and some odd
		switch x := r.IntN(100); {
		case x < 55:
			v := wideOf(r.Uint64())
			require.NoError(t, m.Put(k, v))
			want[k] = v
		case x < 80:
			ok, err := m.Delete(k)
			require.NoError(t, err)
			_, had := want[k]
			require.Equal(t, had, ok, "seed %d op %d: Delete(%d)", seed, j, k)
			delete(want, k)
		case x < 99:
			got, ok := m.Get(k)
			w, had := want[k]
			require.Equal(t, had, ok, "seed %d op %d: Get(%d)", seed, j, k)
			require.Equal(t, w, got, "seed %d op %d: Get(%d)", seed, j, k)
		default:
			if reopen != nil {
				m = reopen(m)
			}
			requireSameMap(t, want, m, "seed/op")
		}
		require.Equal(t, len(want), m.Len())
	}
	requireSameMap(t, want, m, "end")
	return m
}

// mapSeeds is how many seeds a model test runs: fewer in short mode (the
// 32-bit tests in an emulator run so).
func mapSeeds(n uint64) uint64 {
	if testing.Short() {
		return max(n/4, 2)
	}
	return n
}

func TestMapModelAnon(t *testing.T) {
	for seed := range mapSeeds(20) {
		m, err := MakeMap[uint64, wide](0)
		require.NoError(t, err)
		m = runMapModel(t, seed, m, 3000, 1+int(seed)*100, nil)
		require.NoError(t, m.Close())
	}
}

func TestMapModelFile(t *testing.T) {
	dir := tempDir(t)
	for seed := range mapSeeds(8) {
		path := filepath.Join(dir, "m"+string(rune('a'+seed)))
		m, err := OpenMap[uint64, wide](path)
		require.NoError(t, err)
		m = runMapModel(t, seed, m, 4000, 50+int(seed)*300, func(m *Map[uint64, wide]) *Map[uint64, wide] {
			require.NoError(t, m.Close())
			m, err := OpenMap[uint64, wide](path)
			require.NoError(t, err)
			return m
		})
		require.NoError(t, m.Close())
	}
}

// TestMapGrowsThroughSplits puts 200,000 keys, which takes the map through
// thousands of splits and many segments, checking the whole map at points
// along the way, and after a reopen.
func TestMapGrowsThroughSplits(t *testing.T) {
	path := filepath.Join(tempDir(t), "grow.map")
	m, err := OpenMap[uint64, uint64](path)
	require.NoError(t, err)
	want := map[uint64]uint64{}
	puts := uint64(200_000)
	if testing.Short() {
		puts = 50_000 // still thousands of splits and a dozen segments
	}
	for i := range puts {
		k := i * 0x9E3779B97F4A7C15
		require.NoError(t, m.Put(k, i))
		want[k] = i
		if i%3 == 0 {
			_, err := m.Delete(k)
			require.NoError(t, err)
			delete(want, k)
		}
	}
	require.Greater(t, m.buckets, puts/20)
	require.Equal(t, len(want), m.Len())
	for k, v := range want {
		got, ok := m.Get(k)
		require.True(t, ok)
		require.Equal(t, v, got)
	}
	require.NoError(t, m.Close())
	m, err = OpenMap[uint64, uint64](path, ReadOnly())
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, len(want), m.Len())
	n := 0
	for k, v := range m.All() {
		require.Equal(t, want[k], v)
		n++
	}
	require.Equal(t, len(want), n)
}

// TestMapFloatKeysCompareByBits: a NaN key is found by the same NaN, and
// -0 and +0 are two keys.
func TestMapFloatKeysCompareByBits(t *testing.T) {
	m, err := MakeMap[float64, int](0)
	require.NoError(t, err)
	defer m.Close()
	nan := math.NaN()
	require.NoError(t, m.Put(nan, 1))
	require.NoError(t, m.Put(0.0, 2))
	require.NoError(t, m.Put(math.Copysign(0, -1), 3))
	v, ok := m.Get(nan)
	require.True(t, ok)
	require.Equal(t, 1, v)
	v, _ = m.Get(0.0)
	require.Equal(t, 2, v)
	v, _ = m.Get(math.Copysign(0, -1))
	require.Equal(t, 3, v)
	require.Equal(t, 3, m.Len())
}

func TestMapOddSizes(t *testing.T) {
	type key struct {
		A uint8
		B [3]byte
	}
	m, err := MakeMap[key, struct{}](10)
	require.NoError(t, err)
	defer m.Close()
	want := map[key]struct{}{}
	for i := range 5000 {
		k := key{uint8(i), [3]byte{byte(i >> 8), byte(i >> 16), 7}}
		require.NoError(t, m.Put(k, struct{}{}))
		want[k] = struct{}{}
	}
	requireSameMap(t, want, m, "odd sizes")
	e, err := MakeMap[struct{}, [5]byte](0)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.Put(struct{}{}, [5]byte{1, 2, 3, 4, 5}))
	require.NoError(t, e.Put(struct{}{}, [5]byte{5, 4, 3, 2, 1}))
	requireSameMap(t, map[struct{}][5]byte{{}: {5, 4, 3, 2, 1}}, e, "empty key")
}

func TestMapTypes(t *testing.T) {
	_, err := MakeMap[string, int](0)
	require.ErrorIs(t, err, ErrUnsupportedType)
	_, err = MakeMap[int, *int](0)
	require.ErrorIs(t, err, ErrUnsupportedType)
	_, err = MakeMap[int, [2000]byte](0)
	require.ErrorIs(t, err, ErrUnsupportedType)

	dir := tempDir(t)
	path := filepath.Join(dir, "t.map")
	m, err := OpenMap[uint64, uint64](path)
	require.NoError(t, err)
	require.NoError(t, m.Put(1, 2))
	require.NoError(t, m.Close())
	_, err = OpenMap[uint64, int32](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	_, err = Open[uint64](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	vec := filepath.Join(dir, "v.vec")
	writeVec(t, vec, []uint64{1, 2})
	_, err = OpenMap[uint64, uint64](vec)
	require.ErrorIs(t, err, ErrTypeMismatch)

	ro, err := OpenMap[uint64, uint64](path, ReadOnly())
	require.NoError(t, err)
	require.ErrorIs(t, ro.Put(3, 4), ErrReadOnly)
	_, err = ro.Delete(1)
	require.ErrorIs(t, err, ErrReadOnly)
	v, ok := ro.Get(1)
	require.True(t, ok)
	require.Equal(t, uint64(2), v)
	require.NoError(t, ro.Close())
	require.ErrorIs(t, ro.Put(3, 4), ErrClosed)
	require.Zero(t, ro.Len())
	_, err = OpenMap[uint64, uint64](path, SyncEvery(time.Second), ReadOnly())
	require.Error(t, err, "SyncEvery with ReadOnly")
	_, err = OpenMap[uint64, uint64](path, Shared())
	require.True(t, errors.Is(err, errors.ErrUnsupported))
}

// TestMapRebootKeepsSynced: what a Sync covered is what a reader after a
// reboot finds, when nothing written since reached the disk; with the page
// cache kept, everything is there. The first writer after the reboot
// claims the map and counts it.
func TestMapRebootKeepsSynced(t *testing.T) {
	path := filepath.Join(tempDir(t), "r.map")
	m, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	synced := map[uint64]wide{}
	for i := range uint64(5000) {
		require.NoError(t, m.Put(i, wideOf(i)))
		synced[i] = wideOf(i)
	}
	require.NoError(t, m.Sync())
	all := maps.Clone(synced)
	for i := uint64(5000); i < 20000; i++ {
		require.NoError(t, m.Put(i, wideOf(i)))
		all[i] = wideOf(i)
	}
	require.NoError(t, m.Close())
	reboot(t)
	// The page cache kept everything (a clean shutdown after Close).
	ro, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err)
	requireSameMap(t, all, ro, "after reboot")
	require.NoError(t, ro.Close())
	w, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	requireSameMap(t, all, w, "claimed")
	require.NoError(t, w.Put(1<<40, wideOf(7)))
	all[1<<40] = wideOf(7)
	requireSameMap(t, all, w, "claimed and written")
	require.NoError(t, w.Close())
}

// validMapFile returns the bytes of a map file of n keys (n large enough
// for overflow buckets and splits), closed.
func validMapFile(t testing.TB, n int) []byte {
	path := filepath.Join(tempDir(t), "valid.map")
	m, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	for i := range uint64(n) {
		require.NoError(t, m.Put(i*0x9E3779B97F4A7C15, wideOf(i)))
		if i%5 == 0 {
			_, err := m.Delete((i / 2) * 0x9E3779B97F4A7C15)
			require.NoError(t, err)
		}
	}
	require.NoError(t, m.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// FuzzOpenMap opens arbitrary files as a Map (the header checksum fixed
// up, so that the fuzzer explores the checks behind it), as after a reboot
// or not, read-only and as a writer. It must never panic or fault: either
// an error wrapping ErrCorrupt or ErrTypeMismatch that leaves the file as
// it was, or a Map whose Len, Get and All answer (every value All yields
// is Get's too) and whose Put and Delete return, with an error or not.
func FuzzOpenMap(f *testing.F) {
	valid := validMapFile(f, 300)
	dataOffset := int(binary.NativeEndian.Uint32(valid[format.OffDataOffset:]))
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add(valid[:len(valid)/2], false)
	f.Add(valid[:dataOffset+100], false)
	f.Add([]byte{}, false)
	f.Add(make([]byte, pageSize), false)
	for w := range mwDirectory + 8 {
		for _, x := range []uint64{0, 1, 3, 64, 1 << 20, 1 << 40, 1<<63 + 8} {
			damaged := bytes.Clone(valid)
			binary.NativeEndian.PutUint64(damaged[dataOffset+8*w:], x)
			f.Add(damaged, w%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, rebooted bool) {
		if len(b) >= format.HeaderSize && !format.IsBlank(b) {
			b = withHeader(b, func(h []byte) {
				if rebooted {
					h[format.OffBootID] ^= 0x10
				}
			})
		}
		path := filepath.Join(tempDir(t), "fuzz.map")
		for _, opts := range [][]Option{{ReadOnly()}, nil} {
			require.NoError(t, os.WriteFile(path, b, 0o644))
			m, err := OpenMap[uint64, wide](path, opts...)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTypeMismatch) {
					t.Fatalf("open: %v, neither ErrCorrupt nor ErrTypeMismatch", err)
				}
				got, rerr := os.ReadFile(path)
				require.NoError(t, rerr)
				require.True(t, bytes.Equal(b, got), "a failed open changed the file")
				continue
			}
			m.Len()
			for k, v := range m.All() {
				g, ok := m.Get(k)
				require.True(t, ok && g == v, "All gives %d: %v, Get %v %v", k, v, g, ok)
			}
			for i := range uint64(40) {
				m.Get(i * 0x9E3779B97F4A7C15)
				if opts == nil {
					m.Put(i, wideOf(i))
					m.Delete(i * 0x9E3779B97F4A7C15)
				}
			}
			m.Close()
		}
	})
}

// TestMapUpdateModel applies random Updates (counting up, setting, or
// leaving a key as it is), Puts and Deletes to a Map and to a Go map, in
// anonymous memory and in a file reopened now and then, comparing what f
// is given, every answer, and the whole map at the end.
func TestMapUpdateModel(t *testing.T) {
	path := filepath.Join(tempDir(t), "update.map")
	for _, file := range []bool{false, true} {
		var m *Map[uint64, wide]
		var err error
		open := func() {
			if file {
				m, err = OpenMap[uint64, wide](path)
			} else if m == nil {
				m, err = MakeMap[uint64, wide](0)
			}
			require.NoError(t, err)
		}
		open()
		r := rand.New(rand.NewPCG(rand.Uint64(), 8))
		want := map[uint64]wide{}
		for j := range 30_000 {
			k := r.Uint64N(3000) * 0x9E3779B97F4A7C15
			switch x := r.IntN(100); {
			case x < 60:
				keep := r.IntN(8) == 0
				calls := 0
				require.NoError(t, m.Update(k, func(v wide, ok bool) (wide, bool) {
					calls++
					w, had := want[k]
					require.Equal(t, had, ok, "op %d: Update(%d) given present", j, k)
					require.Equal(t, w, v, "op %d: Update(%d) given", j, k)
					return wideOf(uint64(v[0]) + 1), !keep
				}))
				require.Equal(t, 1, calls, "op %d: f called once", j)
				if !keep {
					want[k] = wideOf(uint64(want[k][0]) + 1)
				}
			case x < 75:
				v := wideOf(r.Uint64() >> 2)
				require.NoError(t, m.Put(k, v))
				want[k] = v
			case x < 95:
				ok, err := m.Delete(k)
				require.NoError(t, err)
				_, had := want[k]
				require.Equal(t, had, ok, "op %d: Delete(%d)", j, k)
				delete(want, k)
			default:
				if file && r.IntN(20) == 0 {
					require.NoError(t, m.Close())
					open()
				}
			}
			require.Equal(t, len(want), m.Len(), "op %d", j)
		}
		requireSameMap(t, want, m, "after the Updates")
		require.NoError(t, m.Close())
		require.ErrorIs(t, m.Update(1, func(v wide, ok bool) (wide, bool) { return v, true }), ErrClosed)
	}
	ro, err := OpenMap[uint64, wide](path, ReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	require.ErrorIs(t, ro.Update(1, func(v wide, ok bool) (wide, bool) { return v, true }), ErrReadOnly)
}

// TestMapOpenOptions: OpenMap takes Open's options as API.md lists them:
// MustExist refuses a missing file and CreateNew an existing one (the
// file left as it was), Mode sets a new file's permissions, and a second
// writer, or a reader beside the writer, is refused with ErrLocked once
// LockTimeout passes.
func TestMapOpenOptions(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "opts.map")
	_, err := OpenMap[uint64, uint64](path, MustExist())
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "MustExist created the file")

	m, err := OpenMap[uint64, uint64](path, CreateNew(), Mode(0o600))
	require.NoError(t, err)
	require.NoError(t, m.Put(1, 2))
	if runtime.GOOS != "windows" { // Windows files have no permission bits
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	}
	_, err = OpenMap[uint64, uint64](path, LockTimeout(10*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked)
	_, err = OpenMap[uint64, uint64](path, ReadOnly(), LockTimeout(10*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked, "a reader must not open beside a writer")
	require.NoError(t, m.Close())

	_, err = OpenMap[uint64, uint64](path, CreateNew())
	require.ErrorIs(t, err, fs.ErrExist)
	m, err = OpenMap[uint64, uint64](path, MustExist())
	require.NoError(t, err)
	defer m.Close()
	v, ok := m.Get(1)
	require.True(t, ok)
	require.Equal(t, uint64(2), v)
}

// TestMapGrowsInBoundedSteps: a map file grows by at most mapGrowthStep
// at a time (here 256 KiB), twice in a Put at most, also when a new segment, half the map, is
// allocated (the splits before it grew the file toward it a step at a
// time), so that no Put reserves disk in time proportional to the map's
// size; and every key is there after.
func TestMapGrowsInBoundedSteps(t *testing.T) {
	defer func(s int) { mapGrowthStep = s }(mapGrowthStep)
	mapGrowthStep = 256 << 10
	m, err := OpenMap[uint64, uint64](filepath.Join(tempDir(t), "steps.map"))
	require.NoError(t, err)
	defer m.Close()
	const n = 200_000 // about 19 MB: segments of 2, 4 and 8 MB
	largest := 0
	for k := range uint64(n) {
		before := len(m.b)
		require.NoError(t, m.Put(k, k*3))
		largest = max(largest, len(m.b)-before)
	}
	require.Greater(t, len(m.b), 16<<20)
	// A step toward the next segment, and one for the room the Put needs.
	require.LessOrEqual(t, largest, 2*mapGrowthStep, "the largest growth of one Put")
	for k := range uint64(n) {
		v, ok := m.Get(k)
		require.True(t, ok && v == k*3, "key %d: %d, %v", k, v, ok)
	}
}

// chainDepths counts the keys k(0) … k(n-1) of m by the place of the
// bucket that holds each in its chain: 0 for the chain's first bucket, 1
// for its first overflow bucket, and so on.
func chainDepths[K comparable, V any](t *testing.T, m *Map[K, V], n int, k func(uint64) K) []int {
	var depths []int
	for i := range uint64(n) {
		h := m.loadKey(k(i))
		off, _, _, ok := m.findOwn(h)
		require.True(t, ok, "key %d is missing", i)
		d := 0
		for o := m.bucketAt(bucketOf(h, m.buckets)); o != off; o = m.next(o) {
			d++
		}
		for len(depths) <= d {
			depths = append(depths, 0)
		}
		depths[d]++
	}
	return depths
}

// TestMapChainsStayShortWithoutSync grows a file map without a Sync: the
// slots of its splits' copies in buckets at or above D are taken again (no
// reader after a power loss reads those chains), so it allocates no more
// overflow buckets than the same map in anonymous memory, and few keys are
// past their chain's first overflow bucket. (Before, it kept every copy
// until a Sync: 8.6% of the keys of 10^6 were.)
func TestMapChainsStayShortWithoutSync(t *testing.T) {
	const n = 300_000
	key := func(i uint64) uint64 { return mapMix(i) }
	f, err := OpenMap[uint64, uint64](filepath.Join(tempDir(t), "chains.map"))
	require.NoError(t, err)
	defer f.Close()
	a, err := MakeMap[uint64, uint64](0)
	require.NoError(t, err)
	defer a.Close()
	for i := range uint64(n) {
		require.NoError(t, f.Put(key(i), i))
		require.NoError(t, a.Put(key(i), i))
	}
	fd, ad := chainDepths(t, f, n, key), chainDepths(t, a, n, key)
	t.Logf("keys by their bucket's place in the chain: file %v, anonymous %v; overflow buckets: file %d, anonymous %d",
		fd, ad, f.word(mwSerial).Load(), a.word(mwSerial).Load())
	require.LessOrEqual(t, f.word(mwSerial).Load(), a.word(mwSerial).Load()+8, "overflow buckets allocated: the file map's, against the same map in anonymous memory")
	deep := n - fd[0]
	if len(fd) > 1 {
		deep -= fd[1]
	}
	require.LessOrEqual(t, deep, n/100, "keys past their chain's first overflow bucket")
}

// TestMapSplitBelowDKeepsItsCopies syncs a map of 512 buckets, then grows
// it without a Sync until every bucket below D has split again, the last
// of them (D-1) too, puts new keys into D-1's chain, and reads the file as
// after a power loss that kept every page: by D buckets, which find every
// key synced. The slots of the copies a split below D left must stay
// (only chains at or above D are loose): taking those of bucket D-1 loses
// the keys it gave its child.
func TestMapSplitBelowDKeepsItsCopies(t *testing.T) {
	path := filepath.Join(tempDir(t), "d.map")
	m, err := OpenMap[uint64, uint64](path)
	require.NoError(t, err)
	const d = 512 // every bucket as full as the others
	n := uint64(0)
	for ; m.buckets < d; n++ {
		require.NoError(t, m.Put(mapMix(n), n))
	}
	require.NoError(t, m.Sync())
	require.Equal(t, uint64(d), m.durable)
	last := 0
	for i := range n {
		if bucketOf(m.loadKey(mapMix(i)), d) == d-1 && bucketOf(m.loadKey(mapMix(i)), 2*d) != d-1 {
			last++
		}
	}
	require.Positive(t, last, "synced keys that bucket D-1's split moves")
	for i := n; m.buckets < 2*d; i++ {
		require.NoError(t, m.Put(mapMix(i), i))
	}
	// Then new keys of bucket D-1, three bucketfuls: a Put takes a slot
	// that its split's copies hold only if the rules allow it.
	for i, put := uint64(1<<40), 0; put < 3*m.geo.slots; i++ {
		if bucketOf(m.loadKey(mapMix(i)), m.buckets) == d-1 {
			require.NoError(t, m.Put(mapMix(i), i))
			put++
		}
	}
	// Every page as the writer left it (its mapping: Windows does not let
	// another handle read a file a writer holds).
	lost := filepath.Join(tempDir(t), "lost.map")
	require.NoError(t, os.WriteFile(lost, bytes.Clone(m.b), 0o644))
	require.NoError(t, m.Close())
	reboot(t)
	r, err := OpenMap[uint64, uint64](lost, ReadOnly())
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, uint64(d), r.buckets, "a reader after a power loss reads by D")
	for i := range n {
		v, ok := r.Get(mapMix(i))
		require.True(t, ok && v == i, "key %d, synced: %d, present %v", i, v, ok)
	}
}
