package memvec_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/memvec/memvec"
)

// Point is the element type of most examples: plain data, 24 bytes.
type Point struct{ X, Y, Z float64 }

func ExampleMake() {
	// An anonymous vector: off the Go heap, gone when closed.
	v, err := memvec.Make[Point](1000)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	for i := range 3 {
		if err := v.Push(Point{X: float64(i), Y: float64(i * i)}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(v.Len(), v.Cap() >= 1000)
	fmt.Println(v.Index(2))
	// Output:
	// 3 true
	// {2 4 0}
}

func ExampleTempDir() {
	// A scratch vector on disk: a file in dir that no name reaches, so a
	// vector larger than the memory needs no swap, and nothing is left to
	// clean up, at Close or if the process dies. On Linux, pass a
	// directory on a disk (/var/tmp): /tmp is often a tmpfs, in memory.
	dir, err := os.MkdirTemp("", "scratch")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	v, err := memvec.Make[Point](0, memvec.TempDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close() // gives the disk space back
	for i := range 1_000_000 {
		if err := v.Push(Point{X: float64(i)}); err != nil { // a full disk is an error here
			log.Fatal(err)
		}
	}
	var sum float64
	for _, p := range v.All() {
		sum += p.X
	}
	fmt.Println(v.Len(), sum)
	// Output:
	// 1000000 4.999995e+11
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "points.vec")

	// The first Open creates the file.
	v, err := memvec.Open[Point](path)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Append(Point{1, 2, 3}, Point{4, 5, 6}); err != nil {
		log.Fatal(err)
	}
	if err := v.Sync(); err != nil { // durable across a power loss, not only a crash
		log.Fatal(err)
	}
	if err := v.Close(); err != nil {
		log.Fatal(err)
	}

	// Reopening finds the elements in place: nothing is decoded.
	v, err = memvec.Open[Point](path)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	fmt.Println(v.Len(), v.Slice())
	// Output:
	// 2 [{1 2 3} {4 5 6}]
}

// Open refuses a file written for another element layout: other kinds or
// offsets, or other field paths, even over the same bytes. A struct with
// the same fields under another type name is the same layout.
func ExampleOpen_typeMismatch() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "points.vec")

	v, err := memvec.Open[Point](path)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Push(Point{1, 2, 3}); err != nil {
		log.Fatal(err)
	}
	if err := v.Close(); err != nil {
		log.Fatal(err)
	}

	_, err = memvec.Open[[3]float32](path)
	fmt.Println(errors.Is(err, memvec.ErrTypeMismatch))
	_, err = memvec.Open[[3]float64](path) // the same bytes, but the path [0] is not X
	fmt.Println(errors.Is(err, memvec.ErrTypeMismatch))

	type Vec3 struct{ X, Y, Z float64 }
	same, err := memvec.Open[Vec3](path)
	if err != nil {
		log.Fatal(err)
	}
	defer same.Close()
	fmt.Println(same.Index(0))
	// Output:
	// true
	// true
	// {1 2 3}
}

func ExampleReadOnly() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counts.vec")

	w, err := memvec.Open[int64](path)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Append(10, 20, 30); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // release the exclusive lock
		log.Fatal(err)
	}

	// Any number of readers may hold the shared lock at once.
	r1, err := memvec.Open[int64](path, memvec.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer r1.Close()
	r2, err := memvec.Open[int64](path, memvec.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer r2.Close()
	fmt.Println(r1.Slice(), r2.Len())

	// Mutators that return an error refuse; the others panic.
	err = r1.Push(40)
	fmt.Println(errors.Is(err, memvec.ErrReadOnly))

	// A writer is kept out while the readers hold the file.
	_, err = memvec.Open[int64](path)
	fmt.Println(errors.Is(err, memvec.ErrLocked))
	// Output:
	// [10 20 30] 3
	// true
	// true
}

// By default an Open fails at once when another handle holds the lock;
// LockTimeout makes it wait, up to a limit.
func ExampleLockTimeout() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "log.vec")

	v, err := memvec.Open[int64](path)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	// The lock belongs to the open file, so a second Open in the same
	// process is kept out like another process would be.
	_, err = memvec.Open[int64](path, memvec.LockTimeout(20*time.Millisecond))
	fmt.Println(errors.Is(err, memvec.ErrLocked))
	// Output:
	// true
}

func ExampleMake_unsupportedType() {
	// Pointers, strings, slices, maps, ... mean nothing outside this
	// process, and the garbage collector does not scan mapped memory.
	type Reading struct {
		Sensor string
		Value  float64
	}
	_, err := memvec.Make[Reading](10)
	fmt.Println(errors.Is(err, memvec.ErrUnsupportedType))
	fmt.Println(err)
	// Output:
	// true
	// memvec: make anonymous memory: Reading.Sensor is a string: unsupported element type
}

func ExampleMemVec_All() {
	v, err := memvec.Make[rune](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append('a', 'b', 'c'); err != nil {
		log.Fatal(err)
	}

	for i, r := range v.All() {
		fmt.Printf("%d:%c\n", i, r)
	}
	for i, r := range v.Backward() {
		fmt.Printf("%d:%c\n", i, r)
	}
	for r := range v.Values() {
		fmt.Printf("%c", r)
	}
	fmt.Println()
	// Output:
	// 0:a
	// 1:b
	// 2:c
	// 2:c
	// 1:b
	// 0:a
	// abc
}

func ExampleMemVec_Insert() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(1, 2, 5); err != nil {
		log.Fatal(err)
	}
	if err := v.Insert(2, 3, 4); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [1 2 3 4 5]
}

func ExampleMemVec_Remove() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(10, 20, 30, 40, 50); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Remove(1), v.Slice()) // keeps the order: O(Len()-i)
	fmt.Println(v.SwapRemove(0), v.Slice())
	x, ok := v.Pop()
	fmt.Println(x, ok, v.Slice())
	// Output:
	// 20 [10 30 40 50]
	// 10 [50 30 40]
	// 40 true [50 30]
}

func ExampleMemVec_Slice() {
	v, err := memvec.Make[Point](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(Point{X: 1}, Point{X: 2}); err != nil {
		log.Fatal(err)
	}

	// Slice and pointers into it write the region in place. They stay
	// valid until Close, also as the vector grows: the region grows in
	// place. (Where it cannot, past its reservation or for a file on
	// Windows, the package documentation on views says when it moves.)
	p := &v.Slice()[1]
	p.Y = 7
	fmt.Println(v.Index(1))
	// Output:
	// {2 7 0}
}

// heapMemory is a Memory on the Go heap, to show what New asks of one: a
// region that keeps its prefix when resized and reads as zero beyond it. Its
// backing array is a []uint64, so the region starts 8-byte aligned.
type heapMemory struct {
	words []uint64
	size  int
}

func (m *heapMemory) Bytes() []byte {
	if m.size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(m.words))), m.size)
}

func (m *heapMemory) Resize(size int) error {
	words := make([]uint64, (size+7)/8)
	copy(words, m.words)
	m.words, m.size = words, size
	return nil
}

func (m *heapMemory) Sync() error  { return nil }
func (m *heapMemory) Close() error { m.words, m.size = nil, 0; return nil }

func ExampleNew() {
	v, err := memvec.New[float32](&heapMemory{})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(1.5, 2.5); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [1.5 2.5]
}

func ExampleMemVec_Delete() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(0, 1, 2, 3, 4, 5); err != nil {
		log.Fatal(err)
	}
	if err := v.Delete(1, 3); err != nil { // [1, 3): the elements 1 and 2
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	if err := v.DeleteFunc(func(x int) bool { return x%2 != 0 }); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [0 3 4 5]
	// [0 4]
}

func ExampleMemVec_CompactFunc() {
	v, err := memvec.Make[Point](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(Point{1, 0, 0}, Point{1, 1, 0}, Point{2, 0, 0}, Point{1, 2, 0}); err != nil {
		log.Fatal(err)
	}
	// Runs of points with the same X: each keeps its first.
	if err := v.CompactFunc(func(a, b Point) bool { return a.X == b.X }); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [{1 0 0} {2 0 0} {1 2 0}]
}

func ExampleMemVec_Replace() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(0, 1, 2, 3); err != nil {
		log.Fatal(err)
	}
	// [1, 3) by three elements: the vector grows by one.
	if err := v.Replace(1, 3, 7, 8, 9); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// [0, 4) by one element of its own.
	if err := v.Replace(0, 4, v.Slice()[2]); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [0 7 8 9 3]
	// [8 3]
}

func ExampleMemVec_Resize() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Append(1, 2, 3, 4); err != nil {
		log.Fatal(err)
	}
	if err := v.Resize(2); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Growing appends zeros, not the elements dropped before.
	if err := v.Resize(4); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [1 2]
	// [1 2 0 0]
}

func ExampleMemVec_AppendSeq() {
	v, err := memvec.Make[int](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	// The values go straight into the vector's memory: no slice collects
	// them first. They are counted batch by batch, and all of them by the
	// time AppendSeq returns.
	squares := func(yield func(int) bool) {
		for i := 1; i <= 5; i++ {
			if !yield(i * i) {
				return
			}
		}
	}
	if err := v.AppendSeq(squares); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())
	// Output:
	// [1 4 9 16 25]
}

func ExampleMemVec_AppendInPlace() {
	v, err := memvec.Make[uint64](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	// fill writes the new elements where they will stay (here each from
	// the two before it), and returns how many it set. Nothing is counted
	// until it returns.
	fib := func(s []uint64) int {
		for i := range s {
			if i < 2 {
				s[i] = 1
			} else {
				s[i] = s[i-1] + s[i-2]
			}
		}
		return len(s)
	}
	if err := v.AppendInPlace(10, fib); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice())

	// Room for up to 10 more, of which fill sets those below 300.
	err = v.AppendInPlace(10, func(s []uint64) int {
		a, b := v.Index(v.Len()-2), v.Index(v.Len()-1)
		for k := range s {
			a, b = b, a+b
			if b >= 300 {
				return k
			}
			s[k] = b
		}
		return len(s)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Slice()[10:])
	// Output:
	// [1 1 2 3 5 8 13 21 34 55]
	// [89 144 233]
}

func ExampleMemVec_DontNeed() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "points.vec")

	// Write a file larger than is worth keeping in memory: every window
	// of elements written, tell the system it may drop their pages (they
	// go to the file, never lost).
	v, err := memvec.Open[Point](path)
	if err != nil {
		log.Fatal(err)
	}
	const n, window = 1_000_000, 100_000
	for i := range n {
		if err := v.Push(Point{X: float64(i)}); err != nil {
			log.Fatal(err)
		}
		if (i+1)%window == 0 {
			if err := v.DontNeed(i+1-window, i+1); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := v.Close(); err != nil {
		log.Fatal(err)
	}

	// Scan it in order: AdviseSequential reads ahead further and frees the
	// pages behind sooner.
	r, err := memvec.Open[Point](path, memvec.ReadOnly(), memvec.Advise(memvec.AdviseSequential))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var sum float64
	for p := range r.Values() {
		sum += p.X
	}
	fmt.Println(r.Len(), sum)
	// Output:
	// 1000000 4.999995e+11
}

// LayoutOf describes an element type as a vector file stores it: every
// primitive field with its path, kind and offset.
func ExampleLayoutOf() {
	// Fields of at most 4 bytes: the layout is the same on 32-bit
	// platforms, where an int64 or a float64 aligns to 4 bytes.
	type Reading struct {
		Time   uint32
		Sensor [2]uint16
		Temp   float32
		OK     bool
	}
	l, err := memvec.LayoutOf[Reading]()
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Size, "bytes, align", l.Align)
	for p := range l.Primitives() {
		fmt.Printf("%-9s %-4s at %d\n", p.Path, p.Kind, p.Offset)
	}
	// Output:
	// 16 bytes, align 4
	// Time      u32  at 0
	// Sensor[0] u16  at 4
	// Sensor[1] u16  at 6
	// Temp      f32  at 8
	// OK        bool at 12
}

// OpenRaw opens a vector file without its Go type, as a tool does, and
// decodes its elements by the layout stored in the file.
func ExampleOpenRaw() {
	// float32, whose layout is the same on every platform (a float64
	// aligns to 8 bytes on 64-bit platforms and to 4 on 32-bit ones).
	type Point struct{ X, Y, Z float32 }
	path := filepath.Join(os.TempDir(), fmt.Sprintf("memvec-raw-%d.vec", os.Getpid()))
	defer os.Remove(path)
	v, err := memvec.Open[Point](path)
	if err != nil {
		panic(err)
	}
	v.Append(Point{1, 2, 3}, Point{4, 5, 6})
	v.Close()

	r, err := memvec.OpenRaw(path)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println(r.Len(), "elements:", r.Layout())
	for i, b := range r.All() {
		for p := range r.Layout().Primitives() {
			if p.Kind == memvec.Float32 {
				x := math.Float32frombits(binary.NativeEndian.Uint32(b[p.Offset:]))
				fmt.Printf("[%d].%s = %g\n", i, p.Path, x)
			}
		}
	}
	// Output:
	// 2 elements: memvec_test.Point (12 bytes, align 4): X f32@0, Y f32@4, Z f32@8
	// [0].X = 1
	// [0].Y = 2
	// [0].Z = 3
	// [1].X = 4
	// [1].Y = 5
	// [1].Z = 6
}

func ExampleMigrate() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "readings.vec")

	// The element type as the file was written...
	type ReadingV1 struct {
		Time  int64
		Value float64
	}
	// ...and as the program now wants it: it gained a field.
	type ReadingV2 struct {
		Time    int64
		Value   float64
		Quality uint8
	}

	v1, err := memvec.Open[ReadingV1](path)
	if err != nil {
		log.Fatal(err)
	}
	if err := v1.Append(ReadingV1{1, 20.5}, ReadingV1{2, 21}); err != nil {
		log.Fatal(err)
	}
	if err := v1.Close(); err != nil {
		log.Fatal(err)
	}

	// The file records its element layout: it does not open as ReadingV2.
	_, err = memvec.Open[ReadingV2](path)
	fmt.Println(errors.Is(err, memvec.ErrTypeMismatch))

	// Migrate rewrites it, element by element; interrupted, it leaves the
	// old file or the new one, whole.
	err = memvec.Migrate(path, func(r ReadingV1) ReadingV2 {
		return ReadingV2{Time: r.Time, Value: r.Value, Quality: 100}
	})
	if err != nil {
		log.Fatal(err)
	}
	v2, err := memvec.Open[ReadingV2](path)
	if err != nil {
		log.Fatal(err)
	}
	defer v2.Close()
	for _, r := range v2.All() {
		fmt.Printf("%+v\n", r)
	}
	// Output:
	// true
	// {Time:1 Value:20.5 Quality:100}
	// {Time:2 Value:21 Quality:100}
}

// Relabel renames a file's fields without rewriting its elements: the file
// no longer opens as the old type, and opens as the new one.
func ExampleRelabel() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "readings.vec")

	type Reading struct {
		Time int64
		Temp float64
	}
	type ReadingC struct { // Temp, renamed
		Time    int64
		Celsius float64
	}
	v, err := memvec.Open[Reading](path)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Append(Reading{1, 20.5}, Reading{2, 21}); err != nil {
		log.Fatal(err)
	}
	if err := v.Close(); err != nil {
		log.Fatal(err)
	}

	_, err = memvec.Open[ReadingC](path)
	fmt.Println(errors.Is(err, memvec.ErrTypeMismatch))

	// O(1): only the layout stored in the file changes, all at once.
	if err := memvec.Relabel[ReadingC](path); err != nil {
		log.Fatal(err)
	}
	c, err := memvec.Open[ReadingC](path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, r := range c.All() {
		fmt.Printf("%+v\n", r)
	}
	// Output:
	// true
	// {Time:1 Celsius:20.5}
	// {Time:2 Celsius:21}
}

// A [N]byte field tagged memvec:"string" holds text: SetString stores a
// string in it, cut to fit, and StringOf reads it back. The file's layout
// says the field is text, so the memvec command prints it as a string and
// numpy reads it as bytes (S16).
func ExampleSetString() {
	type Entry struct {
		Code uint32
		Msg  [16]byte `memvec:"string"`
	}
	var e Entry
	n := memvec.SetString(e.Msg[:], "disk almost full, 97%")
	fmt.Println(n, memvec.StringOf(e.Msg[:]))
	l, err := memvec.LayoutOf[Entry]()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l)
	// Output:
	// 16 disk almost full
	// memvec_test.Entry (20 bytes, align 4): Code u32@0, Msg text[16]@4
}
