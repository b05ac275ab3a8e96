package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

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
	if o.follow {
		r, err = memvec.OpenRaw(path, append(opts, memvec.Follow())...)
	} else {
		r, _, err = open(path, opts...)
	}
	if err != nil {
		return err
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		_, err := r.Wait(ctx, next)
		switch {
		case ctx.Err() != nil:
			return nil // interrupted: what was printed is flushed
		case errors.Is(err, memvec.ErrRewritten):
			fmt.Fprintf(stderr, "memvec: dump %s: the writer changed or dropped elements: those printed may have changed; going on from element %d\n", path, next)
		case err != nil:
			return err
		}
	}
}

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
	// SetPanicOnFault makes a fault a runtime.Error with the address;
	// a nil pointer's is one without.
	_, isRuntime := r.(runtime.Error)
	if _, fault := r.(interface{ Addr() uintptr }); !isRuntime || !fault {
		panic(r)
	}
	what := "the file was cut by another program"
	if fi, serr := os.Stat(path); serr == nil {
		what = fmt.Sprintf("the file was cut to %d bytes by another program", fi.Size())
	}
	*err = fmt.Errorf("memvec: dump %s: %s while dump read it: %w", path, what, memvec.ErrFileChanged)
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
