package memvec

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mremapRegion is the baseline growth of BenchmarkGrowth: an anonymous
// mapping resized with mremap(MREMAP_MAYMOVE), which may move it.
type mremapRegion struct {
	p unsafe.Pointer
	n int
}

func newMremapRegion(b *testing.B) Memory { return &mremapRegion{} }

func (r *mremapRegion) Bytes() []byte { return unsafe.Slice((*byte)(r.p), r.n) }

func (r *mremapRegion) Resize(n int) (err error) {
	if r.n == 0 {
		r.p, err = unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	} else {
		r.p, err = unix.MremapPtr(r.p, uintptr(r.n), nil, uintptr(n), unix.MREMAP_MAYMOVE)
	}
	if err == nil {
		r.n = n
	}
	return err
}

func (r *mremapRegion) Sync() error  { return nil }
func (r *mremapRegion) Close() error { return unix.MunmapPtr(r.p, uintptr(r.n)) }
