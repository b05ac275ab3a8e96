// Command counters is a metrics block that several processes count in at
// once: a vector file of atomic counters, opened with memvec.Shared in each
// process, incremented in place with Add and no other lock, and read at any
// moment by another process (`memvec dump` prints it too).
//
//	go run ./examples/counters                          # 4 workers × 1,000,000 requests, in a temporary file
//	go run ./examples/counters -workers 8 -file metrics.vec
//
// The program starts the workers (itself again, with -worker). Each serves
// -n pretend requests and counts them in the block: requests, bytes sent,
// errors (every 100th request), and the slowest request seen (a maximum,
// kept with CompareAndSwap). While they run, this process samples the
// block; at the end it checks that the counts are exact, and exits with
// status 1 if not. A run with -file adds to the counts in that file (the
// check compares the growth). Shared writers are supported on Linux and
// Windows; elsewhere the program says so and exits with status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/memvec/memvec"
)

// Metrics is the block: one element, plain data, whose fields are counted
// in place by every process that has the file open.
type Metrics struct {
	Requests atomic.Uint64
	Bytes    atomic.Uint64
	Errors   atomic.Uint64
	SlowestN atomic.Uint64 // nanoseconds
}

func main() {
	workers := flag.Int("workers", 4, "how many worker processes count at once")
	n := flag.Int("n", 1_000_000, "how many requests each worker serves")
	file := flag.String("file", "", "the metrics file (default: a new one in a temporary directory, removed at the end)")
	worker := flag.Int("worker", -1, "run as worker `ID` (the program starts its workers this way)")
	flag.Parse()
	log.SetFlags(0)
	if *worker >= 0 {
		if err := work(*file, *worker, *n); err != nil {
			log.Fatalf("worker %d: %v", *worker, err)
		}
		return
	}
	if err := run(*file, *workers, *n); err != nil {
		log.Fatal(err)
	}
}

// size is request i's response size: what every worker sends, so that the
// total is known.
func size(i int) uint64 { return uint64(200 + i%1000) }

// work is one worker process: it serves n requests and counts them in the
// block, which it opens Shared, beside the other workers.
func work(path string, id, n int) error {
	v, err := memvec.Open[Metrics](path, memvec.Shared(), memvec.MustExist())
	if err != nil {
		return err
	}
	defer v.Close()
	m := &v.Slice()[0] // in place: every Add is seen by every process at once
	for i := range n {
		m.Requests.Add(1)
		m.Bytes.Add(size(i))
		if i%100 == 99 {
			m.Errors.Add(1)
		}
		if i%50_000 == 0 {
			// A maximum across processes: raise it only if it is still lower.
			took := uint64(1000*id + i/1000)
			for old := m.SlowestN.Load(); took > old && !m.SlowestN.CompareAndSwap(old, took); old = m.SlowestN.Load() {
			}
		}
	}
	return v.Close()
}

func run(path string, workers, n int) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "counters-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "metrics.vec")
	}
	// This process opens the block Shared too: it creates the file and
	// its one element if they are not there yet, and reads the counts.
	v, err := memvec.Open[Metrics](path, memvec.Shared())
	if errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("%w (Shared writers need Linux or Windows)", err)
	}
	if err != nil {
		return err
	}
	defer v.Close()
	if v.Len() == 0 {
		if err := v.Push(Metrics{}); err != nil {
			return err
		}
	}
	m := &v.Slice()[0]
	before := m.Requests.Load()
	beforeBytes, beforeErrors := m.Bytes.Load(), m.Errors.Load()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, workers)
	for id := range workers {
		cmd := exec.Command(exe, "-worker", strconv.Itoa(id), "-n", strconv.Itoa(n), "-file", path)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		go func() { done <- cmd.Wait() }()
	}
	// Sample the block while the workers count: what a monitoring process
	// beside a server fleet does.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for left := workers; left > 0; {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("a worker failed: %w", err)
			}
			left--
		case <-tick.C:
			fmt.Printf("  %6.1fs  requests %d\n", time.Since(start).Seconds(), m.Requests.Load()-before)
		}
	}
	took := time.Since(start)
	requests := m.Requests.Load() - before
	fmt.Printf("%d workers counted %d requests in %s in %v (%.0f increments a second, all counters)\n",
		workers, requests, path, took.Round(time.Millisecond), float64(2*requests+m.Errors.Load()-beforeErrors)/took.Seconds())

	var wantBytes uint64
	for i := range n {
		wantBytes += size(i)
	}
	wantBytes *= uint64(workers)
	switch {
	case requests != uint64(workers*n):
		return fmt.Errorf("requests: %d counted, %d served", requests, workers*n)
	case m.Bytes.Load()-beforeBytes != wantBytes:
		return fmt.Errorf("bytes: %d counted, %d sent", m.Bytes.Load()-beforeBytes, wantBytes)
	case m.Errors.Load()-beforeErrors != uint64(workers*(n/100)):
		return fmt.Errorf("errors: %d counted, %d failed", m.Errors.Load()-beforeErrors, workers*(n/100))
	}
	fmt.Printf("checked: requests %d, bytes %d, errors %d, slowest %d ns: every increment of every process counted once\n",
		requests, m.Bytes.Load()-beforeBytes, m.Errors.Load()-beforeErrors, m.SlowestN.Load())
	return nil
}
