package memvec

import (
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/memvec/memvec/internal/format"
	"github.com/memvec/memvec/internal/region"
)

// An Option configures OpenFile and Open, and (Reserve and Advise only)
// Make and NewAnon, which return an error naming any other option they are
// given; Make and MakeBytes take TempDir too.
type Option func(*options)

type options struct {
	readOnly    bool
	follow      bool
	shared      bool // Shared: a writer beside other Shared writers
	mustExist   bool // MustExist: never create the file
	createNew   bool // CreateNew: create the file, fail if it exists
	lockTimeout time.Duration
	lockWaits   bool // LockTimeout was given
	mode        fs.FileMode
	modeGiven   bool // Mode was given
	reserve     int
	advice      Advice
	adviceGiven bool // Advise was given
	// headOnly is set by Relabel, which writes nothing past the header and
	// the layout slots (within format.NewRegionMax bytes): a writable open backs
	// its blocks there only, not the whole file's (see ownBlocks).
	headOnly  bool
	syncEvery time.Duration // SyncEvery's period
	syncGiven bool          // SyncEvery was given
	tempDir   string        // TempDir's directory
	tempGiven bool          // TempDir was given
}

// checkReserve returns an error, in the form of op's errors on name, if the
// Reserve option was given a negative size: a mistake to report, not a
// size to round up to zero.
func (o options) checkReserve(op, name string) error {
	if o.reserve < 0 {
		return fmt.Errorf("memvec: %s %s: Reserve(%d): negative size", op, name, o.reserve)
	}
	return nil
}

// DefaultReserve is the address space, in bytes, that a region reserves to
// grow in place, unless the Reserve option says otherwise: 64 GiB on 64-bit
// platforms, where address space is plentiful: 1,000 open vectors take
// 62.5 TiB of the 128 TiB a Linux process has on amd64. On 32-bit
// platforms, where a process has 4 GiB at most, it is 256 MiB. Reserved
// address space costs no memory and no disk.
const DefaultReserve = region.DefaultReserve

// region returns the options that concern the file, for the region
// layer's OpenFile, with the format's sizes it needs.
func (o options) region() region.Options {
	return region.Options{ReadOnly: o.readOnly, Follow: o.follow, Shared: o.shared, MustExist: o.mustExist, CreateNew: o.createNew,
		LockTimeout: o.lockTimeout, Mode: o.mode, Reserve: o.reserve, Advice: region.Advice(o.advice),
		HeadSize: format.HeaderSize, HeadOnly: o.headOnly, HeadOnlyBlocks: format.NewRegionMax}
}

func buildOptions(opts []Option) options {
	o := options{mode: 0o644, reserve: DefaultReserve}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// fileOptions builds the options of OpenFile and refuses those that
// contradict each other.
func fileOptions(path string, opts []Option) (options, error) {
	o := buildOptions(opts)
	switch {
	case o.tempGiven:
		return o, fmt.Errorf("memvec: open %s: TempDir applies to Make and MakeBytes only: a file that is opened has a name", path)
	case o.follow && o.readOnly:
		return o, fmt.Errorf("memvec: open %s: Follow and ReadOnly exclude each other: a follower reads beside a writer, a ReadOnly reader locks writers out", path)
	case o.follow && o.lockWaits:
		return o, fmt.Errorf("memvec: open %s: LockTimeout does not apply to a follower, which takes no lock a writer holds", path)
	case o.shared && o.readOnly:
		return o, fmt.Errorf("memvec: open %s: Shared and ReadOnly exclude each other: a Shared handle writes", path)
	case o.shared && o.follow:
		return o, fmt.Errorf("memvec: open %s: Shared and Follow exclude each other: a follower writes nothing, and follows Shared writers without the option", path)
	case o.shared && o.syncGiven:
		return o, fmt.Errorf("memvec: open %s: SyncEvery does not apply to a Shared writer yet: call Sync, which makes every writer's elements durable", path)
	case o.createNew && o.mustExist:
		return o, fmt.Errorf("memvec: open %s: CreateNew and MustExist exclude each other: one creates the file, the other never does", path)
	case o.createNew && o.readOnly:
		return o, fmt.Errorf("memvec: open %s: CreateNew and ReadOnly exclude each other: a ReadOnly open never creates the file", path)
	case o.createNew && o.follow:
		return o, fmt.Errorf("memvec: open %s: CreateNew and Follow exclude each other: a follower never creates the file", path)
	case o.syncGiven && o.readOnly:
		return o, fmt.Errorf("memvec: open %s: SyncEvery and ReadOnly exclude each other: a ReadOnly open writes nothing to make durable", path)
	case o.syncGiven && o.follow:
		return o, fmt.Errorf("memvec: open %s: SyncEvery and Follow exclude each other: a follower writes nothing to make durable", path)
	case o.syncGiven && o.syncEvery <= 0:
		return o, fmt.Errorf("memvec: open %s: SyncEvery(%v): the period must be more than zero", path, o.syncEvery)
	}
	return o, o.checkReserve("open", path)
}

// anonOptions builds the options of NewAnon and Make, for the operation op
// ("map", "make"), and refuses every option but Reserve and Advise, naming
// it: an option given to anonymous memory is a mistake, not a preference
// to ignore.
func anonOptions(op string, opts []Option) (options, error) {
	o := buildOptions(opts)
	if name := o.firstGiven("ReadOnly", "Follow", "Shared", "MustExist", "CreateNew", "LockTimeout", "Mode", "SyncEvery", "TempDir"); name != "" {
		return o, fmt.Errorf("memvec: %s anonymous memory: option %s does not apply to anonymous memory", op, name)
	}
	return o, o.checkReserve(op, "anonymous memory")
}

// makeOptions builds the options of Make and MakeBytes: anonOptions', or
// with TempDir, a scratch file's, which take Reserve and Advise too and
// refuse every other option, naming it. name is what errors call the
// region ("anonymous memory", or the unnamed file in its directory).
func makeOptions(opts []Option) (o options, name string, err error) {
	o = buildOptions(opts)
	if !o.tempGiven {
		o, err = anonOptions("make", opts)
		return o, "anonymous memory", err
	}
	if o.tempDir == "" {
		o.tempDir = os.TempDir()
	}
	name = "unnamed file in " + o.tempDir
	if given := o.firstGiven("ReadOnly", "Follow", "Shared", "MustExist", "CreateNew", "LockTimeout", "Mode", "SyncEvery"); given != "" {
		return o, name, fmt.Errorf("memvec: make %s: option %s does not apply to TempDir, whose file nobody else opens and nothing keeps", name, given)
	}
	return o, name, o.checkReserve("make", name)
}

// firstGiven returns the first of the named options that o was given, or
// "" if none was.
func (o options) firstGiven(names ...string) string {
	given := map[string]bool{"ReadOnly": o.readOnly, "Follow": o.follow, "Shared": o.shared, "MustExist": o.mustExist,
		"CreateNew": o.createNew, "LockTimeout": o.lockWaits, "Mode": o.modeGiven, "SyncEvery": o.syncGiven, "TempDir": o.tempGiven}
	for _, n := range names {
		if given[n] {
			return n
		}
	}
	return ""
}

// ReadOnly opens the file for reading only: it takes a shared lock, so that
// any number of readers may open the file at once but no writer, and maps it
// read-only. The file must exist (a missing one is an error wrapping
// fs.ErrNotExist), so MustExist adds nothing to it, and CreateNew
// contradicts it: OpenFile returns an error. Mutators that return an error
// return ErrReadOnly; the others panic. Writing through a view faults.
func ReadOnly() Option {
	return func(o *options) { o.readOnly = true }
}

// Shared opens the file as one of any number of Shared writers, in this
// process or others (one handle per goroutine), that Push and Append to it
// at once: every element lands exactly once and whole, the elements of one
// Append together and in order, and each handle's elements in the order it
// pushed them. A handle sees its own elements at once, and the others'
// after Refresh or Wait, as a follower does; followers see everyone's.
// In-place writes through Slice and Set are allowed: a
// MemVec[atomic.Uint64] opened Shared in several processes counts exactly
// with v.Slice()[i].Add(1). Operations that rewrite or drop elements, or
// cut or replace the file, return an error wrapping ErrShared (see
// ErrShared); Sync makes durable every element any writer published before
// it was called.
//
// An exclusive writer (Open without options) and Shared writers exclude
// each other with ErrLocked, and ReadOnly excludes both; LockTimeout
// applies. At most 1,024 Shared writers have one file open at once.
//
// The appends are ordered by a lock in the file's header that the last
// writer to push keeps while it goes on alone, so that a writer pushing
// alone pays no handoff per push. A writer that wants it waits until its
// holder has pushed 4,096 more elements, has pushed nothing for 200 µs, or
// has died, and then takes it over: a writer that dies at any instruction
// stops the others for no longer than that, plus the time its system takes
// to release a dead process's locks (at once on Linux). FORMAT.md
// ("Shared writers") gives the protocol.
//
// Shared needs byte-range locks that belong to a descriptor (open file
// description locks): on Linux and Windows only. Elsewhere (macOS, the
// BSDs) the open fails with an error wrapping errors.ErrUnsupported.
// Shared excludes ReadOnly, Follow and, for now, SyncEvery.
//
// OpenBytes takes it too: Push, PushString, PushFunc and Append of a Bytes
// opened Shared land as a vector's elements do, each record once and
// whole; Truncate panics with a message naming ErrShared.
func Shared() Option {
	return func(o *options) { o.shared = true }
}

// MustExist makes the open fail, with an error wrapping fs.ErrNotExist, if
// the file is missing: OpenFile never creates it. Without it a writer's
// open creates a missing file. An existing file that is empty still opens
// as a new, empty vector. With ReadOnly or Follow, which never create the
// file either, it changes nothing. It contradicts CreateNew: OpenFile
// returns an error.
func MustExist() Option {
	return func(o *options) { o.mustExist = true }
}

// CreateNew makes the open create the file, and fail with an error wrapping
// fs.ErrExist if something already exists at the path (O_CREAT|O_EXCL on
// Unix, CREATE_NEW on Windows): of several handles, in this process or
// others, that open one path with CreateNew at once, exactly one succeeds,
// and it opens a file nobody else wrote. The new file is made durable as
// any file OpenFile creates is: Open's vector writes its header and syncs
// it, and on Unix its directory (if the caller may open it: see
// File.Sync), before it returns. If anything after the creation fails (a
// full disk, no descriptor left for the directory), Open removes the file
// it created, so that trying again can succeed. A symbolic link at the
// path counts as existing, even a dangling one. CreateNew contradicts
// MustExist, ReadOnly and Follow, which never create the file: OpenFile
// returns an error.
func CreateNew() Option {
	return func(o *options) { o.createNew = true }
}

// LockTimeout makes the open wait up to d for another handle to release the
// file's lock, polling, before it fails with ErrLocked. The default, like a
// d of zero or less, is to fail at once: an open never waits forever.
func LockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout, o.lockWaits = d, true }
}

// Reserve sets how much address space a region reserves, so that it grows
// in place up to n bytes: views (Slice, pointers into it, running
// iterators) stay valid across growth. Reserved address space costs no
// memory and no disk; only what the vector holds does. Past n bytes the
// region moves to a reservation twice as large and every view taken before
// becomes invalid; that is the only time a region moves. If the system
// refuses the reservation (a ulimit on address space), the region reserves
// only what it needs and moves on every growth. The default is
// DefaultReserve; a negative n is an error from the open (or Make, NewAnon). Reserve applies to Open, OpenFile, Make and NewAnon (with
// Advise, the only options the last two take); a read-only file reserves nothing, since it cannot grow, and neither does a
// file on Windows, which is mapped anew at every resize (see File).
func Reserve(n int) Option {
	return func(o *options) { o.reserve = n }
}

// Mode sets the permission bits of a file that OpenFile creates (before the
// umask). The default is 0644. It has no effect on an existing file, and so
// none with MustExist, ReadOnly or Follow. On Windows, which has no
// permission bits, a mode without the owner's write bit creates the file
// read-only, and the rest is ignored.
func Mode(perm fs.FileMode) Option {
	return func(o *options) { o.mode, o.modeGiven = perm.Perm(), true }
}

// SyncEvery makes a writer make its changes durable in the background, as
// Sync does, within d of the first change that is not yet durable, and not
// at all while nothing changes: what a power loss or a reboot can take is
// then bounded by about d (as Redis' appendfsync everysec, or Kafka's
// flush.ms), plus the time a Sync takes. Close ends with a last Sync, and
// stops it. The error of a background Sync is not lost: the next Push,
// Append, Sync or Close returns it (and every mutator that returns an
// error), and a barrier that failed fails the vector for good, as a failed
// Sync does (see MemVec.Sync): the vector drops what the last Sync that
// succeeded did not cover, at the next call.
//
// The vector stays one goroutine's (see the package documentation on
// concurrency): the Sync runs in a goroutine of its own, which every call
// of the vector but Push's fast path keeps out while it runs, so Push
// costs what it did; a call waits for a background Sync that is under way,
// and a background Sync for the call. A Sync runs while Push writes past
// the length it covers, never while a Set, Insert, growth or Clip changes
// the elements or the mapping. Writes through Slice() or pointers into the
// vector are not calls: one below the length that a background Sync is
// reading may be counted by the Sync's checksum in either version, and a
// reboot then drops it and what follows, back to the Sync before.
//
// SyncEvery applies to the vectors Open and New make of a File that a
// writer opened, and to OpenMap (see there); a d of zero or less is an
// error, and so is SyncEvery with ReadOnly or Follow, which write nothing,
// given to Make or NewAnon, whose memory no reboot keeps, or to Migrate.
func SyncEvery(d time.Duration) Option {
	return func(o *options) { o.syncEvery, o.syncGiven = d, true }
}

// TempDir makes Make and MakeBytes keep their regions in a file in the
// directory dir that no name reaches, instead of anonymous memory: a
// vector larger than the memory then needs no swap, its pages going to
// and from the file as the system's page cache sees fit, and no cleanup,
// since its disk space goes back to the filesystem at Close or when the
// process dies, however it dies. An empty dir is os.TempDir() (on Linux
// often a tmpfs, which is memory: give a directory on a disk, such as
// /var/tmp, for a vector larger than the memory).
//
// On Linux the file is an O_TMPFILE, which never has a name; where the
// filesystem lacks it, and on macOS and the BSDs, it is a new file whose
// name is removed at once (a process killed in the microseconds between
// leaves an empty file named memvec-<hex> in dir). On Windows it is
// created for deletion at its close, shared with nobody, and its name
// removed at once with POSIX semantics where the system allows (NTFS
// since Windows 10 1709); elsewhere the name stays in dir until Close,
// but no open of it succeeds. MakeBytes makes two such files, one for
// each of its regions.
//
// The vector grows as a file vector does: its disk blocks are reserved
// before its mapping covers them (so Make's capacity takes its disk space
// at once), a full disk is an error wrapping ENOSPC from Push, Append or
// Grow and not a SIGBUS, and a view stays valid across growth within the
// reservation (on Windows, where a view of a file cannot grow, every
// growth moves it, as for a File). Nothing of a File's durability
// applies: Sync does nothing, Close writes nothing back, no header is
// made durable, no lock is taken and nothing ever fsyncs. The pages the
// kernel writes back on its own are the price of memory it frees; those
// it has not written when the file is closed are dropped unwritten.
//
// TempDir applies to Make and MakeBytes, with Reserve and Advise; they
// return an error naming any other option given with it. Open, OpenFile,
// OpenBytes, NewAnon, Migrate and Relabel return an error for TempDir.
func TempDir(dir string) Option {
	return func(o *options) { o.tempDir, o.tempGiven = dir, true }
}
