package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memvec/memvec/export"
	"github.com/memvec/memvec/internal/format"
)

// exportOptions are export's flags.
type exportOptions struct {
	format export.Format
	out    string // -o; "" for standard output
}

// runExport writes the vector file, Bytes or map file at path as o.format,
// to o.out or to stdout, with its progress on stderr if stderr is a
// terminal.
func runExport(path string, o exportOptions, stdout, stderr io.Writer) (err error) {
	unit := "elements"
	if dir, ok := bytesAt(path); ok {
		path, unit = dir, "records"
	} else if isMapFile(path) {
		unit = "entries"
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("memvec: export %s: %w", path, err)
	}
	opts := export.Options{Format: o.format}
	if isTerminal(stderr) {
		pr := &progress{w: stderr, unit: unit, start: time.Now()}
		opts.Progress = pr.show
		defer pr.end()
	}
	if o.out == "" {
		if isTerminal(stdout) {
			return usageError{fmt.Sprintf("export: standard output is a terminal: give -o OUT, or send it to a pipe or a file (the %s file is binary)", o.format)}
		}
		return export.File(stdout, path, opts)
	}
	if err := notInput(o.out, path); err != nil {
		return err
	}
	// The file is written under another name in OUT's directory and
	// renamed to OUT once whole: a failed export leaves no partial OUT,
	// and an OUT that was there stays as it was.
	f, err := os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".export-*")
	if err != nil {
		return fmt.Errorf("memvec: export %s: %w", o.out, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := export.File(f, path, opts); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("memvec: export %s: %w", o.out, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp's 0600 is for secrets
		return fmt.Errorf("memvec: export %s: %w", o.out, err)
	}
	if err := os.Rename(f.Name(), o.out); err != nil {
		return fmt.Errorf("memvec: export %s: %w", o.out, err)
	}
	return nil
}

// isMapFile reports whether the file at path begins with the header of a
// map file (kind 3, its checksum holding): for the progress line's unit
// only, export.File tells the kinds apart itself.
func isMapFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, format.HeaderSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return false
	}
	ne := binary.NativeEndian
	return [8]byte(b[:8]) == format.Magic && ne.Uint32(b[format.OffChecksum:]) == format.HeaderChecksum(b) &&
		format.Kind(ne.Uint32(b[format.OffKind:])) == format.KindMap
}

// notInput returns an error if out names the input at path, or a file in
// it (a Bytes's directory): the rename would replace the vector.
func notInput(out, path string) error {
	ofi, err := os.Stat(out)
	if err != nil {
		return nil // no such file yet: not the input
	}
	in := []string{path, filepath.Join(path, offsetsName), filepath.Join(path, dataName)}
	for _, p := range in {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, ofi) {
			return fmt.Errorf("memvec: export %s: -o %s is the input itself: give another output file", path, out)
		}
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device: a
// terminal on Unix, the console on Windows).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// The null device is a character device too, and no terminal.
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// progress shows export's progress on a terminal: one line, rewritten in
// place at most every progressEvery, with the elements, the bytes, the
// rate and the time left.
type progress struct {
	w     io.Writer
	unit  string // elements, or a Bytes's records
	start time.Time
	last  time.Time
	shown bool
}

const progressEvery = 200 * time.Millisecond

// show is export.Options.Progress.
func (pr *progress) show(p export.Progress) {
	now := time.Now()
	if now.Sub(pr.last) < progressEvery && p.Done < p.Total {
		return
	}
	pr.last = now
	fmt.Fprintf(pr.w, "\r\x1b[K%s", progressLine(p, pr.unit, now.Sub(pr.start)))
	pr.shown = true
}

// end ends the progress line.
func (pr *progress) end() {
	if pr.shown {
		fmt.Fprintln(pr.w)
	}
}

// progressLine is the progress line of p after elapsed: "1200000 of
// 10000000 elements, 27.5 of 228.9 MiB, 310.2 MiB/s, 0:00:00 left".
func progressLine(p export.Progress, unit string, elapsed time.Duration) string {
	const mib = 1 << 20
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.DoneBytes) / s
	}
	left := "?"
	if rate > 0 {
		d := time.Duration(float64(p.TotalBytes-p.DoneBytes) / rate * float64(time.Second)).Round(time.Second)
		left = fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d of %d %s, %.1f of %.1f MiB, %.1f MiB/s, %s left", p.Done, p.Total, unit, float64(p.DoneBytes)/mib, float64(p.TotalBytes)/mib, rate/mib, left)
}

// errNoFormat is export without -format.
var errNoFormat = errors.New("export: no -format: want -format parquet or -format arrow")
