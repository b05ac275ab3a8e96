// Command pointcloud keeps a million 3-D points in anonymous memory made by
// memvec.Make, computes their bounding box and centroid, and prints the Go
// heap next to the size of the data: the points are not on the heap, so the
// garbage collector neither counts nor scans them.
//
//	go run ./examples/pointcloud
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"unsafe"

	"github.com/memvec/memvec"
)

// Point is one point of the cloud: 12 bytes of plain data.
type Point struct{ X, Y, Z float32 }

const n = 1_000_000

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pointcloud:", err)
		os.Exit(1)
	}
}

func run() error {
	// Make reserves room for n points; the pages are taken from the
	// system only as they are written.
	cloud, err := memvec.Make[Point](n)
	if err != nil {
		return err
	}
	defer cloud.Close()

	// A deterministic pseudo-random cloud in the box [-10,10] x [-5,5] x [0,2].
	rng := splitmix64(1)
	for range n {
		p := Point{
			X: 20*rng.float32() - 10,
			Y: 10*rng.float32() - 5,
			Z: 2 * rng.float32(),
		}
		if err := cloud.Push(p); err != nil {
			return err
		}
	}

	lo := Point{math.MaxFloat32, math.MaxFloat32, math.MaxFloat32}
	hi := Point{-math.MaxFloat32, -math.MaxFloat32, -math.MaxFloat32}
	var sx, sy, sz float64
	for p := range cloud.Values() {
		lo = Point{min(lo.X, p.X), min(lo.Y, p.Y), min(lo.Z, p.Z)}
		hi = Point{max(hi.X, p.X), max(hi.Y, p.Y), max(hi.Z, p.Z)}
		sx, sy, sz = sx+float64(p.X), sy+float64(p.Y), sz+float64(p.Z)
	}
	count := float64(cloud.Len())
	fmt.Printf("points:   %d\n", cloud.Len())
	fmt.Printf("min:      (%.3f, %.3f, %.3f)\n", lo.X, lo.Y, lo.Z)
	fmt.Printf("max:      (%.3f, %.3f, %.3f)\n", hi.X, hi.Y, hi.Z)
	fmt.Printf("centroid: (%.3f, %.3f, %.3f)\n", sx/count, sy/count, sz/count)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	data := cloud.Len() * int(unsafe.Sizeof(Point{}))
	fmt.Printf("data:      %6.1f MiB in the vector (off the Go heap)\n", mib(data))
	fmt.Printf("HeapAlloc: %6.1f MiB on the Go heap\n", mib(int(ms.HeapAlloc)))
	return cloud.Close()
}

func mib(n int) float64 { return float64(n) / (1 << 20) }

// splitmix64 is a small deterministic generator, so that the output is the
// same on every run and every platform.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// float32 returns a float32 in [0, 1).
func (s *splitmix64) float32() float32 { return float32(s.next()>>40) / (1 << 24) }
