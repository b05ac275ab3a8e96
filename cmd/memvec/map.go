package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/memvec/memvec"
)

// openMap opens the map file at path for reading, as open does a vector
// file: as a ReadOnly reader, or, if a writer holds the file, as a
// follower (live).
func openMap(path string) (r *memvec.RawMap, live bool, err error) {
	r, err = memvec.OpenRawMap(path)
	if errors.Is(err, memvec.ErrLocked) {
		r, err = memvec.OpenRawMap(path, memvec.Follow())
		live = true
	}
	return r, live, err
}

// asMap runs do on the map file at path, if vecErr, the error of opening
// it as a vector file, says it is not one (ErrTypeMismatch) and it opens
// as a map; else it returns vecErr.
func asMap(path string, vecErr error, do func(r *memvec.RawMap, live bool) error) error {
	if !errors.Is(vecErr, memvec.ErrTypeMismatch) {
		return vecErr
	}
	r, live, err := openMap(path)
	if errors.Is(err, memvec.ErrTypeMismatch) {
		return vecErr // neither a vector nor a map: the vector's error says what it is
	}
	if err != nil {
		return err
	}
	defer r.Close()
	return do(r, live)
}

// mapTypes says "K -> V" for a map's key and value types.
func mapTypes(r *memvec.RawMap) string {
	return typeName(r.KeyType()) + " -> " + typeName(r.ValueType())
}

// infoMap prints what info prints of a map file: its kind, the key's and
// the value's types, the entries, the buckets, the layout of an entry, and
// the map block's words.
func infoMap(path string, r *memvec.RawMap, live bool, stdout io.Writer) error {
	w := bufio.NewWriter(stdout)
	in, ok, err := r.Info()
	if err != nil {
		return err
	}
	if !ok {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file         %s\nkind         map\nfile size    %d bytes\nno map yet: a writer is creating it\n", path, fi.Size())
		return w.Flush()
	}
	order := byteOrderName(in.ByteOrder)
	count := strconv.Itoa(in.Len)
	switch {
	case in.Rebooted || in.Uncounted:
		count += fmt.Sprintf(" (counted: the length word, %d, is not trusted after a power loss)", in.StoredLen)
	case uint64(in.Len) != in.StoredLen:
		count += fmt.Sprintf(" (the length word says %d: a writer was killed in a Put or Delete)", in.StoredLen)
	}
	buckets := fmt.Sprintf("%d, %d of them durable", in.Buckets, in.Durable)
	if in.Reading != in.Buckets {
		buckets += fmt.Sprintf(" (a reader reads %d: see power loss below)", in.Reading)
	}
	fmt.Fprintf(w, "file         %s\n", path)
	if live {
		fmt.Fprintf(w, "writer       has the file open: read as a follower\n")
	} else {
		fmt.Fprintf(w, "writer       none\n")
	}
	fmt.Fprintf(w, "kind         map\n")
	fmt.Fprintf(w, "format       version %d, %s\n", in.Version, order)
	fmt.Fprintf(w, "key          %s, %d bytes\n", typeName(in.Key), in.Key.Size)
	fmt.Fprintf(w, "value        %s, %d bytes\n", typeName(in.Value), in.Value.Size)
	fmt.Fprintf(w, "entries      %s\n", count)
	fmt.Fprintf(w, "buckets      %s\n", buckets)
	fmt.Fprintf(w, "bucket size  %d bytes, %d slots\n", in.BucketSize, in.BucketSlots)
	fmt.Fprintf(w, "used space   up to %d, durable up to %d\n", in.UsedEnd, in.DurableEnd)
	fmt.Fprintf(w, "fingerprint  %#016x\n", in.Fingerprint)
	fmt.Fprintf(w, "data offset  %d\n", in.DataOffset)
	fmt.Fprintf(w, "layout       %d bytes, in slot %d of two of %d bytes (relabelled %d times)\n", in.LayoutSize, in.Relabels&1, in.SlotSize, in.Relabels)
	fmt.Fprintf(w, "file size    %d bytes\n", in.FileSize)

	fmt.Fprintf(w, "\nlayout of an entry, struct{ Key K; Value V }:\n")
	layoutTable(w, in.Layout.Type)

	changed := "no: everything is durable"
	if in.Changed {
		changed = "yes: a writer changed it since its last Sync (the next writer's open or Close makes it durable)"
	}
	rebooted := "no: a reader reads B buckets"
	if in.Rebooted {
		rebooted = fmt.Sprintf("yes: a reader reads the %d buckets the last Sync made durable, each value as far as its checksum holds", in.Durable)
	}
	pending := "none"
	if in.PendingSlot != 0 {
		pending = fmt.Sprintf("the slot at %d (a writer was killed in a Put or Delete)", in.PendingSlot)
	}
	fmt.Fprintf(w, "\npower loss (FORMAT.md, \"Map files\"):\n")
	fmt.Fprintf(w, "  changed since the last Sync  %s\n", changed)
	fmt.Fprintf(w, "  length word                  %d\n", in.StoredLen)
	fmt.Fprintf(w, "  syncs (epoch)                %d\n", in.Epoch)
	fmt.Fprintf(w, "  overflow serial              %#x\n", in.Serial)
	fmt.Fprintf(w, "  pending count                %s\n", pending)
	fmt.Fprintf(w, "  writer's boot                %#016x\n", in.BootID)
	fmt.Fprintf(w, "  rebooted since               %s\n", rebooted)
	return w.Flush()
}

// layoutTable prints info's layout table of type t: a line per field.
func layoutTable(w io.Writer, t *memvec.Type) {
	lines := layoutLines(t)
	cols := [...]string{"offset", "size", "kind", "field", "type"}
	width := [len(cols)]int{}
	for i, c := range cols {
		width[i] = len(c)
	}
	for _, l := range lines {
		for i, c := range l.cells() {
			width[i] = max(width[i], len(c))
		}
	}
	row := func(c [5]string) {
		s := fmt.Sprintf("  %*s  %*s  %-*s  %-*s  %s", width[0], c[0], width[1], c[1], width[2], c[2], width[3], c[3], c[4])
		fmt.Fprintln(w, strings.TrimRight(s, " "))
	}
	row(cols)
	for _, l := range lines {
		row(l.cells())
	}
}

// checkMap validates a map file: RawMap.Check reads every slot of every
// chain. A damaged map is its error (exit status 1); what a crash or a
// power loss legitimately leaves is a warning on stderr. With durable, a
// map at rest changed since its last Sync is errNotDurable.
func checkMap(path string, r *memvec.RawMap, live, durable bool, stdout, stderr io.Writer) error {
	in, ok, err := r.Info()
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "%s: valid, a new map file with no map yet: no entries\n", path)
		return nil
	}
	c, err := r.Check()
	if err != nil {
		return err
	}
	note := ""
	notDurable := !live && !in.Rebooted && in.Changed
	switch {
	case live:
		note = " (a writer has it open)"
	case notDurable:
		note = fmt.Sprintf("; changed since the last Sync, not durable yet: after a reboot, a reader would read the %d buckets that Sync made durable, not the %d there are, and may miss what changed since", in.Durable, in.Buckets)
	}
	fmt.Fprintf(stdout, "%s: valid, a map of %s, %s, in %s%s\n", path, entries(c.Entries), mapTypes(r), countable(int(c.Chains), "bucket"), note)
	warn := func(format string, args ...any) {
		fmt.Fprintf(stderr, "memvec: check %s: warning: %s\n", path, fmt.Sprintf(format, args...))
	}
	if in.Rebooted {
		warn("the machine has rebooted since the writer opened the file: a reader reads the %d buckets the last Sync made durable, and counts the entries (%d) itself", in.Durable, c.Entries)
	}
	if c.OtherCopy > 0 {
		warn("%s read from the copy of their value that the control word does not name, whose checksum holds (a page the power loss tore)", entries(c.OtherCopy))
	}
	if c.Unreadable > 0 {
		warn("%d slots hold a key with no copy of its value whose checksum holds: a reader after the power loss drops them", c.Unreadable)
	}
	if c.Deleting > 0 && !live {
		warn("%d slots were being freed by a Delete that a kill stopped: they count now, and a reader after a power loss would drop them", c.Deleting)
	}
	if c.DeadLinks > 0 {
		warn("%d chains end at a link to an overflow bucket that did not reach the disk before a power loss", c.DeadLinks)
	}
	if durable && notDurable {
		return errNotDurable
	}
	return nil
}

// dumpMap prints the entries of a map file, one a line, the key then the
// value, as an element of struct{ Key K; Value V } is printed: csv columns
// named Key... then Value... ("Key", "Value.X"), or a JSON object with the
// members Key and Value. -from and -to count the entries in the order
// RawMap.All lists them.
func dumpMap(r *memvec.RawMap, o dumpOptions, stdout io.Writer) error {
	if o.follow {
		return fmt.Errorf("memvec: dump %s: -follow does not apply to a map file: a map has no end to follow; dump it again to see the writer's changes", r.Name())
	}
	l := r.Layout()
	if l == nil {
		return nil // no map yet: no entries, and no layout for a csv header
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	e := newEncoder(l, o.jsonl, w)
	e.header()
	entry := make([]byte, l.Size)
	i := 0
	for k, v := range r.All() {
		if i >= o.to {
			break
		}
		if i >= o.from {
			copy(entry, k)
			copy(entry[r.ValueOffset():], v)
			e.element(entry)
		}
		i++
	}
	if err := r.Err(); err != nil {
		return err
	}
	return e.flush()
}

// entries says "1 entry", "2 entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return strconv.Itoa(n) + " entries"
}
