package memvec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// A Raw is a vector file opened without its element type, as a tool opens
// it: the layout stored in the file (Layout) says what each element holds,
// and Elem returns an element's bytes. It reads only: it is a ReadOnly
// vector, or a follower with Follow, and never writes the file. The
// memvec command is built on it.
//
// Like a MemVec, a Raw is not safe for concurrent use, and its Len and
// elements change only at Refresh and Wait.
type Raw struct {
	v *MemVec[rawElem]
	// info is the header as of the open or the last Refresh or Wait, and
	// has it once the file has a header: what Info returns, read from
	// the mapping when the reads of the mapping are guarded (see capture).
	info Info
	has  bool
}

// rawElem stands for an element whose type is not known: the vector's
// layout comes from the file (MemVec.raw), and its slice of rawElem, whose
// size is 0, only carries the length.
type rawElem struct{}

// OpenRaw opens the vector file at path whatever its element type. It opens
// it as ReadOnly does (a shared lock that keeps writers out while it is
// open), or with Follow as a follower beside a live writer; other options
// apply as they do to OpenFile, and CreateNew is an error. It returns an
// error wrapping ErrCorrupt for a file whose header or stored layout is
// not valid, or for a named pipe, a device or a socket at the path (at
// once, as OpenFile does), one wrapping ErrFileChanged if another program
// cuts the file under its reads of the header, and the system's error
// (fs.ErrNotExist, ...) otherwise.
//
// An empty file has no layout: Layout returns nil and Len 0 until, for a
// follower, a writer creates its header and a Refresh finds it.
func OpenRaw(path string, opts ...Option) (*Raw, error) {
	o := buildOptions(opts)
	if !o.follow && !o.readOnly {
		opts = append(opts[:len(opts):len(opts)], ReadOnly())
	}
	f, err := OpenFile(path, opts...)
	if err != nil {
		return nil, notBytes("open", path, err)
	}
	v, err := newRaw(f)
	if err == nil {
		r := &Raw{v: v}
		if err = r.capture("open"); err == nil {
			return r, nil
		}
	}
	f.Close()
	return nil, err
}

// newRaw is New for a Raw: the layout is the one stored in the region.
func newRaw(f *File) (_ *MemVec[rawElem], err error) {
	defer catchFault(f, "open", debug.SetPanicOnFault(true), &err)
	v := &MemVec[rawElem]{mem: f, raw: true, readOnly: true, persistent: true}
	b := f.Bytes()
	if f.following() {
		v.follow = newFollower(headerPending(b))
		if v.follow.pending {
			return v, nil
		}
	} else if len(b) == 0 || format.IsBlank(b) {
		return v, nil // a new vector: no header, no layout
	}
	if err := v.open(b); err != nil {
		return nil, err
	}
	return v, nil
}

// rawLayout reads the layout a region stores, for a Raw: the header and
// the stored layout are validated as for any element type.
func rawLayout(b []byte) (*layout, error) {
	h, section, err := format.ReadStatic(b)
	if err != nil {
		return nil, err
	}
	if err := isVector(h); err != nil {
		return nil, err
	}
	l, err := storedLayout(h, section)
	if err != nil {
		return nil, err
	}
	return &layout{size: uintptr(l.Size), align: uintptr(l.Align), fingerprint: l.Fingerprint, exported: l, section: section,
		desc: l.String()}, nil
}

// Len returns the number of elements: the length a reader trusts (see
// FORMAT.md), as of the open or the last Refresh or Wait.
func (r *Raw) Len() int { return r.v.Len() }

// Layout returns the element layout stored in the file, or nil if the file
// has no header yet. The caller must not change it.
func (r *Raw) Layout() *Layout {
	if r.v.layout == nil {
		return nil
	}
	return r.v.layout.exported
}

// Elem returns the bytes of element i, a view into the file that stays
// valid until Close (on Windows, until a Refresh or Wait that maps the file
// anew). It panics if i is out of range. The caller must not write to it:
// the mapping is read-only.
func (r *Raw) Elem(i int) []byte {
	if i < 0 || i >= r.v.Len() {
		panic(fmt.Sprintf("memvec: Elem %s: index %d out of range [0:%d]", r.Name(), i, r.v.Len()))
	}
	size := int(r.v.layout.size)
	off := r.v.dataOffset + i*size
	return r.v.mem.Bytes()[off : off+size : off+size]
}

// All yields every element's index and bytes (see Elem), those present
// when the iteration starts.
func (r *Raw) All() iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for i := range r.Len() {
			if !yield(i, r.Elem(i)) {
				return
			}
		}
	}
}

// DontNeed tells the system that the elements [i:j] will not be read again
// soon, so that their pages leave the process's memory now, as
// MemVec.DontNeed does; they read back as they were. A program that reads a
// large file once, in order, calls it behind its read point to keep its
// resident memory to a window (the memvec command's dump does). It panics
// if i < 0, j < i or j > Len(), and returns ErrClosed after Close or the
// system's error, wrapped.
func (r *Raw) DontNeed(i, j int) error { return r.v.DontNeed(i, j) }

// Name returns the path the file was opened with.
func (r *Raw) Name() string { return r.v.mem.(*File).Name() }

// HasWriter reports whether a writer holds the file now, as
// MemVec.HasWriter does: for a ReadOnly Raw false, since its lock keeps
// writers out; for a follower, what File.HasWriter finds.
func (r *Raw) HasWriter() (bool, error) { return r.v.HasWriter() }

// Refresh catches up with the writer, as MemVec.Refresh does: for a
// follower, the length becomes the one the writer has published (an error
// wrapping ErrRewritten says that elements it could see changed; one
// wrapping ErrFileChanged, that another program cut the file); for a
// ReadOnly Raw it returns (Len(), nil).
func (r *Raw) Refresh() (int, error) {
	n, err := r.v.Refresh()
	return n, r.refreshed("refresh", err)
}

// Wait blocks until the writer has published more than n elements or ctx
// ends, then refreshes, as MemVec.Wait does.
func (r *Raw) Wait(ctx context.Context, n int) (int, error) {
	m, err := r.v.Wait(ctx, n)
	return m, r.refreshed("wait", err)
}

// refreshed takes the header for Info after a Refresh or Wait that
// returned err, if it refreshed: err is nil or ErrRewritten. It returns
// err, or the error of taking the header.
func (r *Raw) refreshed(op string, err error) error {
	if err != nil && !errors.Is(err, ErrRewritten) || r.v.follow == nil {
		return err
	}
	if cerr := r.capture(op); cerr != nil {
		return cerr
	}
	return err
}

// Close unmaps and closes the file, releasing its lock. Views from Elem are
// invalid afterwards.
func (r *Raw) Close() error { return r.v.Close() }

// Info describes a vector file's header (Raw.Info), or a Bytes's offsets
// file's (Bytes.Info): what the memvec command's info prints. FORMAT.md
// documents every field.
type Info struct {
	Version     int
	ByteOrder   binary.ByteOrder // this machine's: memvec opens no other
	ElemSize    int
	ElemAlign   int
	DataOffset  int
	Fingerprint uint64
	Layout      *Layout
	LayoutSize  int    // the bytes of the stored layout (its JSON)
	SlotSize    int    // the size of each of the two layout slots: room for a layout of SlotSize-8 bytes
	Relabels    uint32 // the layout word: how often the layout was relabelled; its lowest bit is the current slot
	Len         int    // the length a reader trusts (Raw.Len)
	Cap         int    // the elements the file has room for
	FileSize    int64  // the file's size, as the handle last saw it (File.FileSize)

	// The words the writer keeps for power loss and followers.
	StoredLen  uint64 // the length word, as stored
	Generation uint64 // odd while a rewrite is under way
	BaseLen    uint64 // on the disk before the writer's header was written
	Checked1   uint64 // the first checked length
	Checked2   uint64 // the second checked length
	Sum1       uint32 // the CRC-32C of elements [BaseLen, Checked1), as stored
	Sum2       uint32 // the CRC-32C of elements [Checked1, Checked2), as stored
	BootID     uint64 // of the writer's machine when it opened the file; 0 if unknown
	Rebooted   bool   // this machine has rebooted since: Len applies the rule of FORMAT.md, "Power loss"
}

// Info returns the header's fields and the layout, as of the open or the
// last Refresh or Wait, and ok false if the file has no header yet. It
// reads no byte of the file: what it returns was taken then.
func (r *Raw) Info() (info Info, ok bool) {
	if !r.has || r.v.length == nil {
		return Info{}, false
	}
	return r.info, true
}

// capture takes the header's fields for Info from the mapping, if the file
// has a header, returning an error wrapping ErrFileChanged if another
// program cut the file under the reads (see catchFault).
func (r *Raw) capture(op string) (err error) {
	v := r.v
	if v.layout == nil || v.length == nil {
		return nil
	}
	f := v.mem.(*File)
	defer catchFault(f, op, debug.SetPanicOnFault(true), &err)
	b := v.mem.Bytes()
	ne := binary.NativeEndian
	r.info, r.has = Info{
		Version:     int(ne.Uint32(b[format.OffVersion:])),
		LayoutSize:  len(v.layout.section),
		SlotSize:    int(ne.Uint32(b[format.OffSlotSize:])),
		Relabels:    format.LayoutWord(b).Load(),
		ByteOrder:   nativeOrder(),
		ElemSize:    int(v.layout.size),
		ElemAlign:   int(v.layout.align),
		DataOffset:  v.dataOffset,
		Fingerprint: v.layout.fingerprint,
		Layout:      v.layout.exported,
		Len:         v.Len(),
		Cap:         format.CapacityOf(len(b), v.dataOffset, v.layout.size),
		FileSize:    f.FileSize(),
		StoredLen:   v.length.Load(),
		Generation:  format.Word64At(b, format.OffGeneration).Load(),
		BaseLen:     format.Word64At(b, format.OffBase).Load(),
		Checked1:    format.Word64At(b, format.OffChecked1).Load(),
		Checked2:    format.Word64At(b, format.OffChecked2).Load(),
		Sum1:        ne.Uint32(b[format.OffSum1:]),
		Sum2:        ne.Uint32(b[format.OffSum2:]),
		BootID:      ne.Uint64(b[format.OffBootID:]),
		Rebooted:    format.Rebooted(b, region.BootID()),
	}, true
	return nil
}

// nativeOrder returns this machine's byte order as binary.LittleEndian or
// binary.BigEndian, which print as such.
func nativeOrder() binary.ByteOrder {
	if format.EndianName() == "little-endian" {
		return binary.LittleEndian
	}
	return binary.BigEndian
}
