//go:build linux && (amd64 || arm64)

package memvec

import (
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/stretchr/testify/require"
)

// crashfs is a filesystem for the power-loss tests, in the spirit of
// Jepsen's LazyFS: a FUSE filesystem kept in memory, which logs every
// operation that reaches it, so that the states a power loss could leave at
// any point can be built afterwards. The kernel's page cache sits between a
// program and it, as between a program and a disk: a write to a shared
// mapping reaches crashfs only when the kernel writes the page back (at
// msync, munmap, sync_file_range or its own writeback), and fsync reaches
// it as a barrier. What reached it before the last barrier is durable;
// every page written since may or may not be, in any version written. A
// name (a create, a rename, a removal) is durable once the directory is
// fsynced; a power loss before that keeps any prefix of those since.
//
// Marks put the workload's progress in the log: a mkdir of "mark-N" in the
// root is logged as mark N and refused.
//
// A test can make it refuse write-back on demand (failWriteBack): a WRITE
// then fails with the error it sets, as on a full or failing disk, and
// writes and logs nothing, until the test sets it back to 0.

type crashKind int

const (
	evCreate  crashKind = iota // a file was created: its name is not yet durable
	evDirSync                  // fsync of the directory: the names are durable
	evWrite                    // bytes written back to a file
	evSize                     // a file's size set (truncate, or fallocate past the end)
	evSync                     // fsync of a file: its bytes and size are durable
	evMark                     // the workload's mark
	evRename                   // a name renamed to newName, replacing what newName named
	evUnlink                   // a name removed
)

type crashEvent struct {
	kind    crashKind
	id      int    // the file's: events of a file keep it across renames
	name    string // the file's name when it was created, or the name renamed or removed
	newName string
	off     int64
	data    []byte
	size    int64
	mark    int
	at      time.Time // when it reached crashfs
}

type crashFS struct {
	mu     sync.Mutex
	log    []crashEvent
	nextID int

	// failWrites, if not 0, is the syscall.Errno that the WRITEs refused
	// return (see failWriteBack); refused counts them.
	failWrites atomic.Uintptr
	failFrom   atomic.Int64
	passes     atomic.Int64
	refused    atomic.Int64
}

// failWriteBack makes WRITEs fail with errno from now on (ENOSPC, EIO):
// every one that reaches past byte from of its file, and the others too
// once passes of them have succeeded (passes < 0: never). With errno 0,
// every WRITE succeeds again.
func (c *crashFS) failWriteBack(errno syscall.Errno, from, passes int64) {
	c.failFrom.Store(from)
	c.passes.Store(passes)
	c.failWrites.Store(uintptr(errno))
}

// refuses returns the error a WRITE of n bytes at off fails with, or 0 (see
// failWriteBack).
func (c *crashFS) refuses(off, n int64) syscall.Errno {
	errno := syscall.Errno(c.failWrites.Load())
	if errno == 0 || off+n <= c.failFrom.Load() && (c.passes.Load() < 0 || c.passes.Add(-1) >= 0) {
		return 0
	}
	c.refused.Add(1)
	return errno
}

func (c *crashFS) record(e crashEvent) {
	e.at = time.Now()
	c.mu.Lock()
	c.log = append(c.log, e)
	c.mu.Unlock()
}

// events returns the log so far.
func (c *crashFS) events() []crashEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crashEvent(nil), c.log...)
}

// mountCrashFS mounts a new crashfs on a temporary directory, unmounted
// when the test ends. It needs root and /dev/fuse, which CI has.
func mountCrashFS(t *testing.T) (dir string, c *crashFS) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("crashfs mounts FUSE directly, which needs root (CI runs as root)")
	}
	dir = tempDir(t)
	c = &crashFS{}
	srv, err := fs.Mount(dir, &crashDir{fs: c}, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMountStrict: true, FsName: "memvec-crashfs", Name: "crashfs"},
	})
	require.NoError(t, err, "mount crashfs (FUSE) on %s", dir)
	t.Cleanup(func() { srv.Unmount() })
	return dir, c
}

type crashDir struct {
	fs.Inode
	fs *crashFS
}

var (
	_ fs.NodeCreater  = (*crashDir)(nil)
	_ fs.NodeMkdirer  = (*crashDir)(nil)
	_ fs.NodeFsyncer  = (*crashDir)(nil)
	_ fs.NodeRenamer  = (*crashDir)(nil)
	_ fs.NodeUnlinker = (*crashDir)(nil)
)

func (d *crashDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	d.fs.mu.Lock()
	d.fs.nextID++
	f := &crashFile{fs: d.fs, name: name, id: d.fs.nextID}
	d.fs.mu.Unlock()
	ch := d.NewPersistentInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG})
	d.AddChild(name, ch, true)
	d.fs.record(crashEvent{kind: evCreate, id: f.id, name: name})
	out.Mode = syscall.S_IFREG | 0o644
	return ch, nil, 0, 0
}

func (d *crashDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n, ok := strings.CutPrefix(name, "mark-"); ok {
		if m, err := strconv.Atoi(n); err == nil {
			d.fs.record(crashEvent{kind: evMark, mark: m})
		}
	}
	return nil, syscall.EPERM
}

func (d *crashDir) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	d.fs.record(crashEvent{kind: evDirSync})
	return 0
}

// Rename renames within the root, replacing the target if there is one (go-fuse
// moves the node in its tree once this returns). Until the directory's next
// fsync a power loss may undo it.
func (d *crashDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if newParent.EmbeddedInode() != d.EmbeddedInode() || flags != 0 {
		return syscall.ENOTSUP
	}
	d.fs.record(crashEvent{kind: evRename, name: name, newName: newName})
	return 0
}

// Unlink removes a name (go-fuse drops the node from its tree once this
// returns). Until the directory's next fsync a power loss may undo it.
func (d *crashDir) Unlink(ctx context.Context, name string) syscall.Errno {
	d.fs.record(crashEvent{kind: evUnlink, name: name})
	return 0
}

type crashFile struct {
	fs.Inode
	fs   *crashFS
	id   int
	name string // at its creation
	mu   sync.Mutex
	data []byte
}

var (
	_ fs.NodeOpener    = (*crashFile)(nil)
	_ fs.NodeReader    = (*crashFile)(nil)
	_ fs.NodeWriter    = (*crashFile)(nil)
	_ fs.NodeFsyncer   = (*crashFile)(nil)
	_ fs.NodeGetattrer = (*crashFile)(nil)
	_ fs.NodeSetattrer = (*crashFile)(nil)
	_ fs.NodeAllocater = (*crashFile)(nil)
)

func (f *crashFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

func (f *crashFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, f.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *crashFile) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.fs.refuses(off, int64(len(data))); errno != 0 {
		return 0, errno
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := int(off) + len(data); end > len(f.data) {
		f.data = append(f.data, make([]byte, end-len(f.data))...)
	}
	copy(f.data[off:], data)
	f.fs.record(crashEvent{kind: evWrite, id: f.id, name: f.name, off: off, data: append([]byte(nil), data...)})
	return uint32(len(data)), 0
}

func (f *crashFile) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f.fs.record(crashEvent{kind: evSync, id: f.id, name: f.name})
	return 0
}

func (f *crashFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	out.Size = uint64(len(f.data))
	out.Mode = syscall.S_IFREG | 0o644
	return 0
}

func (f *crashFile) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size, ok := in.GetSize(); ok {
		f.resize(int64(size))
	}
	out.Size = uint64(len(f.data))
	out.Mode = syscall.S_IFREG | 0o644
	return 0
}

func (f *crashFile) Allocate(ctx context.Context, fh fs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := int64(off + size); mode == 0 && end > int64(len(f.data)) {
		f.resize(end)
	}
	return 0
}

// resize sets the file's size and logs it. The caller holds f.mu.
func (f *crashFile) resize(size int64) {
	if size > int64(len(f.data)) {
		f.data = append(f.data, make([]byte, size-int64(len(f.data)))...)
	} else {
		f.data = f.data[:size]
	}
	f.fs.record(crashEvent{kind: evSize, id: f.id, name: f.name, size: size})
}

// crashImage is what the log up to some point says of one file: its bytes
// and size as last made durable, and what was written since.
type crashImage struct {
	exists, named bool // created; its name made durable by a directory fsync
	durable       []byte
	pages         map[int64][][]byte // page -> the versions written back since the last fsync, in order
	sizes         []int64            // the sizes set since the last fsync
	current       []byte             // everything that reached the filesystem
}

// imageAt replays the log up to (not including) event k for the file
// created as name, which must not have been renamed.
func imageAt(log []crashEvent, k int, name string) *crashImage {
	return image(log, k, func(e crashEvent) bool { return e.id != 0 && e.name == name })
}

// imageOf replays the log up to (not including) event k for the file id,
// whatever its names.
func imageOf(log []crashEvent, k int, id int) *crashImage {
	return image(log, k, func(e crashEvent) bool { return e.id == id })
}

// image replays the log up to (not including) event k for the file whose
// events are those that match.
func image(log []crashEvent, k int, match func(crashEvent) bool) *crashImage {
	im := &crashImage{pages: map[int64][][]byte{}}
	for _, e := range log[:k] {
		switch {
		case e.kind == evDirSync:
			im.named = im.exists
		case !match(e):
		case e.kind == evCreate:
			im.exists = true
		case e.kind == evSync:
			im.durable = append([]byte(nil), im.current...)
			clear(im.pages)
			im.sizes = im.sizes[:0]
		case e.kind == evSize:
			im.current = resized(im.current, e.size)
			im.sizes = append(im.sizes, e.size)
		case e.kind == evWrite:
			if end := e.off + int64(len(e.data)); end > int64(len(im.current)) {
				im.current = resized(im.current, end)
				im.sizes = append(im.sizes, end)
			}
			copy(im.current[e.off:], e.data)
			for p := e.off / int64(pageSize); p*int64(pageSize) < e.off+int64(len(e.data)); p++ {
				lo := p * int64(pageSize)
				im.pages[p] = append(im.pages[p], append([]byte(nil), im.current[lo:min(lo+int64(pageSize), int64(len(im.current)))]...))
			}
		}
	}
	return im
}

func resized(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

// crashState is one state a power loss could leave the file in: ok is false
// if the file is not there at all.
type crashState struct {
	data []byte
	ok   bool
	how  string
}

// states returns states a power loss at this point could leave: the one
// with nothing since the last barrier, the one with everything, the one
// with only the first page (the header) new and the one with all but it,
// and random ones: each page written since the barrier in any of its
// versions or none, the file's size any set since, the name lost if it was
// never made durable.
func (im *crashImage) states(r *rand.Rand, random int) []crashState {
	if !im.exists {
		return []crashState{{how: "never created"}}
	}
	sizes := append([]int64{int64(len(im.durable))}, im.sizes...)
	build := func(how string, size int64, pick func(p int64, n int) int) crashState {
		b := resized(append([]byte(nil), im.durable...), size)
		for p, versions := range im.pages {
			if v := pick(p, len(versions)); v >= 0 {
				lo := p * int64(pageSize)
				if lo < int64(len(b)) {
					copy(b[lo:], versions[v])
				}
			}
		}
		return crashState{data: b, ok: true, how: how}
	}
	last := sizes[len(sizes)-1]
	out := []crashState{
		build("nothing since the barrier", sizes[0], func(int64, int) int { return -1 }),
		build("everything", last, func(_ int64, n int) int { return n - 1 }),
		build("only the header page", sizes[0], func(p int64, n int) int { return map[bool]int{true: n - 1, false: -1}[p == 0] }),
		build("all but the header page", last, func(p int64, n int) int { return map[bool]int{true: -1, false: n - 1}[p == 0] }),
	}
	for range random {
		out = append(out, build("random", sizes[r.IntN(len(sizes))], func(_ int64, n int) int { return r.IntN(n+1) - 1 }))
	}
	if !im.named {
		out = append(out, crashState{how: "the name lost"})
	}
	return out
}

// namedAt returns the files that name may denote after a power loss at
// event k of the log, as ids (0: no file), each once: the directory as its
// last fsync left it, then with each prefix of the creates, renames and
// removals since, which a journaling filesystem makes durable in order.
func namedAt(log []crashEvent, k int, name string) []int {
	cur, durable := map[string]int{}, map[string]int{}
	var pending []crashEvent
	for _, e := range log[:k] {
		switch e.kind {
		case evDirSync:
			durable, pending = maps.Clone(cur), nil
		case evCreate:
			cur[e.name] = e.id
			pending = append(pending, e)
		case evRename:
			cur[e.newName] = cur[e.name]
			delete(cur, e.name)
			pending = append(pending, e)
		case evUnlink:
			delete(cur, e.name)
			pending = append(pending, e)
		}
	}
	dir := maps.Clone(durable)
	ids := []int{dir[name]}
	for _, e := range pending {
		switch e.kind {
		case evCreate:
			dir[e.name] = e.id
		case evRename:
			dir[e.newName] = dir[e.name]
			delete(dir, e.name)
		case evUnlink:
			delete(dir, e.name)
		}
		if !slices.Contains(ids, dir[name]) {
			ids = append(ids, dir[name])
		}
	}
	return ids
}
