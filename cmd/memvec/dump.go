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
func dump(path string, o dumpOptions, stdout, stderr io.Writer) error {
	if !o.toSet {
		o.to = math.MaxInt
	}
	opts := []memvec.Option{memvec.Advise(memvec.AdviseSequential)}
	var r *memvec.Raw
	var err error
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
