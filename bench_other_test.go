//go:build !linux

package memvec

import (
	"errors"
	"testing"
	"time"
)

// newMremapRegion skips: mremap, BenchmarkGrowth's baseline, is Linux's.
func newMremapRegion(b *testing.B) Memory {
	b.Skip("mremap is Linux-only")
	return nil
}

// evictFile cannot evict a file from the page cache here.
func evictFile(path string) error { return errors.ErrUnsupported }

// minorFaults returns -1: the page faults are counted on Linux only.
func minorFaults() int64 { return -1 }

// threadReadBytes returns -1: the bytes read are counted on Linux only.
func threadReadBytes() int64 { return -1 }

// threadCPU returns -1: the thread's CPU time is read on Linux only.
func threadCPU() time.Duration { return -1 }
