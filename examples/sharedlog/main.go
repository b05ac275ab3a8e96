// Command sharedlog is one log file that several worker processes append to
// at once, each with its own handle opened with memvec.Shared, while this
// process follows the log as it grows, as `tail -f` would.
//
//	go run ./examples/sharedlog                           # 4 workers × 100,000 records, in a temporary file
//	go run ./examples/sharedlog -workers 8 -n 1000000 -file app.vec
//
// The program starts the workers (itself again, with -worker), waits for the
// log to hold all their records, then checks what the Shared writers promise:
// every record is there once and whole, and each worker's records are in the
// order it pushed them. It prints how the records of the workers interleave
// (how many runs of one worker's records the log holds), and exits with status
// 1 if a check fails.
//
// A run with -file appends to that file: the checks then look at this run's
// records only (those after the length the log had when the run began).
// Shared writers are supported on Linux and Windows; elsewhere the program
// says so and exits with status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/memvec/memvec"
)

// Record is one log entry: plain data, 64 bytes. Worker and Seq say who
// pushed it and in what order, so that the log can be checked.
type Record struct {
	Worker uint32
	Seq    uint32
	Time   int64    // Unix nanoseconds
	Msg    [48]byte `memvec:"string"`
}

func main() {
	workers := flag.Int("workers", 4, "how many worker processes append at once")
	n := flag.Int("n", 100_000, "how many records each worker appends")
	file := flag.String("file", "", "the log file (default: a new one in a temporary directory, removed at the end)")
	worker := flag.Int("worker", -1, "run as worker `ID` (the program starts its workers this way)")
	flag.Parse()
	log.SetFlags(0)
	if *worker >= 0 {
		if err := work(*file, uint32(*worker), *n); err != nil {
			log.Fatalf("worker %d: %v", *worker, err)
		}
		return
	}
	if err := run(*file, *workers, *n); err != nil {
		log.Fatal(err)
	}
}

// work is one worker process: it opens the log Shared, beside the others,
// and appends its n records, numbered from 0.
func work(path string, id uint32, n int) error {
	v, err := memvec.Open[Record](path, memvec.Shared(), memvec.MustExist())
	if err != nil {
		return err
	}
	for seq := range n {
		r := Record{Worker: id, Seq: uint32(seq), Time: time.Now().UnixNano()}
		copy(r.Msg[:], "request served in "+strconv.Itoa(seq%997)+" µs")
		if err := v.Push(r); err != nil {
			v.Close()
			return err
		}
	}
	// Sync makes every record published so far durable (the others' too).
	if err := v.Sync(); err != nil {
		v.Close()
		return err
	}
	return v.Close()
}

func run(path string, workers, n int) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "sharedlog-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "app.vec")
	}
	// Create the log if it does not exist yet: a Shared open creates it,
	// as Open does. The workers then join it with MustExist.
	v, err := memvec.Open[Record](path, memvec.Shared())
	if errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("%w (Shared writers need Linux or Windows)", err)
	}
	if err != nil {
		return err
	}
	if err := v.Close(); err != nil {
		return err
	}

	// Follow the log: a follower takes no lock a writer waits on, and Wait
	// sleeps until any writer pushes.
	f, err := memvec.Open[Record](path, memvec.Follow())
	if err != nil {
		return err
	}
	defer f.Close()
	from := f.Len()

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
	// Wait for every record, or for a worker to fail.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		for range workers {
			if err := <-done; err != nil {
				cancel(fmt.Errorf("a worker failed: %w", err))
				return
			}
		}
	}()
	// Wait(ctx, n) returns once the log holds more than n records: the
	// follower sees the records of all the workers as they land.
	want := from + workers*n
	waits := 0
	for got := from; got < want; waits++ {
		if got, err = f.Wait(ctx, got); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return cause
			}
			return err
		}
	}
	took := time.Since(start)
	fmt.Printf("%d workers appended %d records to %s in %v (%.0f records a second); this process followed them, woken %d times\n",
		workers, workers*n, path, took.Round(time.Millisecond), float64(workers*n)/took.Seconds(), waits)
	return check(f.Slice()[from:], workers, n)
}

// check reports whether log holds every worker's records once each, in
// the order each pushed them, and says how they interleave.
func check(log []Record, workers, n int) error {
	if len(log) != workers*n {
		return fmt.Errorf("the log holds %d records of this run, not %d", len(log), workers*n)
	}
	next := make([]uint32, workers)
	runs := 0
	for i, r := range log {
		if int(r.Worker) >= workers {
			return fmt.Errorf("record %d names worker %d: there are %d", i, r.Worker, workers)
		}
		if r.Seq != next[r.Worker] {
			return fmt.Errorf("record %d is worker %d's number %d, where its number %d was next", i, r.Worker, r.Seq, next[r.Worker])
		}
		next[r.Worker]++
		if i == 0 || log[i-1].Worker != r.Worker {
			runs++
		}
	}
	fmt.Printf("checked: each worker's %d records are there once, whole and in its order; the log holds them in %d runs of one worker's records (%.0f records a run)\n",
		n, runs, float64(len(log))/float64(runs))
	return nil
}
