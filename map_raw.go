package memvec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"iter"
	"runtime/debug"
	"unsafe"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// A RawMap is a map file (OpenMap's) opened without its key and value
// types, as a tool opens it: the layout stored in the file (Layout) is
// that of struct{ Key K; Value V }, and All yields each entry's key and
// value as bytes. It reads only: it is a ReadOnly map, or a follower with
// Follow, and never writes the file. The memvec command reads map files
// through it.
//
// It reads the map as a Map of the same types does: in the same boot as
// the writer by B buckets, the entries' values the copies their control
// words name; after a power loss that no writer has claimed yet, by the
// D buckets the last Sync made durable, each value the copy whose
// checksum holds (FORMAT.md, "Map files"). Like a Map, it is not safe for
// concurrent use.
//
// All, Len and Check read the whole file: they give the pages they have
// read back to the system every few MiB (they stay in the page cache), so
// that a tool reading a map of any size keeps its resident memory to
// about 50 MiB of the file's pages, where it would otherwise grow to the
// size of the map.
type RawMap struct {
	f        *File
	m        *Map[rawElem, rawElem] // nil while the file has no header
	follower bool
	key      *Type // the Key field's type and the Value field's, from the layout
	value    *Type
	valueOff int // the Value field's offset in the entry
	err      error
	visited  []uint64 // Check's buckets seen, a bit per bucket of the file
	read     int      // bytes of buckets read since the pages were last given back (see readBucket)
}

// rawMapWindow is how many bytes of buckets All, Len and Check read
// between two releases of the pages they have read (see readBucket). The
// resident memory they add is a few times that (fault-around maps pages
// beside those read): 48 MB for this window, 89 MB for 32 MiB, reading a
// map with 380 MiB of buckets in use, whose check took 0.31 s and 0.24 s
// (0.2 s with no release; BENCHMARKS.md, "Reading a map file with bounded
// memory").
const rawMapWindow = 8 << 20

// readBucket counts a bucket that All, Len or Check has read, and every
// rawMapWindow bytes gives the pages of the whole mapping back to the
// system (DontNeed of a read-only mapping: they leave this process's
// memory and stay in the page cache, so that one read again costs a
// minor fault, and they stay mapped in a writer's and other readers'
// memory). So a RawMap reading a map file of any size, as the memvec
// command's dump, check and export do, keeps its resident memory to a few
// windows, where it would otherwise grow to the size of the map: a
// chain's overflow buckets are anywhere in the file, so that no range
// behind the reads is known to be done with, and the whole mapping goes
// back at once. A failure costs only memory: it is ignored.
func (r *RawMap) readBucket() {
	if r.read += r.m.geo.size; r.read < rawMapWindow {
		return
	}
	r.read = 0
	b := r.f.Bytes()
	_ = r.f.hint(region.HintDontNeed, b[:len(b)&^(pageSize-1)])
}

// OpenRawMap opens the map file at path whatever its key and value types.
// It opens it as ReadOnly does (a shared lock that keeps writers out while
// it is open), or with Follow as a follower beside a live writer; other
// options apply as they do to OpenFile, and CreateNew is an error. It reads
// the header and the map block only, as OpenMap does.
//
// It returns an error wrapping ErrTypeMismatch if the file holds another
// container (a vector), ErrCorrupt if its header, its stored layout (which
// must be a struct of two fields, Key at offset 0 and Value) or its map
// block is not valid, ErrFileChanged if another program cuts the file
// under its reads, and the system's error (fs.ErrNotExist, ErrLocked, ...)
// otherwise. An empty file has no layout: Layout returns nil and Len 0
// until, for a follower, a writer creates the map and a Refresh finds it.
func OpenRawMap(path string, opts ...Option) (*RawMap, error) {
	o := buildOptions(opts)
	if !o.follow && !o.readOnly {
		opts = append(opts[:len(opts):len(opts)], ReadOnly())
	}
	if o.createNew {
		return nil, fmt.Errorf("memvec: open %s: CreateNew does not apply to a RawMap, which never creates the file", path)
	}
	f, err := OpenFile(path, opts...)
	if err != nil {
		return nil, err
	}
	r := &RawMap{f: f, follower: o.follow}
	if err := r.load("open"); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// load reads the header, if the file has one, and opens the map in it.
func (r *RawMap) load(op string) (err error) {
	defer catchFault(r.f, op, debug.SetPanicOnFault(true), &err)
	b := r.f.Bytes()
	if r.follower && headerPending(b) || !r.follower && (len(b) == 0 || format.IsBlank(b)) {
		return nil // no map yet
	}
	h, section, err := format.ReadStatic(b)
	if err != nil {
		return r.wrap(op, err)
	}
	if h.Kind != format.KindMap {
		return r.wrap(op, fmt.Errorf("%w: the file holds a %v, not a map", ErrTypeMismatch, h.Kind))
	}
	stored, err := storedLayout(h, section)
	if err != nil {
		return r.wrap(op, err)
	}
	t := stored.Type
	if t.Kind != Struct || len(t.Fields) != 2 || t.Fields[0].Name != "Key" || t.Fields[0].Offset != 0 || t.Fields[1].Name != "Value" {
		return r.wrap(op, corrupt("the stored layout of a map file is %s, not struct{ Key K; Value V }", stored))
	}
	g, err := mapGeometryFor(t.Fields[0].Type.Size, t.Fields[1].Type.Size)
	if err != nil {
		return r.wrap(op, corrupt("%v", err))
	}
	l := &layout{size: uintptr(stored.Size), align: uintptr(stored.Align), fingerprint: stored.Fingerprint, exported: stored, section: section, desc: stored.String()}
	m := &Map[rawElem, rawElem]{path: r.f.Name(), mem: r.f, readOnly: true, persistent: true, follower: r.follower, geo: g, entry: l}
	m.initBuffers()
	if err := m.open(); err != nil {
		return err
	}
	r.m, r.key, r.value, r.valueOff = m, t.Fields[0].Type, t.Fields[1].Type, t.Fields[1].Offset
	return nil
}

// Name returns the path the file was opened with.
func (r *RawMap) Name() string { return r.f.Name() }

// Layout returns the layout stored in the file, that of struct{ Key K;
// Value V } as Go lays it out, or nil if the file has no map yet. The
// caller must not change it.
func (r *RawMap) Layout() *Layout {
	if r.m == nil {
		return nil
	}
	return r.m.entry.exported
}

// KeyType and ValueType return the types of the keys and of the values:
// the Key and Value fields of Layout's struct, or nil if the file has no
// map yet. The caller must not change them.
func (r *RawMap) KeyType() *Type { return r.key }

// ValueType returns the type of the values (see KeyType).
func (r *RawMap) ValueType() *Type { return r.value }

// ValueOffset returns the offset of the Value field in Layout's struct:
// where a value goes in an entry laid out as struct{ Key K; Value V }
// (the key is at 0).
func (r *RawMap) ValueOffset() int { return r.valueOff }

// Len returns the number of entries, as Map.Len does: the length word, or,
// after a power loss, the entries counted once, at the first Len. It
// returns 0 if the file has no map yet, and if another program cuts the
// file under its count (Err then says so).
func (r *RawMap) Len() int {
	if r.m == nil || r.m.closed {
		return 0
	}
	if !r.m.counted {
		c := 0
		for range r.entries(&r.err) {
			c++
		}
		if r.err != nil {
			return 0
		}
		r.m.count, r.m.counted = c, true
	}
	return r.m.count
}

// All yields the key and the value of every entry, each once, in no set
// order, as Map.All does: the bytes of a K and of a V, views that are
// valid until the next step of the loop (copy them to keep them). Beside
// a live writer, an entry that the writer changes while All runs may be
// missed or yield its value before the change; no value is torn. If
// another program cuts the file under its reads, All stops, and Err
// returns the error.
func (r *RawMap) All() iter.Seq2[[]byte, []byte] {
	return r.entries(&r.err)
}

// Err returns the error that stopped the last All or Len: one wrapping
// ErrFileChanged if another program cut the file under its reads; nil
// otherwise.
func (r *RawMap) Err() error { return r.err }

// entries is All, which stores its error in *errp.
func (r *RawMap) entries(errp *error) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		*errp = nil
		if r.m == nil || r.m.closed || r.m.pending || len(r.m.b) == 0 {
			return
		}
		m := r.m
		n := m.buckets
		var found []rawEntry
		var buf []byte
		for bk := uint64(0); bk < n && !m.closed; bk++ {
			// A chain is read under the fault guard, then yielded: a
			// fault in the loop's body is not the file's.
			err := func() (err error) {
				defer catchFault(r.f, "read", debug.SetPanicOnFault(true), &err)
				found, buf = found[:0], buf[:0]
				off := m.bucketAt(bk)
				for hops := m.maxHops(); off != 0 && hops > 0; hops-- {
					r.readBucket()
					for i := range m.geo.slots {
						if s := r.readSlot(off, i, bk, n); s.listed(m.rebooted) {
							found = append(found, rawEntry{len(buf), m.geo.ks, m.geo.vs})
							buf = append(append(buf, r.keyBytes()...), r.valueBytes()...)
						}
					}
					off = m.next(off)
				}
				return nil
			}()
			if err != nil {
				*errp = err
				return
			}
			for _, e := range found {
				k := buf[e.at : e.at+e.ks : e.at+e.ks]
				v := buf[e.at+e.ks : e.at+e.ks+e.vs : e.at+e.ks+e.vs]
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// rawEntry is where an entry of a chain is in entries' buffer.
type rawEntry struct{ at, ks, vs int }

// keyBytes and valueBytes are the key and the value readSlot read last.
func (r *RawMap) keyBytes() []byte {
	if r.m.geo.ks == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&r.m.kbuf[0])), r.m.geo.ks)
}

func (r *RawMap) valueBytes() []byte {
	if r.m.geo.vs == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&r.m.vbuf[0])), r.m.geo.vs)
}

// A rawSlot is what readSlot finds in a slot.
type rawSlot struct {
	occupied bool
	freed    bool // not occupied, freed by a Delete
	tagOK    bool // the control word's tag is the key's hash's
	belongs  bool // the key's bucket is the chain's (else a split's copy)
	named    bool // the checksum of the copy the control word names holds
	other    bool // it does not, and the other copy's does (read then)
	deleting bool // it does not, and the checksum word holds an epoch: a Delete's first store
}

// listed reports whether All lists the slot's entry, by Map's rules: its
// own key, and after a power loss a copy whose checksum holds.
func (s rawSlot) listed(rebooted bool) bool {
	return s.occupied && s.tagOK && s.belongs && (!rebooted || s.named || s.other)
}

// readSlot reads slot i of the bucket at off, in chain bk among n buckets,
// as a follower reads a slot (the control word, the key, the value and
// its checksum, then the control word again, until the two agree), and
// leaves the key in kbuf and the value All would give in vbuf.
func (r *RawMap) readSlot(off, i int, bk, n uint64) rawSlot {
	m := r.m
	g := m.geo
	for {
		c := m.ctrl(off, i).Load()
		if c&ctrlOccupied == 0 {
			return rawSlot{freed: c&ctrlFreed != 0}
		}
		s := rawSlot{occupied: true}
		p := off + g.keys + g.kw*i
		for w := range m.kbuf {
			m.kbuf[w] = m.at(p + 8*w).Load()
		}
		h := mapHash(m.kbuf, g.ks)
		s.tagOK = uint32(h>>32) == uint32(c)
		s.belongs = bucketOf(h, n) == bk
		sums := m.at(off + g.crcOff + 8*i).Load()
		sel := c >> 62 & 1
		m.readValue(off, i, sel)
		s.named = r.bufferSum() == uint32(sums>>(32*sel))
		if !s.named {
			// A Delete stores its epoch into the checksum word before it
			// frees the slot: a writer killed between the two, or, beside
			// a live writer, one between them now.
			s.deleting = sums <= m.word(mwEpoch).Load()
			m.readValue(off, i, sel^1)
			if s.other = r.bufferSum() == uint32(sums>>(32*(sel^1))); !s.other || !m.rebooted {
				s.other = s.other && m.rebooted
				m.readValue(off, i, sel) // Map reads the named copy in the same boot
			}
		}
		if m.ctrl(off, i).Load() == c {
			return s
		}
	}
}

// bufferSum is the checksum of kbuf and vbuf, a key and a copy as a slot
// stores them (padded to 8 bytes).
func (r *RawMap) bufferSum() uint32 {
	m := r.m
	var k, v []byte
	if m.geo.kw > 0 {
		k = unsafe.Slice((*byte)(unsafe.Pointer(&m.kbuf[0])), m.geo.kw)
	}
	if m.geo.vw > 0 {
		v = unsafe.Slice((*byte)(unsafe.Pointer(&m.vbuf[0])), m.geo.vw)
	}
	return crc32.Update(crc32.Update(0, format.Castagnoli, k), format.Castagnoli, v)
}

// MapInfo describes a map file's header and map block (RawMap.Info): what
// the memvec command's info prints. FORMAT.md, "Map files", documents
// every field.
type MapInfo struct {
	Version     int
	ByteOrder   binary.ByteOrder // this machine's: memvec opens no other
	DataOffset  int
	Fingerprint uint64
	Layout      *Layout // struct{ Key K; Value V }
	Key, Value  *Type   // its fields' types
	LayoutSize  int     // the bytes of the stored layout (its JSON)
	SlotSize    int     // the size of each of the two layout slots
	Relabels    uint32  // the layout word
	Len         int     // the entries (RawMap.Len)
	FileSize    int64   // the file's size, as the handle last saw it

	BucketSize  int    // bytes
	BucketSlots int    // the slots of a bucket, S
	Buckets     uint64 // B, the buckets in use
	Durable     uint64 // D, the buckets the last Sync made durable
	Reading     uint64 // the buckets a reader reads by: B, or D after a power loss
	UsedEnd     uint64 // the end of the space allocated to buckets
	DurableEnd  uint64 // the used end the last Sync made durable
	Serial      uint64 // the stamp of the last overflow bucket
	Epoch       uint64 // the number of Syncs
	Flags       uint64 // the map block's flags word
	Changed     bool   // flag bit 0: changed since the last Sync, so not all durable
	Uncounted   bool   // flag bit 1: the length word is not trusted (after a power loss)
	StoredLen   uint64 // the length word, as stored
	PendingSlot uint64 // the pending record's slot: not 0 after a writer killed in a Put or Delete
	BootID      uint64 // of the writer's machine when it opened the file; 0 if unknown
	Rebooted    bool   // this machine has rebooted since: a reader reads by D, checking the checksums
}

// Info returns the header's and the map block's fields, as of the open or
// the last Refresh, and ok false if the file has no map yet. Its Len is
// Len's, which counts the entries once after a power loss.
func (r *RawMap) Info() (info MapInfo, ok bool, err error) {
	m := r.m
	if m == nil || m.closed || m.pending {
		return MapInfo{}, false, nil
	}
	n := r.Len()
	if r.err != nil {
		return MapInfo{}, false, r.err
	}
	defer catchFault(r.f, "info", debug.SetPanicOnFault(true), &err)
	b := m.b
	ne := binary.NativeEndian
	flags := m.word(mwFlags).Load()
	return MapInfo{
		Version:     int(ne.Uint32(b[format.OffVersion:])),
		ByteOrder:   nativeOrder(),
		DataOffset:  m.dataOffset,
		Fingerprint: m.entry.fingerprint,
		Layout:      m.entry.exported,
		Key:         r.key,
		Value:       r.value,
		LayoutSize:  len(m.entry.section),
		SlotSize:    int(ne.Uint32(b[format.OffSlotSize:])),
		Relabels:    format.LayoutWord(b).Load(),
		Len:         n,
		FileSize:    r.f.FileSize(),
		BucketSize:  m.geo.size,
		BucketSlots: m.geo.slots,
		Buckets:     m.word(mwBuckets).Load(),
		Durable:     m.word(mwDurable).Load(),
		Reading:     m.buckets,
		UsedEnd:     m.word(mwAlloc).Load(),
		DurableEnd:  m.word(mwDurAlloc).Load(),
		Serial:      m.word(mwSerial).Load(),
		Epoch:       m.word(mwEpoch).Load(),
		Flags:       flags,
		Changed:     flags&mapFlagDirty != 0,
		Uncounted:   flags&mapFlagUncount != 0,
		StoredLen:   format.Word64At(b, format.OffLength).Load(),
		PendingSlot: m.word(mwPendSlot).Load(),
		BootID:      ne.Uint64(b[format.OffBootID:]),
		Rebooted:    format.Rebooted(b, region.BootID()),
	}, true, nil
}

// A MapCheck is what RawMap.Check found: every slot of every chain a
// reader reads, counted by what it holds.
type MapCheck struct {
	Entries  int    // the entries a reader lists (All), each a key in its own chain
	Chains   uint64 // the chains read: B, or D after a power loss
	Overflow int    // the overflow buckets in them
	Slots    int    // the slots of every bucket read
	Copies   int    // occupied slots whose key's bucket is another: copies a split left
	Freed    int    // slots a Delete freed
	Deleting int    // occupied slots whose checksum word holds a Delete's epoch: a Delete killed (or under way) before it freed the slot, and no writer opened the map since (its open restores the checksum); a reader after a power loss drops the entry
	// After a power loss (Rebooted), a reader takes the other copy of an
	// entry whose named copy's checksum fails, and no value if neither
	// holds: what a page torn by the power loss leaves.
	OtherCopy  int
	Unreadable int
	DeadLinks  int // links that end a chain since the bucket they name does not carry their stamp: an overflow bucket a power loss lost

	// Damage: what no crash or power loss leaves, and a reader may
	// mislist. Check returns an error wrapping ErrCorrupt if any is not 0.
	BadSums    int // occupied slots whose named copy's checksum fails, in the same boot as the writer
	BadTags    int // occupied slots whose control word's tag is not their key's: the entry is lost to every reader
	Duplicates int // keys listed twice in a chain
	Shared     int // buckets reached a second time: a chain that loops or joins another
	CountWord  int // the entries the length word counts, to compare with Entries (-1 when it is not compared: after a power loss, or beside a live writer)
	Live       bool
}

// Check reads every slot of every chain a reader reads, and checks what
// OpenRawMap does not, which would cost a visit of every bucket: each
// occupied slot's checksum (of its key and the copy of its value that its
// control word names), its tag, the chains (no bucket reached twice: a
// loop, or two chains joined), no key twice in a chain, and the length
// word against the entries. It returns an error wrapping ErrCorrupt that
// says what it found first and how much, if anything is damaged (MapCheck
// says what a crash or a power loss legitimately leaves apart from
// damage), or ErrFileChanged if another program cut the file under its
// reads. Beside a live writer (a follower), it does not compare the count,
// nor look for keys twice: they change as it reads.
func (r *RawMap) Check() (c MapCheck, err error) {
	m := r.m
	c.CountWord = -1
	if m == nil || m.closed || m.pending || len(m.b) == 0 {
		return c, nil
	}
	defer catchFault(r.f, "check", debug.SetPanicOnFault(true), &err)
	live := r.follower
	c.Live = live
	n := m.buckets
	c.Chains = n
	bs := m.geo.size
	r.visited = make([]uint64, (len(m.b)/bs+64)/64)
	first := ""
	damage := func(count *int, what string, args ...any) {
		*count++
		if first == "" {
			first = fmt.Sprintf(what, args...)
		}
	}
	type keyAt struct {
		tag uint32
		at  int // in keyBuf
	}
	var keys []keyAt
	var keyBuf []uint64
	for bk := uint64(0); bk < n; bk++ {
		keys, keyBuf = keys[:0], keyBuf[:0]
		off := m.bucketAt(bk)
		if off == 0 {
			return c, r.wrap("check", corrupt("bucket %d is outside the file", bk))
		}
		for hop := 0; off != 0; hop++ {
			if bit := off / bs; r.visited[bit/64]&(1<<(bit%64)) != 0 {
				damage(&c.Shared, "the bucket at %d is reached a second time, in chain %d", off, bk)
				break
			} else {
				r.visited[bit/64] |= 1 << (bit % 64)
			}
			if hop > 0 {
				c.Overflow++
			}
			r.readBucket()
			for i := range m.geo.slots {
				c.Slots++
				s := r.readSlot(off, i, bk, n)
				switch {
				case !s.occupied:
					if s.freed {
						c.Freed++
					}
					continue
				case !s.tagOK:
					damage(&c.BadTags, "slot %d of the bucket at %d (chain %d) has a tag that is not its key's", i, off, bk)
					continue
				case !s.belongs:
					c.Copies++
				case m.rebooted && !s.named && s.other:
					c.OtherCopy++
				case m.rebooted && !s.named:
					c.Unreadable++
				}
				if !s.named {
					switch {
					case s.deleting:
						c.Deleting++
					case !m.rebooted:
						damage(&c.BadSums, "the checksum of slot %d of the bucket at %d (chain %d) does not hold", i, off, bk)
					}
				}
				if !s.listed(m.rebooted) {
					continue
				}
				c.Entries++
				if !live {
					tag := uint32(mapHash(m.kbuf, m.geo.ks) >> 32)
					at := len(keyBuf)
					keyBuf = append(keyBuf, m.kbuf...)
					for _, k := range keys {
						if k.tag == tag && equalWords(keyBuf[k.at:k.at+len(m.kbuf)], m.kbuf) {
							damage(&c.Duplicates, "a key is in chain %d twice (slot %d of the bucket at %d again)", bk, i, off)
							break
						}
					}
					keys = append(keys, keyAt{tag: tag, at: at})
				}
			}
			next := m.next(off)
			if next == 0 && m.at(off+8*bwLink).Load() != 0 {
				c.DeadLinks++
			}
			off = next
		}
	}
	if !live && !m.rebooted && m.word(mwFlags).Load()&mapFlagUncount == 0 {
		c.CountWord = r.Len()
		if c.CountWord != c.Entries {
			damage(new(int), "the length word counts %d entries, the chains hold %d", c.CountWord, c.Entries)
		}
	}
	if first != "" {
		bad := c.BadSums + c.BadTags + c.Duplicates + c.Shared
		return c, r.wrap("check", corrupt("%s (%d damaged in all)", first, max(bad, 1)))
	}
	return c, nil
}

// equalWords reports whether a and b hold the same words.
func equalWords(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// HasWriter reports whether a writer holds the file now, as
// MemVec.HasWriter does: for a ReadOnly RawMap false, since its lock keeps
// writers out; for a follower, what File.HasWriter finds.
func (r *RawMap) HasWriter() (bool, error) {
	if !r.follower {
		return false, nil
	}
	return r.f.HasWriter()
}

// Refresh catches up with the writer, on a follower, as Map.Refresh does:
// Len, All, Info and Check show the map the writer has published (or, if
// the file had no map at the open, the map a writer has created since),
// and Refresh returns Len(). On a ReadOnly RawMap it returns (Len(), nil).
func (r *RawMap) Refresh() (n int, err error) {
	if r.m == nil {
		if !r.follower {
			return 0, nil
		}
		err := func() (err error) {
			defer catchFault(r.f, "refresh", debug.SetPanicOnFault(true), &err)
			fm, _ := following(r.f)
			return fm.followTo(0)
		}()
		if err != nil {
			return 0, r.wrap("refresh", err)
		}
		if err := r.load("refresh"); err != nil || r.m == nil {
			return 0, err
		}
	}
	if r.m.closed {
		return 0, r.wrap("refresh", ErrClosed)
	}
	n, err = r.m.Refresh()
	if err != nil {
		return n, err
	}
	return r.Len(), r.err
}

// Close unmaps and closes the file, releasing its lock. The views All
// yielded are invalid afterwards.
func (r *RawMap) Close() error {
	if r.m != nil {
		return r.m.Close()
	}
	return r.f.Close()
}

// wrap puts err in the package's form, "memvec: <op> <path>: <err>".
func (r *RawMap) wrap(op string, err error) error {
	if err == nil || hasPrefix(err) {
		return err
	}
	return fmt.Errorf("memvec: %s %s: %w", op, r.f.Name(), err)
}
