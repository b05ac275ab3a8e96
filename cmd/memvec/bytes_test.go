package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memvec/memvec"
	"github.com/stretchr/testify/require"
)

// bytesPushNoCloseEnv, set to a path, makes the test binary push 1000
// records to the Bytes there and exit without Sync or Close: a writer
// that leaves records no Sync made durable.
const bytesPushNoCloseEnv = "MEMVEC_TEST_BYTES_PUSH_NO_CLOSE"

func init() {
	path := os.Getenv(bytesPushNoCloseEnv)
	if path == "" {
		return
	}
	b, err := memvec.OpenBytes(path)
	if err == nil {
		for i := range 1000 {
			if err = b.PushString(fmt.Sprintf("record %d", i)); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0) // no Close
}

// writeBytes writes a Bytes of records at a new path, closes it, and
// returns its path (a directory).
func writeBytes(t *testing.T, records ...[]byte) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "test.bytes")
	b, err := memvec.OpenBytes(path)
	require.NoError(t, err)
	require.NoError(t, b.Append(records...))
	require.NoError(t, b.Close())
	return path
}

// bytesInfo returns the header of the Bytes at path, as the library reads
// it.
func bytesInfo(t *testing.T, path string) memvec.Info {
	t.Helper()
	b, err := memvec.OpenBytes(path, memvec.ReadOnly())
	require.NoError(t, err)
	defer b.Close()
	in, ok := b.Info()
	require.True(t, ok)
	return in
}

// dumpRecords are records that dump must print so that nothing is lost:
// text with what csv quotes and JSON escapes, an empty record, bytes that
// are not UTF-8, a CR LF (which csv readers turn into LF), and records
// that begin with the base64 marker, or with almost it.
var dumpRecords = [][]byte{
	[]byte("hello"),
	{},
	[]byte(`a,b "c"`),
	[]byte("two\nlines"),
	[]byte("cr\r\nlf"),
	{0xff, 0x00, 'x'},
	[]byte("memvec-base64:aGk="),
	[]byte("memvec-base64"),
	[]byte(" héllo ✓\t"),
	[]byte("\xed\xa0\x80"), // a UTF-16 surrogate, which UTF-8 does not encode
}

// TestBytesDump: dump prints each record as its text where it is UTF-8,
// else as the marker and its base64, which a record that begins with the
// marker gets too; in csv under a header row, quoted as csv needs, a CR
// LF as base64 and an empty record as ""; in jsonl as JSON strings. Both
// read back, by encoding/csv and encoding/json and the documented rule,
// as the records, and -from and -to select records as for a vector.
func TestBytesDump(t *testing.T) {
	path := writeBytes(t, dumpRecords...)
	const wantCSV = `record
hello
""
"a,b ""c"""
"two
lines"
memvec-base64:Y3INCmxm
memvec-base64:/wB4
memvec-base64:bWVtdmVjLWJhc2U2NDphR2s9
memvec-base64
" héllo ✓	"
memvec-base64:7aCA
`
	const wantJSONL = `"hello"
""
"a,b \"c\""
"two\nlines"
"cr\r\nlf"
"memvec-base64:/wB4"
"memvec-base64:bWVtdmVjLWJhc2U2NDphR2s9"
"memvec-base64"
" héllo ✓\t"
"memvec-base64:7aCA"
`
	out, errOut, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	require.Empty(t, errOut)
	require.Equal(t, wantCSV, out)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"record"}, rows[0])
	var got [][]byte
	for _, row := range rows[1:] {
		require.Len(t, row, 1)
		got = append(got, decodeRecord(t, row[0]))
	}
	require.Equal(t, dumpRecords, got, "csv reads back as the records")

	out, errOut, status = memvecRun(t, path, "dump", "-format", "jsonl", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, wantJSONL, out)
	got = nil
	for _, line := range strings.SplitAfter(strings.TrimSuffix(out, "\n"), "\n") {
		var s string
		require.NoError(t, json.Unmarshal([]byte(line), &s), line)
		got = append(got, decodeRecord(t, s))
	}
	require.Equal(t, dumpRecords, got, "jsonl reads back as the records")

	lines := func(s string, i, j int) string { return strings.Join(strings.SplitAfter(s, "\n")[i:j], "") }
	csvRows := strings.SplitAfter(wantCSV, "\n")
	require.Equal(t, "record\n", csvRows[0])
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-from", "5", "-to", "7"}, "record\nmemvec-base64:/wB4\nmemvec-base64:bWVtdmVjLWJhc2U2NDphR2s9\n"},
		{[]string{"-from", "8", "-to", "99", "-format", "jsonl"}, lines(wantJSONL, 8, 10)}, // clamped
		{[]string{"-from", "12", "-format", "jsonl"}, ""},
		{[]string{"-to", "1"}, "record\nhello\n"},
		{[]string{"-from", "3", "-to", "3"}, "record\n"},
	} {
		out, errOut, status := memvecRun(t, path, append(append([]string{"dump"}, c.args...), path)...)
		require.Equal(t, 0, status, "%v: %s", c.args, errOut)
		require.Equal(t, c.want, out, c.args)
	}
}

// decodeRecord reads a value dump printed back into the record, by the
// rule its documentation gives: the marker and base64, or the text.
func decodeRecord(t *testing.T, s string) []byte {
	t.Helper()
	if rest, ok := strings.CutPrefix(s, base64Marker); ok {
		p, err := base64.StdEncoding.DecodeString(rest)
		require.NoError(t, err, s)
		return p
	}
	return []byte(s)
}

// TestBytesDumpEmpty: a Bytes without records dumps as a csv header
// alone, and nothing in jsonl; one without a header yet (an empty offsets
// file) as nothing in both; and a Bytes of empty records as a "" per
// record, rows that csv readers do not skip.
func TestBytesDumpEmpty(t *testing.T) {
	none := writeBytes(t)
	blank := filepath.Join(tempDir(t), "blank.bytes")
	require.NoError(t, os.Mkdir(blank, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(blank, "offsets"), nil, 0o644))
	empties := writeBytes(t, nil, nil, nil)
	for _, c := range []struct {
		name, path, csv, jsonl string
	}{
		{"no records", none, "record\n", ""},
		{"no header", blank, "", ""},
		{"empty records", empties, "record\n\"\"\n\"\"\n\"\"\n", "\"\"\n\"\"\n\"\"\n"},
	} {
		out, errOut, status := memvecRun(t, c.path, "dump", c.path)
		require.Equal(t, 0, status, "%s: %s", c.name, errOut)
		require.Equal(t, c.csv, out, c.name)
		out, errOut, status = memvecRun(t, c.path, "dump", "-format", "jsonl", c.path)
		require.Equal(t, 0, status, "%s: %s", c.name, errOut)
		require.Equal(t, c.jsonl, out, c.name)
	}
	rows, err := csv.NewReader(strings.NewReader("record\n\"\"\n\"\"\n\"\"\n")).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4, "three empty records, three rows")

	out, errOut, status := memvecRun(t, none, "check", none)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "FILE: valid, a Bytes of 0 records, 0 bytes\n", out)
	out, errOut, status = memvecRun(t, blank, "check", blank)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "FILE: valid, a new Bytes with no header yet: no records\n", out)
	out, errOut, status = memvecRun(t, blank, "info", blank)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "file         FILE\nkind         bytes: records of any length (FORMAT.md, \"Bytes files\")\noffsets file 0 bytes\ndata file    none yet (an empty one)\nno header yet: a new, empty Bytes\n", out)
}

// TestBytesInfo: info prints a Bytes's kind, records, bytes, files and
// their sizes, its offsets file's header and the power-loss words; the
// offsets or data file inside it names it too.
func TestBytesInfo(t *testing.T) {
	path := writeBytes(t, dumpRecords...)
	in := bytesInfo(t, path)
	data, err := os.Stat(filepath.Join(path, "data"))
	require.NoError(t, err)
	var size int
	for _, r := range dumpRecords {
		size += len(r)
	}
	want := fmt.Sprintf(`file         FILE
kind         bytes: records of any length (FORMAT.md, "Bytes files")
writer       none
format       version 6, little-endian
offsets      i64, 8 bytes, align 8, from byte 896 of the offsets file
fingerprint  0x6d3adf8e7411730e
layout       42 bytes, in slot 0 of two of 384 bytes (relabelled 0 times)
records      10
bytes        %d, the records' all together
capacity     %d records
offsets file %d bytes
data file    %d bytes

power loss (FORMAT.md, "Power loss"):
  length word      10
  base length      0
  checked lengths  0, 10
  generation       0
  writer's boot    %#016x
  rebooted since   no: a reader counts the length word
`, size, in.Cap, in.FileSize, data.Size(), in.BootID)
	for _, p := range []string{path, filepath.Join(path, "offsets"), filepath.Join(path, "data")} {
		out, errOut, status := memvecRun(t, path, "info", p)
		require.Equal(t, 0, status, "%s: %s", p, errOut)
		require.Empty(t, errOut, p)
		require.Equal(t, want, out, p)
	}
	for _, cmd := range [][]string{{"check"}, {"dump", "-format", "jsonl"}} {
		out, errOut, status := memvecRun(t, path, append(cmd, filepath.Join(path, "offsets"))...)
		require.Equal(t, 0, status, "%v: %s", cmd, errOut)
		full, _, _ := memvecRun(t, path, append(cmd, path)...)
		require.Equal(t, full, out, "%v of the offsets file is %v of the Bytes", cmd, cmd)
	}
}

// TestBytesFileNamesOfVectors: a vector file named data or offsets, next
// to another vector file named offsets, is read as the vector file it is.
func TestBytesFileNamesOfVectors(t *testing.T) {
	dir := tempDir(t)
	for _, name := range []string{"offsets", "data"} {
		v, err := memvec.Open[Vec3](filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, v.Push(Vec3{1, 2, 3}))
		require.NoError(t, v.Close())
	}
	for _, name := range []string{"offsets", "data"} {
		out, errOut, status := memvecRun(t, dir, "dump", filepath.Join(dir, name))
		require.Equal(t, 0, status, "%s: %s", name, errOut)
		require.Equal(t, "X,Y,Z\n1,2,3\n", out, name)
	}
	out, errOut, status := memvecRun(t, dir, "info", dir)
	require.Equal(t, 1, status, out)
	require.Equal(t, "memvec: open FILE: element type mismatch: the file holds a vector, not bytes\n", errOut, "the directory is no Bytes")

	other := tempDir(t)
	out, errOut, status = memvecRun(t, other, "check", other)
	require.Equal(t, 1, status, out)
	require.Equal(t, "memvec: open FILE: a directory, and not a Bytes: it holds no offsets file (FORMAT.md, \"Bytes files\")\n", errOut)
}

// TestBytesCheckDamaged: a valid Bytes passes check; a damaged one is
// exit status 1 with the library's reason, as a damaged vector file is:
// for every command when open finds it (a data file cut short, a
// damaged header), for check and dump when only a scan of the offsets
// does (offsets that run backwards), dump printing nothing then.
func TestBytesCheckDamaged(t *testing.T) {
	records := [][]byte{[]byte("one"), []byte("two"), []byte("three"), []byte("four")}
	good := writeBytes(t, records...)
	out, errOut, status := memvecRun(t, good, "check", good)
	require.Equal(t, 0, status, errOut)
	require.Empty(t, errOut)
	require.Equal(t, "FILE: valid, a Bytes of 4 records, 15 bytes\n", out)
	in := bytesInfo(t, good)

	offsets, err := os.ReadFile(filepath.Join(good, "offsets"))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(good, "data"))
	require.NoError(t, err)
	ne := binary.NativeEndian
	entry := func(i int) int { return in.DataOffset + 8*i }
	damaged := func(offs, dat []byte) string {
		p := filepath.Join(tempDir(t), "damaged.bytes")
		require.NoError(t, os.Mkdir(p, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(p, "offsets"), offs, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(p, "data"), dat, 0o644))
		return p
	}
	backwards := bytes.Clone(offsets)
	ne.PutUint64(backwards[entry(2):], 1) // record 1 ends at 1, before its start 3
	header := bytes.Clone(offsets)
	header[20] ^= 1
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

	for _, c := range []struct {
		name string
		path string
		want string
		cmds []string
	}{
		{"data cut", damaged(offsets, data[:14]), "memvec: open FILE: corrupt region: the 4 records end at byte 15, past the end of the 14-byte data file\n", []string{"check", "info", "dump"}},
		{"header", damaged(header, data), fmt.Sprintf("memvec: open FILE: corrupt region: header checksum is %#08x, header hashes to %#08x\n", ne.Uint32(header[60:]), crc(header[:52])), []string{"check", "info", "dump"}},
		{"backwards", damaged(backwards, data), "memvec: check FILE: corrupt region: record 1 runs from byte 3 to 1, in a 4096-byte data file\n", []string{"check", "dump"}},
	} {
		for _, cmd := range c.cmds {
			out, errOut, status := memvecRun(t, c.path, cmd, c.path)
			what := fmt.Sprintf("%s: %s: exit status %d, standard output %q, standard error %q", c.name, cmd, status, out, errOut)
			require.Equal(t, 1, status, what)
			require.Empty(t, out, what)
			require.Equal(t, c.want, errOut, what)
		}
	}
}

// TestBytesCheckPowerLossWords: check verifies a Bytes's power-loss
// checksums, over the records' offsets and bytes: on the writer's boot a
// record torn past the first checked length is a warning and counts as
// not durable; after a reboot, the length is what the checksums keep.
func TestBytesCheckPowerLossWords(t *testing.T) {
	path := filepath.Join(tempDir(t), "test.bytes")
	b, err := memvec.OpenBytes(path)
	require.NoError(t, err)
	require.NoError(t, b.Append([]byte("zero"), []byte("one"), []byte("two")))
	require.NoError(t, b.Sync())
	require.NoError(t, b.Append([]byte("three"), []byte("four")))
	require.NoError(t, b.Close())
	in := bytesInfo(t, path)
	require.Equal(t, []uint64{3, 3, 5}, []uint64{in.BaseLen, in.Checked1, in.Checked2})

	offsets, err := os.ReadFile(filepath.Join(path, "offsets"))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(path, "data"))
	require.NoError(t, err)
	ne := binary.NativeEndian
	torn := bytes.Clone(data)
	torn[len("zeroonetwothree")+1] ^= 0x20 // in record 4, "four": "fOur"
	table := crc32.MakeTable(crc32.Castagnoli)
	tornSum := crc32.Update(crc32.Checksum(offsets[in.DataOffset+8*4:in.DataOffset+8*6], table), table, torn[len("zeroonetwo"):len("zeroonetwothreefour")])
	mismatch := fmt.Sprintf("the checksum of records [3, 5) is %#08x, the header says %#08x", tornSum, in.Sum2)
	rebooted := bytes.Clone(offsets)
	ne.PutUint64(rebooted[112:], in.BootID^0xff) // another boot than this one

	write := func(offs, dat []byte) string {
		p := filepath.Join(tempDir(t), "copy.bytes")
		require.NoError(t, os.Mkdir(p, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(p, "offsets"), offs, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(p, "data"), dat, 0o644))
		return p
	}
	cases := []struct {
		name           string
		path           string
		out, warnings  string
		durableStatus  int
		dumpJSONLength int
	}{
		{"intact", write(offsets, data), "FILE: valid, a Bytes of 5 records, 19 bytes\n", "", 0, 5},
		{"torn", write(offsets, torn), "FILE: valid, a Bytes of 5 records, 19 bytes; 2 not durable yet: after a reboot, a reader would count 3 records\n",
			"memvec: check FILE: warning: " + mismatch + ": after a reboot, a reader would count 3 records, not 5; this machine has not rebooted since the writer opened the file, so a reader counts the length word and nothing is lost, and a writer's next Sync or Close records the checksums anew\n", 3, 5},
	}
	if in.BootID != 0 { // this system tells its boots apart
		cases = append(cases, []struct {
			name           string
			path           string
			out, warnings  string
			durableStatus  int
			dumpJSONLength int
		}{
			{"intact, rebooted", write(rebooted, data), "FILE: valid, a Bytes of 5 records, 19 bytes\n", "", 0, 5},
			{"torn, rebooted", write(rebooted, torn), "FILE: valid, a Bytes of 3 records, 10 bytes\n",
				"memvec: check FILE: warning: the machine has rebooted since the writer opened the file: a reader counts the 3 records the power-loss checksums keep, not the 5 of the length word (" + mismatch + ")\n", 0, 3},
		}...)
	}
	for _, c := range cases {
		out, errOut, status := memvecRun(t, c.path, "check", c.path)
		require.Equal(t, 0, status, "%s: %s", c.name, errOut)
		require.Equal(t, c.out, out, c.name)
		require.Equal(t, c.warnings, errOut, c.name)
		_, _, status = memvecRun(t, c.path, "check", "-durable", c.path)
		require.Equal(t, c.durableStatus, status, c.name)
		out, _, status = memvecRun(t, c.path, "dump", "-format", "jsonl", c.path)
		require.Equal(t, 0, status, c.name)
		require.Equal(t, c.dumpJSONLength, strings.Count(out, "\n"), c.name)
	}
	if in.BootID != 0 {
		p := write(rebooted, torn)
		out, _, status := memvecRun(t, p, "info", p)
		require.Equal(t, 0, status)
		require.Contains(t, out, "\nrecords      3 (the length word says 5: see power loss below)\n")
		require.Contains(t, out, "\n  rebooted since   yes: a reader counts 3, as far as the checksums hold\n")
	}
}

// TestBytesCheckNonDurableTail: a writer process that exits without Sync
// or Close leaves records that a reboot would drop: check says so and
// exits 0, check -durable 3; once a writer has closed the Bytes, 0 for
// both.
func TestBytesCheckNonDurableTail(t *testing.T) {
	path := filepath.Join(tempDir(t), "tail.bytes")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := memvecCmd(t, ctx)
	w.Env = append(w.Env, bytesPushNoCloseEnv+"="+path)
	out, err := w.CombinedOutput()
	require.NoError(t, err, "%s", out)
	in := bytesInfo(t, path)
	require.Equal(t, 1000, in.Len)
	require.False(t, in.Rebooted, "a Bytes written on this boot reads as rebooted")

	const summary = "FILE: valid, a Bytes of 1000 records, 9890 bytes; 1000 not durable yet: after a reboot, a reader would count 0 records\n"
	stdout, stderr, status := memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, stderr)
	require.Equal(t, summary, stdout)
	require.Empty(t, stderr)
	stdout, stderr, status = memvecRun(t, path, "check", "-durable", path)
	require.Equal(t, 3, status, stderr)
	require.Equal(t, summary, stdout)

	b, err := memvec.OpenBytes(path)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	for _, args := range [][]string{{"check", path}, {"check", "-durable", path}} {
		stdout, stderr, status = memvecRun(t, path, args...)
		require.Equal(t, 0, status, "%v: %s", args, stderr)
		require.Equal(t, "FILE: valid, a Bytes of 1000 records, 9890 bytes\n", stdout, args)
	}
}

// TestBytesBesideAWriter: a Bytes that a writer has open is read as a
// follower: info says so, check validates what the writer has published
// (not the power-loss words, which it changes as it goes), and dump prints
// the records published.
func TestBytesBesideAWriter(t *testing.T) {
	path := writeBytes(t, []byte("one"))
	w, err := memvec.OpenBytes(path)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.PushString("two"))

	out, errOut, status := memvecRun(t, path, "info", path)
	require.Zero(t, status, errOut)
	require.Contains(t, out, "writer       has the file open: read as a follower\n")
	require.Contains(t, out, "records      2\n")
	out, errOut, status = memvecRun(t, path, "check", "-durable", path)
	require.Zero(t, status, errOut)
	require.Equal(t, "FILE: valid, a Bytes of 2 records, 6 bytes (a writer has it open)\n", out)
	require.Empty(t, errOut)
	out, errOut, status = memvecRun(t, path, "dump", path)
	require.Zero(t, status, errOut)
	require.Equal(t, "record\none\ntwo\n", out)
}

// TestBytesDumpFollow: dump -follow prints a Bytes's records and then each
// record a writer appends, as it comes; a truncation below what it printed
// is a notice, and it goes on; -to ends it.
func TestBytesDumpFollow(t *testing.T) {
	path := writeBytes(t, []byte("zero"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "dump", "-follow", "-format", "jsonl", "-to", "6", path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			cmd.Wait() // so that stderr holds all the follower wrote
			t.Fatalf("the follower's output ended; its standard error: %s", stderr.String())
		}
		return lines.Text()
	}
	require.Equal(t, `"zero"`, next())

	w, err := memvec.OpenBytes(path)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.PushString("one"))
	require.Equal(t, `"one"`, next())
	require.NoError(t, w.Append([]byte("two"), []byte{0xff, 0xfe}))
	require.Equal(t, `"two"`, next())
	require.Equal(t, `"memvec-base64://4="`, next())
	// Dropped below what was printed: a notice, and dump goes on with
	// the first index it has not printed, 4, whenever it wakes.
	w.Truncate(2)
	for _, s := range []string{"three", "four", "five", "six"} {
		require.NoError(t, w.PushString(s))
	}
	require.Equal(t, `"five"`, next())
	require.Equal(t, `"six"`, next())
	require.False(t, lines.Scan(), "a line past -to: %s", lines.Text())
	require.NoError(t, cmd.Wait(), stderr.String())
	require.Equal(t, "memvec: dump "+path+": the writer dropped records: those printed may have changed; going on from record 4\n", stderr.String())
}
