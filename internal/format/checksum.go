package format

import (
	"hash/crc32"
	"runtime"
	"runtime/debug"
	"sync"
)

// The CRC-32C of a large range on several CPUs.
//
// A Close records the checksum of every element written since the last
// Sync (the clean-shutdown record, see recordClose): after 10,000,000
// pushes of 24 bytes, 240 MB, about 25 ms at the hardware CRC's speed, most
// of what a Close costs. A CRC is linear, so the range can be cut into
// parts whose checksums are computed at once on different CPUs and then
// combined (crc32cCombine) into exactly the checksum of the whole: the
// bytes on the disk and FORMAT.md are the same either way.

// castagnoliReflected is the Castagnoli polynomial in the bit order of the
// CRC's register (bit 31 the coefficient of x^0), as hash/crc32 uses it.
const castagnoliReflected = 0x82f63b78

// checksumSplitMin is the size from which checksum splits its work, in
// parts of at least half of it: below it, a goroutine's start and the wait
// for it cost about what the second part saves. On this project's two-CPU
// machine, with the other CPU free, a range of 240 MB of a mapped file took
// 15–17 ms in two parts against 22–23 ms in one; from 1 to 4 MiB, two parts
// were no faster than one (39–157 µs) in any run.
const checksumSplitMin = 8 << 20

// checksum returns the CRC-32C of b, as crc32.Checksum(b, Castagnoli) does,
// computing the parts of a large b on up to GOMAXPROCS CPUs at once.
//
// b may be a mapped file that another program cuts under it: a part's
// goroutine runs with the caller's SetPanicOnFault setting, and a fault in
// it is panicked again in the caller's goroutine once every part is done,
// where the caller's recovery turns it into an error; without
// the setting, the fault ends the program as one in the caller would.
func checksum(b []byte) uint32 {
	return checksumParts(b, min(runtime.GOMAXPROCS(0), len(b)/(checksumSplitMin/2)))
}

// checksumParts is checksum's work: the CRC-32C of b, computed in as many
// parts of it, each by its own goroutine (the caller's the first).
func checksumParts(b []byte, parts int) uint32 {
	if parts < 2 || len(b) < parts {
		return crc32.Checksum(b, Castagnoli)
	}
	guarded := debug.SetPanicOnFault(true)
	debug.SetPanicOnFault(guarded)
	size := ((len(b)+parts-1)/parts + 63) &^ 63 // whole cache lines; the last part the shorter
	sums := make([]uint32, parts)
	faults := make([]any, parts)
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if guarded {
				debug.SetPanicOnFault(true)
				defer func() { faults[i] = recover() }()
			}
			sums[i] = crc32.Checksum(b[min(i*size, len(b)):min((i+1)*size, len(b))], Castagnoli)
		}()
	}
	func() {
		defer wg.Wait() // a fault of the caller's own part waits for the others before it goes on
		sums[0] = crc32.Checksum(b[:min(size, len(b))], Castagnoli)
	}()
	sum := sums[0]
	for i := 1; i < parts; i++ {
		if faults[i] != nil {
			panic(faults[i])
		}
		sum = crc32cCombine(sum, sums[i], min((i+1)*size, len(b))-min(i*size, len(b)))
	}
	return sum
}

// crc32cCombine returns the CRC-32C of the bytes a followed by the bytes b,
// given crcA, the CRC-32C of a, crcB, that of b, and lenB, the length of b:
// zlib's crc32_combine, for the Castagnoli polynomial. Appending lenB bytes
// to a multiplies a's remainder by x^(8·lenB), and the pre- and
// post-inversions of the standard CRC cancel in the sum.
func crc32cCombine(crcA, crcB uint32, lenB int) uint32 {
	return gf2MulMod(x2nMod(uint64(lenB), 3), crcA) ^ crcB
}

// gf2MulMod returns a·b modulo the Castagnoli polynomial, both reflected
// (see castagnoliReflected).
func gf2MulMod(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ castagnoliReflected
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nPowers[k] is x^(2^k) modulo the Castagnoli polynomial, reflected, for
// k up to 66: x2nMod(n, 3) of any 64-bit n.
var x2nPowers = func() (t [67]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = gf2MulMod(p, p)
	}
	return t
}()

// x2nMod returns x^(n·2^k) modulo the Castagnoli polynomial, reflected,
// for n below 2^64 and k up to 3.
func x2nMod(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = gf2MulMod(x2nPowers[k], p)
		}
		k++
	}
	return p
}

// ChecksumSplitMin is the size from which a checksum is computed in parts
// (see checksum).
const ChecksumSplitMin = checksumSplitMin

// ChecksumParts is the CRC-32C of b computed in parts goroutines (see
// checksum): for tests that need it split whatever the CPUs.
func ChecksumParts(b []byte, parts int) uint32 { return checksumParts(b, parts) }
