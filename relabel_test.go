//go:build unix || windows

package memvec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/stretchr/testify/require"
)

// TestReorderedRenamedAndPaddingTypesDiffer: the cases, each tried
// as a new user would: a file opens only as a type whose fields have its
// paths, so a reordered struct, a renamed field and a field added inside
// explicit padding are ErrTypeMismatch, naming the first path that
// differs, and the file is left as it was; it still opens as what it is.
func TestReorderedRenamedAndPaddingTypesDiffer(t *testing.T) {
	needs64BitAlignment(t)
	type (
		Range        struct{ Min, Max float64 }
		RangeSwapped struct{ Max, Min float64 }
		Temp         struct{ Celsius float64 }
		TempF        struct{ Fahrenheit float64 }
		Padded       struct {
			A int32
			_ [4]byte
			B int64
		}
		PaddedUnit struct {
			A    int32
			Unit uint8
			_    [3]byte
			B    int64
		}
	)
	tests := []struct {
		name  string
		write func(path string)
		open  func(path string) error
		first string
		reads func(t *testing.T, path string) // the file, as what it is
	}{
		{"reordered",
			func(path string) { writeVec(t, path, []Range{{Min: 1, Max: 10}}) },
			func(path string) error { _, err := Open[RangeSwapped](path); return err },
			"first difference: the region has Min f64@0, the type Max f64@0",
			func(t *testing.T, path string) { require.Equal(t, []Range{{Min: 1, Max: 10}}, readAll[Range](t, path)) }},
		{"renamed",
			func(path string) { writeVec(t, path, []Temp{{Celsius: 21.5}}) },
			func(path string) error { _, err := Open[TempF](path); return err },
			"first difference: the region has Celsius f64@0, the type Fahrenheit f64@0",
			func(t *testing.T, path string) { require.Equal(t, []Temp{{21.5}}, readAll[Temp](t, path)) }},
		{"a field inside explicit padding",
			func(path string) { writeVec(t, path, []Padded{{A: 1, B: 2}}) },
			func(path string) error { _, err := Open[PaddedUnit](path); return err },
			"first difference: the region has _[0..3] u8@4..7, the type Unit u8@4",
			func(t *testing.T, path string) { require.Equal(t, []Padded{{A: 1, B: 2}}, readAll[Padded](t, path)) }},
		{"padding where a field was",
			func(path string) { writeVec(t, path, []PaddedUnit{{A: 1, Unit: 3, B: 2}}) },
			func(path string) error { _, err := Open[Padded](path, ReadOnly()); return err },
			"first difference: the region has Unit u8@4, the type _[0..3] u8@4..7",
			func(t *testing.T, path string) {
				require.Equal(t, []PaddedUnit{{A: 1, Unit: 3, B: 2}}, readAll[PaddedUnit](t, path))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := vecPath(t)
			tt.write(path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			err = tt.open(path)
			require.ErrorIs(t, err, ErrTypeMismatch)
			require.ErrorContains(t, err, tt.first)
			require.ErrorContains(t, err, "Relabel", "the bytes agree: the message says what a rename takes")
			requireFileBytes(t, path, before, "a failed open changes nothing")
			tt.reads(t, path)
		})
	}
}

// readAll returns the elements of the vector file at path, read as T.
func readAll[T any](t testing.TB, path string) []T {
	t.Helper()
	xs, err := readVec[T](path)
	require.NoError(t, err)
	return xs
}

// TestTextTagIsPartOfTheFile: a file of a text field does not open as the
// same struct without the tag, and reads back the text.
func TestTextTagIsPartOfTheFile(t *testing.T) {
	needs64BitAlignment(t)
	path := vecPath(t)
	var r textRecord
	SetString(r.Msg[:], "hello")
	writeVec(t, path, []textRecord{r})
	_, err := Open[bytesRecord](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "first difference: the region has Msg text[55]@9, the type Msg[0..54] u8@9..63")
	require.Equal(t, "hello", StringOf(readAll[textRecord](t, path)[0].Msg[:]))
}

// The types Relabel's tests rename: a reading whose float was named Temp,
// then Celsius; the same bytes with a text field; other bytes.
type (
	readingTemp struct {
		Time int64
		Temp float64
		Note [16]byte
	}
	readingCelsius struct {
		Time    int64
		Celsius float64
		Note    [16]byte
	}
	readingNoted struct {
		Time    int64
		Celsius float64
		Note    [16]byte `memvec:"string"`
	}
	readingWide struct {
		Time    int64
		Celsius float64
		Note    [2]float64
	}
)

func readingAt(i int) readingTemp {
	r := readingTemp{Time: int64(i), Temp: float64(i) / 4}
	SetString(r.Note[:], strings.Repeat("n", i%17))
	return r
}

// relabelOf returns from's elements as To, a type of the same bytes: what
// a file of them reads as after a Relabel to To.
func relabelOf[To, From any](from []From) []To {
	return unsafe.Slice((*To)(unsafe.Pointer(unsafe.SliceData(from))), len(from))
}

// elementBytes returns the bytes of the elements of the vector file data,
// past the layout slots.
func elementBytes(data []byte) []byte {
	return data[binary.NativeEndian.Uint32(data[format.OffDataOffset:]):]
}

// TestRelabelRenames: Relabel stores T's layout, so that the file opens as
// T and no longer as the type it had, and changes nothing else: the
// elements, their place and the header's other words are the same bytes.
// It alternates between the two slots as often as it is called, and a
// Relabel to the layout the file has writes nothing.
func TestRelabelRenames(t *testing.T) {
	path := vecPath(t)
	old := generate(1000, readingAt)
	writeVec(t, path, old)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	require.NoError(t, Relabel[readingCelsius](path))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, elementBytes(before), elementBytes(after), "the elements are not touched")
	require.Equal(t, before[:format.OffLayoutWord], after[:format.OffLayoutWord], "the header but the layout word is the same")
	require.Equal(t, before[format.OffLayoutWord+4:format.HeaderSize], after[format.OffLayoutWord+4:format.HeaderSize])
	require.Equal(t, uint32(1), binary.NativeEndian.Uint32(after[format.OffLayoutWord:]))
	require.Equal(t, relabelOf[readingCelsius](old), readAll[readingCelsius](t, path))
	_, err = Open[readingTemp](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "the region has Celsius f64@8, the type Temp f64@8")

	// A writer of the new type goes on; Relabel back and forth.
	v := openVec[readingCelsius](t, path)
	require.NoError(t, v.Push(readingCelsius{Time: 1000, Celsius: 7}))
	require.NoError(t, v.Close())
	for i := range 5 {
		require.NoError(t, Relabel[readingTemp](path), "relabel %d", i)
		require.Len(t, readAll[readingTemp](t, path), 1001)
		require.NoError(t, Relabel[readingCelsius](path), "relabel %d", i)
		require.Len(t, readAll[readingCelsius](t, path), 1001)
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint32(11), binary.NativeEndian.Uint32(data[format.OffLayoutWord:]), "eleven relabels")
	r, err := OpenRaw(path)
	require.NoError(t, err)
	info, ok := r.Info()
	require.True(t, ok)
	require.Equal(t, uint32(11), info.Relabels)
	require.Equal(t, len(must(layoutFor[readingCelsius]()).section), info.LayoutSize)
	require.Equal(t, int(binary.NativeEndian.Uint32(data[format.OffSlotSize:])), info.SlotSize)
	require.NoError(t, r.Close())

	require.NoError(t, Relabel[readingCelsius](path), "the layout the file has")
	requireFileBytes(t, path, data, "a Relabel to the file's own layout writes nothing")
}

// TestRelabelAddsText: adding or removing the string tag is a Relabel, and
// so is a rename of the Go type alone (which Open accepts as it is, so
// Relabel only stores the new name).
func TestRelabelAddsText(t *testing.T) {
	path := vecPath(t)
	old := generate(10, readingAt)
	writeVec(t, path, old)
	require.NoError(t, Relabel[readingNoted](path))
	got := readAll[readingNoted](t, path)
	for i, r := range got {
		require.Equal(t, strings.Repeat("n", i%17), StringOf(r.Note[:]))
	}
	r, err := OpenRaw(path)
	require.NoError(t, err)
	require.True(t, r.Layout().Type.Fields[2].Type.Text)
	require.Equal(t, "memvec.readingNoted", r.Layout().Type.Name)
	require.NoError(t, r.Close())
	require.NoError(t, Relabel[readingCelsius](path))
	_, err = Open[readingNoted](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "the region has Note[0..15] u8@16..31, the type Note text[16]@16")
}

// TestRelabelRefusesOtherBytes: a T whose kinds, offsets, size or
// alignment differ is ErrTypeMismatch (Migrate's work), and so is a file
// damaged; neither is changed. Options that make no sense, a missing file
// and a type that is not plain data are errors too.
func TestRelabelRefusesOtherBytes(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(10, readingAt))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	err = Relabel[readingWide](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.ErrorContains(t, err, "memvec: relabel "+path+": element type mismatch: first difference: the region has Temp f64@8, the type Celsius f64@8")
	require.ErrorContains(t, err, fmt.Sprintf("the type is memvec.readingWide (32 bytes, align %d): Time i64@0, Celsius f64@8, Note[0..1] f64@16..24", unsafe.Alignof(readingWide{})))
	require.ErrorContains(t, err, "Relabel changes names only: Migrate converts the elements")
	err = Relabel[[4]float64](path)
	require.ErrorIs(t, err, ErrTypeMismatch)
	requireFileBytes(t, path, before, "a refused Relabel changes nothing")

	damaged := bytes.Clone(before)
	damaged[format.HeaderSize+format.SlotHeaderSize+3] ^= 1 // in the current slot's layout
	dpath := writeVecFile(t, damaged)
	require.ErrorIs(t, Relabel[readingCelsius](dpath), ErrCorrupt)
	requireFileBytes(t, dpath, damaged, "a refused Relabel changes nothing")

	for _, opt := range []struct {
		name string
		opt  Option
	}{{"ReadOnly", ReadOnly()}, {"Follow", Follow()}, {"MustExist", MustExist()}, {"CreateNew", CreateNew()}, {"Mode", Mode(0o600)}} {
		err := Relabel[readingCelsius](path, opt.opt)
		require.ErrorContains(t, err, "memvec: relabel "+path+": option "+opt.name+" does not apply to Relabel")
	}
	requireFileBytes(t, path, before, "a refused Relabel changes nothing")

	missing := vecPath(t)
	require.ErrorIs(t, Relabel[readingCelsius](missing), fs.ErrNotExist)
	_, err = os.Stat(missing)
	require.ErrorIs(t, err, fs.ErrNotExist, "Relabel never creates a file")

	require.ErrorIs(t, Relabel[struct{ S string }](path), ErrUnsupportedType)

	empty := writeVecFile(t, nil)
	require.NoError(t, Relabel[readingCelsius](empty), "a vector not yet created has no layout to relabel")
	requireFileBytes(t, empty, nil, "and stays empty")
}

// TestRelabelRoom: a slot has room for a layout more than twice as long
// as the one the file was created with, so long names fit; a layout longer
// than the room is refused (errors.ErrUnsupported), and the file is left
// as it was.
func TestRelabelRoom(t *testing.T) {
	type long struct {
		TheFirstCoordinateOfAPointInTheModelSpaceOfTheSceneInMetresCountedFromTheOriginAlongTheAxisThatPointsEast   float64
		TheSecondCoordinateOfAPointInTheModelSpaceOfTheSceneInMetresCountedFromTheOriginAlongTheAxisThatPointsNorth float64
		TheThirdCoordinateOfAPointInTheModelSpaceOfTheSceneInMetresCountedFromTheOriginAlongTheAxisThatPointsUp     float64
	}
	pl, err := layoutFor[point]()
	require.NoError(t, err)
	ll, err := layoutFor[long]()
	require.NoError(t, err)
	require.Greater(t, len(ll.section), 2*len(pl.section), "premise: a layout more than twice as long")
	path := vecPath(t)
	writeVec(t, path, []point{{1, 2, 3}})
	require.NoError(t, Relabel[long](path))
	require.Equal(t, []long{{1, 2, 3}}, readAll[long](t, path))
	require.NoError(t, Relabel[point](path))

	// The same file with slots just large enough for point's layout.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	tight := withSlotSize(t, data, roundUp(format.SlotHeaderSize+len(pl.section), 8))
	tpath := writeVecFile(t, tight)
	require.Equal(t, []point{{1, 2, 3}}, readAll[point](t, tpath))
	err = Relabel[long](tpath)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorContains(t, err, "the layout of memvec.long takes")
	requireFileBytes(t, tpath, tight, "a refused Relabel changes nothing")
}

// withSlotSize returns a copy of the vector file data, whose current
// layout is in slot 0, with layout slots of size bytes, the layout in the
// first, the data offset where it was.
func withSlotSize(t *testing.T, data []byte, size int) []byte {
	t.Helper()
	h, section, err := format.ReadStatic(data)
	require.NoError(t, err)
	require.LessOrEqual(t, format.HeaderSize+2*size, int(h.DataOffset))
	b := bytes.Clone(data)
	clear(b[format.HeaderSize:h.DataOffset])
	binary.NativeEndian.PutUint32(b[format.OffSlotSize:], uint32(size))
	binary.NativeEndian.PutUint32(b[format.OffLayoutWord:], 0)
	format.WriteSlot(b, format.Header{Slots: format.HeaderSize, SlotSize: uint32(size)}, 0, section)
	binary.NativeEndian.PutUint32(b[format.OffChecksum:], format.HeaderChecksum(b))
	return b
}

// TestRelabelUnderTheLock: Relabel takes the writer's lock: a file that a
// writer or a ReadOnly reader holds is ErrLocked, at once by default;
// with LockTimeout it waits for the holder, and then relabels.
func TestRelabelUnderTheLock(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(3, readingAt))
	for _, opts := range [][]Option{nil, {ReadOnly()}} {
		v := openVec[readingTemp](t, path, opts...)
		require.ErrorIs(t, Relabel[readingCelsius](path), ErrLocked)
		done := make(chan error)
		polls := lockPolls(t)
		go func() { done <- Relabel[readingCelsius](path, LockTimeout(time.Minute)) }()
		<-polls // Relabel is waiting for the lock
		require.NoError(t, v.Close())
		require.NoError(t, <-done)
		require.Len(t, readAll[readingCelsius](t, path), 3)
		require.NoError(t, Relabel[readingTemp](path))
	}
}

// TestRelabelBesideFollowers: a follower keeps reading across a Relabel
// (the elements do not change), and followers that open while Relabel
// runs, again and again, always find a whole layout, the old or the new
// one, never ErrCorrupt (format.ReadSlot's seqlock).
func TestRelabelBesideFollowers(t *testing.T) {
	path := vecPath(t)
	old := generate(100, readingAt)
	writeVec(t, path, old)
	f := openVec[readingTemp](t, path, Follow())
	require.NoError(t, Relabel[readingCelsius](path))
	n, err := f.Refresh()
	require.NoError(t, err)
	require.Equal(t, 100, n)
	require.Equal(t, old, f.Slice())

	const relabels = 300
	done := make(chan error, 1)
	go func() {
		for i := range relabels {
			var err error
			if i%2 == 0 {
				err = Relabel[readingTemp](path)
			} else {
				err = Relabel[readingCelsius](path)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	seen := map[string]int{}
	for running := true; running; {
		select {
		case err := <-done:
			require.NoError(t, err)
			running = false
		default:
		}
		r, err := OpenRaw(path, Follow())
		require.NoError(t, err, "after %v opens", seen)
		seen[r.Layout().Type.Fields[1].Name]++
		require.Equal(t, 100, r.Len())
		require.NoError(t, r.Close())
	}
	t.Logf("opens beside %d relabels: %v", relabels, seen)
	require.Len(t, seen, 2, "both layouts seen: the opens ran beside the relabels")
	require.Positive(t, seen["Temp"])
	require.Positive(t, seen["Celsius"])
}

// TestReadSlotIsASeqlock: format.ReadSlot, which followers use, returns a whole
// layout, the one before or the one after, while relabels (in memory, as
// fast as a relabel can go without its syncs) write the other slot and
// flip the layout word again and again: it retries a copy that a flip
// came between. The region is anonymous memory, as a file's mapping is
// memory the race detector does not watch: the relabels and the reads
// race by design, with the word to order them.
func TestReadSlotIsASeqlock(t *testing.T) {
	mem, err := NewAnon(64 << 10)
	require.NoError(t, err)
	defer mem.Close()
	b := mem.Bytes()
	// Three layouts, so that a slot gets another each time it is written.
	layouts := [3][]byte{
		must(layoutFor[readingTemp]()).section,
		must(layoutFor[readingCelsius]()).section,
		must(layoutFor[readingNoted]()).section,
	}
	h := format.Header{Slots: format.HeaderSize, SlotSize: uint32(roundUp(format.SlotHeaderSize+2*len(layouts[2]), 64))}
	format.WriteSlot(b, h, 0, layouts[0])

	stop := make(chan struct{})
	flips := make(chan uint32)
	go func() {
		word := format.LayoutWord(b)
		for {
			select {
			case <-stop:
				flips <- word.Load()
				return
			default:
			}
			// Right after a flip, the next relabel writes the slot that
			// was current a moment ago, which a read may be copying.
			w := word.Load()
			format.WriteSlot(b, h, w&1^1, layouts[(w+1)%3])
			time.Sleep(20 * time.Microsecond) // a relabel's syncs take longer
			word.Store(w + 1)
		}
	}()
	reads := 0
	for ; reads < 10000 || format.LayoutWord(b).Load() < 300; reads++ {
		section, err := format.ReadSlot(b, h)
		require.NoError(t, err, "read %d", reads)
		if !bytes.Equal(section, layouts[0]) && !bytes.Equal(section, layouts[1]) {
			require.Equal(t, string(layouts[2]), string(section), "read %d", reads)
		}
	}
	close(stop)
	n := <-flips
	t.Logf("%d reads beside %d relabels", reads, n)
}
