package memvec

import (
	"encoding/binary"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// Info returns the header of the Bytes's offsets file, as Raw.Info does
// for a vector file: what the memvec command's info prints and its check
// verifies. Len and Cap count records (Cap: the records the offsets file
// has room for), FileSize is the offsets file's size, ElemSize and
// ElemAlign are the offsets' (8), Layout is theirs (an i64), and the
// power-loss words count records, with the checksums FORMAT.md, "Bytes
// files", defines. It reports ok false for a Bytes with no header yet (a
// new one opened ReadOnly) and after Close.
func (b *Bytes) Info() (info Info, ok bool) {
	if b.closed || b.length == nil {
		return Info{}, false
	}
	l, err := parseLayout(bytesBody.Layout)
	if err != nil {
		// bytesBody's layout is a constant that parses: TestBytesInfo.
		panic("memvec: the layout of a Bytes's offsets does not parse: " + err.Error())
	}
	ib := b.idx.Bytes()
	fileSize := int64(len(ib))
	if f, ok := b.idx.(*File); ok {
		fileSize = f.FileSize()
	}
	ne := binary.NativeEndian
	return Info{
		Version:     int(ne.Uint32(ib[format.OffVersion:])),
		ByteOrder:   nativeOrder(),
		ElemSize:    int(bytesBody.ElemSize),
		ElemAlign:   int(bytesBody.ElemAlign),
		DataOffset:  b.dataOffset,
		Fingerprint: bytesBody.Fingerprint,
		Layout:      l,
		LayoutSize:  len(bytesBody.Layout),
		SlotSize:    int(ne.Uint32(ib[format.OffSlotSize:])),
		Relabels:    format.LayoutWord(ib).Load(),
		Len:         b.n,
		Cap:         len(b.offs) - 1,
		FileSize:    fileSize,
		StoredLen:   b.length.Load(),
		Generation:  format.Word64At(ib, format.OffGeneration).Load(),
		BaseLen:     format.Word64At(ib, format.OffBase).Load(),
		Checked1:    format.Word64At(ib, format.OffChecked1).Load(),
		Checked2:    format.Word64At(ib, format.OffChecked2).Load(),
		Sum1:        ne.Uint32(ib[format.OffSum1:]),
		Sum2:        ne.Uint32(ib[format.OffSum2:]),
		BootID:      ne.Uint64(ib[format.OffBootID:]),
		Rebooted:    format.Rebooted(ib, region.BootID()),
	}, true
}
