package memvec

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/memvec/memvec/internal/format"
)

// Relabel rewrites the element layout stored in the vector file at path as
// T's, where T differs from it in names alone: a field renamed, the Go
// type renamed, a [N]byte field tagged or untagged memvec:"string". The
// elements are not touched: Relabel costs O(1), whatever the file's size.
// Afterwards the file opens as a vector of T, and no longer as one of the
// type it had (Open compares field paths: see Layout).
//
//	type ReadingV1 struct{ Time int64; Temp float64 }  // as the file was written
//	type Reading struct{ Time int64; Celsius float64 } // a field renamed
//
//	err := memvec.Relabel[Reading](path)
//
// Relabel trusts that the fields T names at each offset hold what the
// file's fields there hold: it cannot tell a rename from fields swapped in
// place (struct{ Min, Max float64 } relabelled as struct{ Max, Min float64 }
// would read each as the other). Use it for a field whose meaning stays,
// under a new name; to change what the elements hold (a field added,
// removed, widened or moved), use Migrate, which converts them.
//
// A T whose kinds, offsets, size or alignment differ from the file's is an
// error wrapping ErrTypeMismatch, and the file is left as it was. So is
// every other failure: Relabel is all or nothing. (A file that another
// program cuts while Relabel reads or writes its header is an error
// wrapping ErrFileChanged, as for a writer: see the README's Limits.) Interrupted at any moment
// (an error, a crash, kill -9, a power loss), the file holds the old
// layout or the new one, whole, and its elements as they were.
//
// How: the file keeps two layout slots, one current, the other room for
// the next layout (FORMAT.md, "The layout slots"). Relabel opens the file
// as its writer (with MustExist), taking the exclusive lock that keeps
// writers and ReadOnly readers out (a file that another handle holds is an
// error wrapping ErrLocked, after the LockTimeout if one is given); checks
// its header and layout as Open does; writes T's layout into the slot that
// is not current and makes it durable; then makes it current with one
// atomic store of a header word, and makes that durable. Followers (see
// Follow) take no lock: one that opens meanwhile reads the layout before
// or after, never a mixture; one that is open already keeps reading the
// elements, which do not change.
//
// Each slot has room for a layout about twice as long as the one the file
// was created with (see FORMAT.md), so that any rename a person makes
// fits; a T whose layout needs more is an error wrapping
// errors.ErrUnsupported (Migrate to T then, with a conversion that copies
// each element, rewrites the file with room for it). An empty file, which
// has no layout yet, is left as it is: Open writes T's when it creates
// the vector. A file whose layout already is T's is not written.
//
// Of the options, LockTimeout applies to the lock, and Reserve and Advise
// to the mapping Relabel makes, as for OpenFile; ReadOnly, Follow,
// MustExist, CreateNew and Mode make no sense here: Relabel returns an
// error naming them.
func Relabel[T any](path string, opts ...Option) (err error) {
	defer func() {
		if err != nil {
			err = &fileOpError{op: "relabel", path: path, err: err}
		}
	}()
	if name := buildOptions(opts).firstGiven("ReadOnly", "Follow", "MustExist", "CreateNew", "Mode", "TempDir"); name != "" {
		return fmt.Errorf("option %s does not apply to Relabel, which opens the file as its writer and never creates it", name)
	}
	l, err := layoutFor[T]()
	if err != nil {
		return err
	}
	o, err := fileOptions(path, append(opts[:len(opts):len(opts)], MustExist()))
	if err != nil {
		return err
	}
	// Relabel writes the header's page and the layout slots' alone, so
	// that its cost does not grow with the file: it readies the blocks
	// there only (a writer's open readies the whole file's: see ownBlocks).
	o.headOnly = true
	f, err := openFile(path, o)
	if err != nil {
		if isBytesDirectory(path) {
			return fmt.Errorf("%w: the path holds bytes (a Bytes's directory), not a vector", ErrTypeMismatch)
		}
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	// Another program may cut the file under the reads and writes below:
	// that is an error wrapping ErrFileChanged, not a SIGBUS (as in New;
	// see catchFault, whose recover this must call itself, so that the
	// message says "relabel" once).
	defer func(wasOn bool) {
		debug.SetPanicOnFault(wasOn)
		if r := recover(); r != nil {
			if !isFault(r) {
				panic(r)
			}
			err = f.readFault()
		}
	}(debug.SetPanicOnFault(true))
	b := f.Bytes()
	if len(b) == 0 || format.IsBlank(b) {
		return nil // a new vector: no layout to relabel
	}
	h, section, err := format.ReadStatic(b)
	if err != nil {
		return err
	}
	if err := isVector(h); err != nil {
		return err
	}
	stored, err := storedLayout(h, section)
	if err != nil {
		return err
	}
	if !samePhysical(h, l) {
		return fmt.Errorf("%w: %s; Relabel changes names only: Migrate converts the elements", ErrTypeMismatch, describeMismatch(stored, l.exported))
	}
	if string(section) == string(l.section) {
		return nil
	}
	if room := int(h.SlotSize) - format.SlotHeaderSize; len(l.section) > room {
		return fmt.Errorf("the layout of %v takes %d bytes, more than the %d bytes of room a layout slot of this file has (the file's own takes %d): %w",
			reflect.TypeFor[T](), len(l.section), room, len(section), errors.ErrUnsupported)
	}

	// The new layout goes into the slot that is not current, and is
	// durable before any header word leads to it: a power loss then
	// finds the old slot current, or the new one whole.
	word := format.LayoutWord(b)
	w := word.Load()
	next := w&1 ^ 1
	format.WriteSlot(b, h, next, l.section)
	relabelStep("written")
	if err := f.r.SyncPrefix(int(h.Slots + (next+1)*h.SlotSize)); err != nil {
		return fmt.Errorf("make the new layout durable (the old one stays): %w", err)
	}
	relabelStep("synced")
	// One atomic store changes the layout: a follower's format.ReadSlot sees the
	// word before or after it, and the disk writes a 4-byte word whole.
	word.Store(w + 1)
	relabelStep("flipped")
	if err := f.r.SyncPrefix(format.OffLayoutWord + 4); err != nil {
		return fmt.Errorf("the new layout is in place, but making it durable failed, so a power loss may undo it: %w", err)
	}
	relabelStep("durable")
	return nil
}

// relabelStepHook, when set by a test, is called at each step of Relabel
// with its name: "written" (the new layout, in the slot that is not
// current), "synced" (it is durable), "flipped" (it is current) and
// "durable" (that is durable too).
var relabelStepHook func(step string)

// relabelStep calls relabelStepHook, if a test set it.
func relabelStep(step string) {
	if relabelStepHook != nil {
		relabelStepHook(step)
	}
}
