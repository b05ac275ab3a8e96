package format

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestCRC32CCombine checks that the combined CRC-32C of the two parts of
// random bytes, cut at random places (empty parts included), is
// crc32.Checksum of the whole.
func TestCRC32CCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for range 2000 {
		n := r.IntN(len(b) + 1)
		cut := r.IntN(n + 1)
		whole := b[:n]
		got := crc32cCombine(crc32.Checksum(whole[:cut], Castagnoli), crc32.Checksum(whole[cut:], Castagnoli), n-cut)
		if want := crc32.Checksum(whole, Castagnoli); got != want {
			t.Fatalf("%d bytes cut at %d: combined %#08x, the whole's CRC-32C is %#08x", n, cut, got, want)
		}
	}
}

// TestChecksumSplit checks that checksum, which splits a large range on the
// CPUs, returns crc32.Checksum of the whole at sizes about the size from
// which it splits, and at sizes that do not divide into its parts evenly.
func TestChecksumSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 4*checksumSplitMin+12345)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	sizes := []int{0, 1, checksumSplitMin/2 - 1, checksumSplitMin - 1, checksumSplitMin, checksumSplitMin + 1, 3*checksumSplitMin + 7, len(b)}
	for range 10 {
		sizes = append(sizes, r.IntN(len(b)+1))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for _, n := range sizes {
			if got, want := checksum(b[:n]), crc32.Checksum(b[:n], Castagnoli); got != want {
				t.Fatalf("GOMAXPROCS %d, %d bytes: checksum %#08x, crc32.Checksum %#08x", procs, n, got, want)
			}
			if got, want := checksumParts(b[:n], 5), crc32.Checksum(b[:n], Castagnoli); got != want {
				t.Fatalf("%d bytes in 5 parts: checksum %#08x, crc32.Checksum %#08x", n, got, want)
			}
		}
	}
}

// BenchmarkChecksum is the CRC-32C of a range of each size, split on the
// CPUs (impl=split, at any size) against crc32.Checksum in one goroutine
// (impl=serial): where splitting pays, for checksumSplitMin.
// (GOMAXPROCS parts: run it with -test.cpu to try other counts.)
func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 256<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, size := range []int{256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 16 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB/impl=serial", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				crc32.Checksum(buf[:size], Castagnoli)
			}
		})
		b.Run(fmt.Sprintf("size=%dKiB/impl=split", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				checksumParts(buf[:size], runtime.GOMAXPROCS(0))
			}
		})
	}
}
