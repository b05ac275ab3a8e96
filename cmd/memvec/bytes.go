package main

// The commands on a Bytes (memvec.OpenBytes: records of any length), a
// directory holding an offsets file and a data file (FORMAT.md, "Bytes
// files").

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"unicode/utf8"

	"github.com/memvec/memvec"
)

// The names of the two files in a Bytes's directory (FORMAT.md, "Bytes
// files").
const (
	offsetsName = "offsets"
	dataName    = "data"
)

// bytesAt says whether path names a Bytes, and which: a directory is one,
// and so is the offsets or the data file of one (a user who passes the
// file inside means the Bytes). For a directory it opens nothing; for a
// file named offsets or data, it opens the directory as a Bytes and, if
// that fails, the file as a vector file, which a file of that name may be
// too: a Bytes if that fails as well (with the Bytes's error, which names
// the directory). dir is the Bytes's path, the directory.
func bytesAt(path string) (dir string, ok bool) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", false // the vector's open says why
	case fi.IsDir():
		return path, true
	case !fi.Mode().IsRegular():
		return "", false
	}
	if name := filepath.Base(path); name != offsetsName && name != dataName {
		return "", false
	}
	dir = filepath.Dir(path)
	if fi, err := os.Stat(filepath.Join(dir, offsetsName)); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	b, err := memvec.OpenBytes(dir, memvec.ReadOnly())
	if err == nil {
		b.Close()
		return dir, true
	}
	if r, _, err := open(path); err == nil {
		_, header := r.Info()
		r.Close()
		if header {
			return "", false // a vector file that happens to have that name
		}
	}
	return dir, true
}

// openBytes opens the Bytes at dir for reading: as a ReadOnly reader,
// which keeps writers out while it reads, or, if a writer has it open, as
// a follower (memvec.Follow), as open does a vector file. live reports the
// latter. opts are added to either.
func openBytes(dir string, opts ...memvec.Option) (b *memvec.Bytes, live bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, offsetsName)); errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("memvec: open %s: a directory, and not a Bytes: it holds no %s file (FORMAT.md, \"Bytes files\")", dir, offsetsName)
	}
	b, err = memvec.OpenBytes(dir, append(opts[:len(opts):len(opts)], memvec.ReadOnly())...)
	if errors.Is(err, memvec.ErrLocked) {
		b, err = memvec.OpenBytes(dir, append(opts[:len(opts):len(opts)], memvec.Follow())...)
		live = true
	}
	return b, live, err
}

// dataFileSize returns the size of the Bytes's data file, and false if it
// has none (a missing data file is an empty one).
func dataFileSize(dir string) (int64, bool, error) {
	fi, err := os.Stat(filepath.Join(dir, dataName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return fi.Size(), true, nil
}

// infoBytes prints what info prints for the Bytes at dir: the header of
// its offsets file, the records, the files, and the power-loss words.
func infoBytes(dir string, stdout io.Writer) error {
	b, live, err := openBytes(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	dataSize, hasData, err := dataFileSize(dir)
	if err != nil {
		return err
	}
	data := fmt.Sprintf("%d bytes", dataSize)
	if !hasData {
		data = "none yet (an empty one)"
	}
	w := bufio.NewWriter(stdout)
	in, ok := b.Info()
	if !ok {
		fi, err := os.Stat(filepath.Join(dir, offsetsName))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file         %s\nkind         bytes: records of any length (FORMAT.md, \"Bytes files\")\noffsets file %d bytes\ndata file    %s\nno header yet: a new, empty Bytes\n", dir, fi.Size(), data)
		return w.Flush()
	}
	order := byteOrderName(in.ByteOrder)
	length := strconv.Itoa(in.Len)
	if uint64(in.Len) != in.StoredLen {
		length += fmt.Sprintf(" (the length word says %d: see power loss below)", in.StoredLen)
	}
	fmt.Fprintf(w, "file         %s\n", dir)
	fmt.Fprintf(w, "kind         bytes: records of any length (FORMAT.md, \"Bytes files\")\n")
	if live {
		fmt.Fprintf(w, "writer       has the file open: read as a follower\n")
	} else {
		// The shared lock was granted: no writer had the Bytes open.
		fmt.Fprintf(w, "writer       none\n")
	}
	fmt.Fprintf(w, "format       version %d, %s\n", in.Version, order)
	fmt.Fprintf(w, "offsets      %s, %d bytes, align %d, from byte %d of the offsets file\n", typeName(in.Layout.Type), in.ElemSize, in.ElemAlign, in.DataOffset)
	fmt.Fprintf(w, "fingerprint  %#016x\n", in.Fingerprint)
	fmt.Fprintf(w, "layout       %d bytes, in slot %d of two of %d bytes (relabelled %d times)\n", in.LayoutSize, in.Relabels&1, in.SlotSize, in.Relabels)
	fmt.Fprintf(w, "records      %s\n", length)
	fmt.Fprintf(w, "bytes        %d, the records' all together\n", b.Size())
	fmt.Fprintf(w, "capacity     %d records\n", in.Cap)
	fmt.Fprintf(w, "offsets file %d bytes\n", in.FileSize)
	fmt.Fprintf(w, "data file    %s\n", data)
	powerLossWords(w, in)
	return w.Flush()
}

// checkBytes is check for the Bytes at dir: OpenBytes validates the
// header, the length and the last record; Check every offset; and the
// power-loss words are verified as a vector file's are, with a Bytes's
// checksums (FORMAT.md, "Bytes files").
func checkBytes(dir string, durable bool, stdout, stderr io.Writer) error {
	b, live, err := openBytes(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	in, ok := b.Info()
	if !ok {
		fmt.Fprintf(stdout, "%s: valid, a new Bytes with no header yet: no records\n", dir)
		return nil
	}
	if err := b.Check(); err != nil {
		return err
	}
	verdict := checked{what: fmt.Sprintf("a Bytes of %s, %s", countable(in.Len, "record"), countable(int(b.Size()), "byte")), unit: "record"}
	return verdict.report(dir, in, live, durable, stdout, stderr, func() ([]string, uint64, error) { return checkBytesDurable(dir, in) })
}

// checkBytesDurable verifies the power-loss words of the Bytes at dir, at
// rest, whose offsets file's header is in: as checkDurable does a vector
// file's, with the checksum of records [from, to) that FORMAT.md, "Bytes
// files", defines (their offsets entries from+1 to to, then their bytes),
// read from the two files. An odd generation is no warning: a Bytes
// rewrites nothing but the length (Truncate), in one store.
func checkBytesDurable(dir string, in memvec.Info) ([]string, uint64, error) {
	offsets, err := openRegular(filepath.Join(dir, offsetsName))
	if err != nil {
		return nil, 0, err
	}
	defer offsets.Close()
	var data io.ReaderAt = bytes.NewReader(nil) // a missing data file is an empty one
	dataSize := int64(0)
	if f, err := openRegular(filepath.Join(dir, dataName)); err == nil {
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		data, dataSize = f, fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 1<<20)
	entry := func(i uint64) (int64, error) {
		var b [8]byte
		if _, err := offsets.ReadAt(b[:], int64(in.DataOffset)+8*int64(i)); err != nil {
			return 0, err
		}
		return int64(binary.NativeEndian.Uint64(b[:])), nil
	}
	sum := func(from, to uint64) (uint32, string, error) {
		if to <= from {
			return 0, "", nil
		}
		s, err := entry(from)
		if err != nil {
			return 0, "", err
		}
		e, err := entry(to)
		if err != nil {
			return 0, "", err
		}
		if s < 0 || e < s || e > dataSize {
			return 0, fmt.Sprintf("records [%d, %d) run from byte %d to %d of the %d-byte data file", from, to, s, e, dataSize), nil
		}
		h := crc32.New(castagnoli)
		ends := io.NewSectionReader(offsets, int64(in.DataOffset)+8*int64(from+1), 8*int64(to-from))
		if _, err := io.CopyBuffer(h, ends, buf); err != nil {
			return 0, "", err
		}
		if _, err := io.CopyBuffer(h, io.NewSectionReader(data, s, e-s), buf); err != nil {
			return 0, "", err
		}
		return h.Sum32(), "", nil
	}
	return checkPowerLoss(dir, in, "record", sum)
}

// base64Marker begins what dump prints for a record that it does not
// print as text: the marker, then the record in standard base64 (RFC
// 4648, with padding). A record that begins with the marker is printed so
// too, so that every value that begins with it is base64, and every other
// value is the record's text.
const base64Marker = "memvec-base64:"

// dumpBytes prints the records [o.from, o.to) of the Bytes at dir, one
// per line: a csv field (after a header row, "record") or a JSON string,
// holding the record's text where it is valid UTF-8, else base64Marker and
// its base64. Damaged offsets (Check) are an error before anything is
// printed. With o.follow it goes on printing the records a writer
// appends, as dump -follow does a vector file's, until o.to or an
// interrupt.
func dumpBytes(dir string, o dumpOptions, stdout, stderr io.Writer) (err error) {
	// dump reads the records in the files' mappings, which fault where
	// another program has cut a file: that is an error here.
	defer catchBytesFault(dir, debug.SetPanicOnFault(true), &err)
	if !o.toSet {
		o.to = math.MaxInt
	}
	ctx := context.Background()
	var b *memvec.Bytes
	if o.follow {
		// Interrupted, a follower stops: exit status 0.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		b, err = memvec.OpenBytes(dir, memvec.Follow())
	} else {
		b, _, err = openBytes(dir)
	}
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Check(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	var buf []byte
	headed := false // the csv header row is printed
	next := o.from  // the first record not printed yet
	for {
		if !o.jsonl && !headed {
			if _, ok := b.Info(); ok {
				buf = append(buf, "record\n"...)
				headed = true
			}
		}
		// No header yet: no records, and no csv header, as for a
		// vector file.
		for ; next < min(o.to, b.Len()); next++ {
			buf = appendRecord(buf, b.At(next), o.jsonl)
			buf = append(buf, '\n')
			if len(buf) >= flushAt {
				w.Write(buf) // the writer keeps its first error, which Flush returns
				buf = buf[:0]
			}
		}
		w.Write(buf)
		buf = buf[:0]
		if err := w.Flush(); err != nil || !o.follow || next >= o.to {
			return err
		}
		wait := func() error { _, err := b.Wait(ctx, next); return err }
		notice := fmt.Sprintf("memvec: dump %s: the writer dropped records: those printed may have changed; going on from record %d", dir, next)
		if stop, err := awaitMore(ctx, wait, notice, stderr); stop {
			return err
		}
	}
}

// appendRecord appends record p as dump prints it: a JSON string if
// jsonl, else a csv field; holding p's text, or base64Marker and p's
// base64 if p is not valid UTF-8, begins with the marker, or (in csv)
// holds a CR LF, which csv readers read back as LF inside a quoted field.
// An empty record is "" in csv, where an empty line would be no row.
func appendRecord(buf, p []byte, jsonl bool) []byte {
	text := utf8.Valid(p) && !bytes.HasPrefix(p, []byte(base64Marker)) && (jsonl || !bytes.Contains(p, []byte("\r\n")))
	switch {
	case !text && jsonl:
		// The marker and base64 need no escape in JSON, nor quotes in csv.
		buf = append(buf, '"')
		buf = append(buf, base64Marker...)
		buf = base64.StdEncoding.AppendEncode(buf, p)
		return append(buf, '"')
	case !text:
		buf = append(buf, base64Marker...)
		return base64.StdEncoding.AppendEncode(buf, p)
	case jsonl:
		return appendJSONString(buf, p)
	case len(p) == 0:
		return append(buf, `""`...)
	}
	return appendCSVField(buf, p)
}

// catchBytesFault is catchFault for dumpBytes: a fault in its reads of
// the Bytes at dir is an error wrapping memvec.ErrFileChanged.
func catchBytesFault(dir string, wasOn bool, err *error) {
	debug.SetPanicOnFault(wasOn)
	r := recover()
	if r == nil {
		return
	}
	if !isFault(r) {
		panic(r)
	}
	*err = fmt.Errorf("memvec: dump %s: a file of the Bytes was cut by another program while dump read it: %w", dir, memvec.ErrFileChanged)
}
