package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/memvec/memvec"
)

// dumpOptions are dump's flags.
type dumpOptions struct {
	jsonl    bool
	from, to int
	toSet    bool // -to was given
	follow   bool
}

// dump prints the elements of the file at path, one per line.
func dump(path string, o dumpOptions, stdout, stderr io.Writer) (err error) {
	// dump reads the elements in the file's mapping, which faults where
	// another program has cut the file: that is an error here.
	defer catchFault(path, debug.SetPanicOnFault(true), &err)
	if !o.toSet {
		o.to = math.MaxInt
	}
	opts := []memvec.Option{memvec.Advise(memvec.AdviseSequential)}
	var r *memvec.Raw
	ctx := context.Background()
	if o.follow {
		// Interrupted, a follower stops: exit status 0.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		r, err = awaitFile(ctx, path, stderr, append(opts, memvec.Follow())...)
	} else {
		r, _, err = open(path, opts...)
	}
	if err != nil {
		return asMap(path, err, func(m *memvec.RawMap, _ bool) error { return dumpMap(m, o, stdout) })
	}
	if r == nil {
		return nil // interrupted while waiting
	}
	defer r.Close()
	w := bufio.NewWriterSize(stdout, 64<<10)
	if !o.follow {
		if r.Layout() == nil {
			return nil // no header yet: no elements, and no layout for a csv header
		}
		e := newEncoder(r.Layout(), o.jsonl, w)
		e.header()
		rel := newReleaser(r, o.from)
		for i := o.from; i < min(o.to, r.Len()); i++ {
			e.element(r.Elem(i))
			rel.read(i + 1)
		}
		return e.flush()
	}

	var e *encoder
	var rel *releaser
	next := o.from // the first element not printed yet
	for {
		if e == nil && r.Layout() != nil {
			e = newEncoder(r.Layout(), o.jsonl, w)
			e.header()
			rel = newReleaser(r, next)
		}
		if e != nil {
			for ; next < min(o.to, r.Len()); next++ {
				e.element(r.Elem(next))
				rel.read(next + 1)
			}
			if err := e.flush(); err != nil {
				return err
			}
		}
		if next >= o.to {
			return nil
		}
		wait := func() error { _, err := r.Wait(ctx, next); return err }
		notice := fmt.Sprintf("memvec: dump %s: the writer changed or dropped elements: those printed may have changed; going on from element %d", path, next)
		if stop, err := awaitMore(ctx, wait, notice, stderr); stop {
			return err
		}
	}
}

// awaitMore is dump -follow's wait for more than it has printed: wait
// (Raw's or Bytes's Wait). It prints notice on stderr if the writer
// rewrote what was printed (ErrRewritten), and goes on. It reports stop
// when dump must end: interrupted (no error: what was printed is
// flushed), or with wait's error.
func awaitMore(ctx context.Context, wait func() error, notice string, stderr io.Writer) (stop bool, err error) {
	err = wait()
	switch {
	case ctx.Err() != nil:
		return true, nil
	case errors.Is(err, memvec.ErrRewritten):
		fmt.Fprintln(stderr, notice)
		return false, nil
	}
	return err != nil, err
}

// awaitFile opens the file at path with OpenRaw and opts (Follow), and if
// it does not exist yet, says so once on stderr and tries again, as tail -F
// does, every fileRetry at most, until it does or ctx ends (then it
// returns nil and no error). A follower never creates the file (see
// memvec.Follow): its writer does, maybe later than the follower starts.
func awaitFile(ctx context.Context, path string, stderr io.Writer, opts ...memvec.Option) (*memvec.Raw, error) {
	said := false
	for wait := time.Millisecond; ; wait = min(2*wait, fileRetry) {
		r, err := memvec.OpenRaw(path, opts...)
		if !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
		if !said {
			fmt.Fprintf(stderr, "memvec: dump %s: no such file yet: waiting for a writer to create it\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
	}
}

// fileRetry is how often, at most, dump -follow looks again for a file
// that does not exist yet.
const fileRetry = 100 * time.Millisecond

// catchFault is deferred by dump, with the setting that
// debug.SetPanicOnFault(true) replaced (wasOn), to turn a fault in its
// reads of the elements in the mapping of the file at path into an error
// wrapping memvec.ErrFileChanged: another program cut the file under the
// mapping. It puts the setting back, and lets any other panic go on.
// (memvec's own reads of the header, in OpenRaw, Refresh and Wait, return
// that error themselves, saying what they were doing.)
func catchFault(path string, wasOn bool, err *error) {
	debug.SetPanicOnFault(wasOn)
	r := recover()
	if r == nil {
		return
	}
	if !isFault(r) {
		panic(r)
	}
	what := "the file was cut by another program"
	if fi, serr := os.Stat(path); serr == nil {
		what = fmt.Sprintf("the file was cut to %d bytes by another program", fi.Size())
	}
	*err = fmt.Errorf("memvec: dump %s: %s while dump read it: %w", path, what, memvec.ErrFileChanged)
}

// isFault reports whether r, recovered from a panic, is a fault of a read
// in a mapping: SetPanicOnFault makes one a runtime.Error with the
// address; a nil pointer's is one without.
func isFault(r any) bool {
	_, isRuntime := r.(runtime.Error)
	_, fault := r.(interface{ Addr() uintptr })
	return isRuntime && fault
}

// releaseWindow is how many bytes of elements dump reads between two calls
// of Raw.DontNeed: its resident memory stays about this much, plus a page on
// each side, however large the file (a read maps the file's pages into the
// process, and the kernel would otherwise keep them there for as long as
// memory allows).
const releaseWindow = 8 << 20

// releaser gives the pages of the elements dump has read back to the
// system, a window at a time.
type releaser struct {
	r    *memvec.Raw
	from int // the first element not released yet
	per  int // elements in a window
}

// newReleaser returns a releaser for r whose reads start at element from.
func newReleaser(r *memvec.Raw, from int) *releaser {
	return &releaser{r: r, from: from, per: max(1, releaseWindow/max(1, r.Layout().Size))}
}

// read says that the elements before i have been read, and releases them
// when they fill a window. A hint that fails only costs memory, so its
// error is dropped.
func (rel *releaser) read(i int) {
	if i-rel.from >= rel.per {
		_ = rel.r.DontNeed(rel.from, i)
		rel.from = i
	}
}
