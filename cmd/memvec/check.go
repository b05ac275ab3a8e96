package main

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/memvec/memvec"
)

// errNotDurable is check -durable's result for a valid file whose length
// word counts elements that a reader after a reboot would not: exit status
// 3, the summary on standard output saying how many.
var errNotDurable = errors.New("valid, but not every element is durable")

// check validates the file at path: OpenRaw validates the header, the
// stored layout and the length; check adds the power-loss checksums and
// the generation, and prints a summary or warnings. With durable, a file
// at rest whose non-durable tail a reboot would drop is errNotDurable.
func check(path string, durable bool, stdout, stderr io.Writer) error {
	r, live, err := open(path)
	if err != nil {
		return asMap(path, err, func(m *memvec.RawMap, live bool) error { return checkMap(path, m, live, durable, stdout, stderr) })
	}
	defer r.Close()
	in, ok := r.Info()
	if !ok {
		fmt.Fprintf(stdout, "%s: valid, a new vector file with no header yet: no elements\n", path)
		return nil
	}
	verdict := checked{what: fmt.Sprintf("%s of %s", countable(in.Len, "element"), typeName(in.Layout.Type)), unit: "element"}
	return verdict.report(path, in, live, durable, stdout, stderr, func() ([]string, uint64, error) { return checkDurable(path, in) })
}

// checked is what check says of a valid file or Bytes: what it holds
// ("3 elements of ..."), and the unit it counts in.
type checked struct {
	what, unit string
}

// report checks the power-loss words of the file or Bytes at path, whose
// header is in, with durableWords, unless a writer has it open (live):
// they change as the writer goes, and are checked only at rest. It prints
// "PATH: valid, WHAT" with a note on what a reboot would drop, the
// warnings on stderr, and returns errNotDurable for durable (-durable) if
// a reboot would drop some of it.
func (c checked) report(path string, in memvec.Info, live, durable bool, stdout, stderr io.Writer, durableWords func() ([]string, uint64, error)) error {
	var warnings []string
	kept := uint64(in.Len)
	if !live {
		var err error
		if warnings, kept, err = durableWords(); err != nil {
			return err
		}
	}
	note := ""
	switch {
	case live:
		note = " (a writer has it open)"
	case !in.Rebooted && kept < uint64(in.Len):
		note = fmt.Sprintf("; %d not durable yet: after a reboot, a reader would count %s", uint64(in.Len)-kept, countable(int(kept), c.unit))
	}
	fmt.Fprintf(stdout, "%s: valid, %s%s\n", path, c.what, note)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "memvec: check %s: warning: %s\n", path, w)
	}
	if durable && !live && !in.Rebooted && kept < uint64(in.Len) {
		return errNotDurable
	}
	return nil
}

// checkDurable verifies the power-loss words of a file at rest, in.
// FORMAT.md, "Power loss", has the rule: after a reboot, a reader counts
// the elements from the base length on as far as the checked lengths and
// their checksums hold, in order. It returns warnings for people, the
// length such a reader would count, and an error only if the file cannot
// be read.
func checkDurable(path string, in memvec.Info) ([]string, uint64, error) {
	if checkReopens != nil {
		checkReopens(path)
	}
	// The path is opened again, to read the elements: openNoWait keeps
	// the open from waiting on a named pipe renamed over it since (it
	// changes nothing for a regular file).
	f, err := openRegular(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sum := func(from, to uint64) (uint32, string, error) {
		s, err := elementsCRC(f, in, from, to)
		return s, "", err
	}
	warnings, kept, err := checkPowerLoss(path, in, "element", sum)
	if err != nil {
		return nil, 0, err
	}
	if in.Generation%2 == 1 {
		warnings = append(warnings, "the generation is odd: a writer died in the middle of a rewrite (Set, Insert, Remove, ...), which may have left an element half written")
	}
	return warnings, kept, nil
}

// openRegular opens the file at path for reading, and returns an error
// wrapping ErrCorrupt if it is not a regular file (another program
// replaced it since memvec opened it). openNoWait keeps the open from
// waiting on a named pipe.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoWait, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("memvec: check %s: the path names another file now, %s, not a regular file: %w", path, fileKind(fi.Mode()), memvec.ErrCorrupt)
	}
	return f, nil
}

// A stretchSum returns the checksum that the power-loss words keep of the
// elements, or records, [from, to), or why that stretch has none (broken:
// a Bytes's offsets that run backwards or past its data); an error only if
// the file cannot be read.
type stretchSum func(from, to uint64) (sum uint32, broken string, err error)

// checkPowerLoss applies the rule of FORMAT.md, "Power loss", to the words
// of in, with sum for the checksums of the things the lengths count (unit:
// "element", "record"): it returns warnings for people, the length a
// reader after a reboot would count, and an error only if the file cannot
// be read.
func checkPowerLoss(path string, in memvec.Info, unit string, sum stretchSum) ([]string, uint64, error) {
	sums := [2]uint32{in.Sum1, in.Sum2}
	kept, broken := in.BaseLen, ""
	for i, next := range [2]uint64{in.Checked1, in.Checked2} {
		if next < kept || next > uint64(in.Cap) {
			broken = fmt.Sprintf("checked length %d is not between %d and the capacity %d", next, kept, in.Cap)
			break
		}
		s, why, err := sum(kept, next)
		if err != nil {
			return nil, 0, fmt.Errorf("memvec: check %s: read %ss %d to %d: %w", path, unit, kept, next, err)
		}
		if why != "" {
			broken = why
			break
		}
		if s != sums[i] {
			broken = fmt.Sprintf("the checksum of %ss [%d, %d) is %#08x, the header says %#08x", unit, kept, next, s, sums[i])
			break
		}
		kept = next
	}

	var warnings []string
	switch {
	case in.Rebooted && uint64(in.Len) < in.StoredLen:
		w := fmt.Sprintf("the machine has rebooted since the writer opened the file: a reader counts the %s the power-loss checksums keep, not the %d of the length word", countable(in.Len, unit), in.StoredLen)
		if broken != "" {
			w += " (" + broken + ")"
		}
		warnings = append(warnings, w)
	case !in.Rebooted && broken != "":
		warnings = append(warnings, fmt.Sprintf("%s: after a reboot, a reader would count %s, not %d; this machine has not rebooted since the writer opened the file, so a reader counts the length word and nothing is lost, and a writer's next Sync or Close records the checksums anew",
			broken, countable(int(kept), unit), in.StoredLen))
	}
	return warnings, kept, nil
}

// checkReopens, when set by a test, is called with the path just before
// checkDurable opens it again: another program may replace it then.
var checkReopens func(path string)

// fileKind says what kind of file a mode describes, in words, with the
// mode as ls prints it: "a directory (drwxr-xr-x)". The type bits alone
// (fs.FileMode.Type) print as "d---------", which reads as a directory
// nobody may enter.
func fileKind(m fs.FileMode) string {
	what := "a file that is not regular"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	return what + " (" + m.String() + ")"
}

// elementsCRC returns the CRC-32C of the bytes of elements [from, to) of
// the file f, read from the file a megabyte at a time.
func elementsCRC(f *os.File, in memvec.Info, from, to uint64) (uint32, error) {
	if in.ElemSize == 0 || to <= from {
		return 0, nil
	}
	size := uint64(in.ElemSize)
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	sr := io.NewSectionReader(f, int64(uint64(in.DataOffset)+from*size), int64((to-from)*size))
	if _, err := io.CopyBuffer(h, sr, make([]byte, 1<<20)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// countable says "1 element", "2 elements".
func countable(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
