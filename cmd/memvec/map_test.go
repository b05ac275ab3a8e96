package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/memvec/memvec"
	"github.com/stretchr/testify/require"
)

// putNoCloseEnv, set to a path, makes the test binary put 1000 entries
// into a Map[uint32, Vec3] there and exit without Sync or Close: a writer
// that leaves changes no Sync made durable.
const putNoCloseEnv = "MEMVEC_TEST_MAP_PUT_NO_CLOSE"

func init() {
	path := os.Getenv(putNoCloseEnv)
	if path == "" {
		return
	}
	m, err := memvec.OpenMap[uint32, Vec3](path)
	if err == nil {
		for i := range uint32(1000) {
			if err = m.Put(i, Vec3{X: float64(i)}); err != nil {
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

// writeMap writes a Map[uint32, Vec3] of entries at a new path and
// returns the path.
func writeMap(t *testing.T, entries map[uint32]Vec3) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "test.map")
	m, err := memvec.OpenMap[uint32, Vec3](path)
	require.NoError(t, err)
	for k, v := range entries {
		require.NoError(t, m.Put(k, v))
	}
	require.NoError(t, m.Close())
	return path
}

// sortedLines returns the header line and the other lines of out, sorted:
// a map lists its entries in no set order.
func sortedLines(out string) (string, []string) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	rest := slices.Clone(lines[1:])
	slices.Sort(rest)
	return lines[0], rest
}

// TestMapInfoCheckDump: info, check and dump read a map file: its kind,
// types and buckets; valid; an entry a line, the key then the value, in
// csv columns Key and Value.X, or JSON members Key and Value.
func TestMapInfoCheckDump(t *testing.T) {
	path := writeMap(t, map[uint32]Vec3{1: {1, 2.5, -3}, 2: {4, 5, 6}, math.MaxUint32: {math.NaN(), math.Inf(1), math.Copysign(0, -1)}})

	out, errOut, status := memvecRun(t, path, "info", path)
	require.Equal(t, 0, status, errOut)
	require.Contains(t, out, "file         FILE\nwriter       none\nkind         map\nformat       version ")
	require.Contains(t, out, "\nkey          u32, 4 bytes\nvalue        main.Vec3, 24 bytes\nentries      3\nbuckets      1, 1 of them durable\nbucket size  1024 bytes, 13 slots\n")
	layout := "  offset  size  kind    field      type\n       0     4  u32     Key\n       4     4  -       (padding)\n       8    24  struct  Value      main.Vec3\n       8     8  f64     Value.X\n"
	if unsafe.Alignof(float64(0)) == 4 { // 32-bit platforms: no padding after the key
		layout = "  offset  size  kind    field    type\n       0     4  u32     Key\n       4    24  struct  Value    main.Vec3\n       4     8  f64     Value.X\n"
	}
	require.Contains(t, out, layout)
	require.Contains(t, out, "changed since the last Sync  no: everything is durable\n")

	out, errOut, status = memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, "FILE: valid, a map of 3 entries, u32 -> main.Vec3, in 1 bucket\n", out)
	require.Empty(t, errOut)
	_, _, status = memvecRun(t, path, "check", "-durable", path)
	require.Equal(t, 0, status)

	out, errOut, status = memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	header, rows := sortedLines(out)
	require.Equal(t, "Key,Value.X,Value.Y,Value.Z", header)
	require.Equal(t, []string{"1,1,2.5,-3", "2,4,5,6", "4294967295,NaN,+Inf,-0"}, rows)

	out, errOut, status = memvecRun(t, path, "dump", "-format", "jsonl", path)
	require.Equal(t, 0, status, errOut)
	rows = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(rows)
	require.Equal(t, []string{
		`{"Key":1,"Value":{"X":1,"Y":2.5,"Z":-3}}`,
		`{"Key":2,"Value":{"X":4,"Y":5,"Z":6}}`,
		`{"Key":4294967295,"Value":{"X":"NaN","Y":"+Inf","Z":-0}}`,
	}, rows)

	all, _, _ := memvecRun(t, path, "dump", "-format", "jsonl", path)
	out, errOut, status = memvecRun(t, path, "dump", "-format", "jsonl", "-from", "1", "-to", "2", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, strings.SplitAfter(all, "\n")[1], out, "-from and -to count in All's order")

	_, errOut, status = memvecRun(t, path, "dump", "-follow", path)
	require.Equal(t, 1, status)
	require.Equal(t, "memvec: dump FILE: -follow does not apply to a map file: a map has no end to follow; dump it again to see the writer's changes\n", errOut)
}

// TestMapDumpMany: a map large enough for splits and overflow buckets
// dumps every entry once, with its value, and checks valid.
func TestMapDumpMany(t *testing.T) {
	want := map[uint32]Vec3{}
	for i := range uint32(20000) {
		want[i*2654435761] = Vec3{float64(i), float64(-int(i)), 0.5}
	}
	path := writeMap(t, want)
	out, errOut, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	header, rows := sortedLines(out)
	require.Equal(t, "Key,Value.X,Value.Y,Value.Z", header)
	require.Len(t, rows, len(want))
	seen := map[uint32]bool{}
	for _, row := range rows {
		var k uint32
		var v Vec3
		_, err := fmt.Sscanf(strings.ReplaceAll(row, ",", " "), "%d %g %g %g", &k, &v.X, &v.Y, &v.Z)
		require.NoError(t, err, row)
		require.Equal(t, want[k], v, row)
		require.False(t, seen[k], "key %d twice", k)
		seen[k] = true
	}
	out, errOut, status = memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, errOut)
	require.Regexp(t, `^FILE: valid, a map of 20000 entries, u32 -> main.Vec3, in \d+ buckets\n$`, out)
}

// TestMapDamaged: a map whose value a disk changed fails check, saying
// where, exit status 1; a map block that does not fit the file, or a file
// cut short, fails every command with a clear error, not a crash.
func TestMapDamaged(t *testing.T) {
	path := writeMap(t, map[uint32]Vec3{7: {X: 12345.678}, 8: {X: 1}})
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var x [8]byte
	binary.NativeEndian.PutUint64(x[:], math.Float64bits(12345.678))
	at := bytes.Index(b, x[:])
	require.Positive(t, at)
	require.Equal(t, -1, bytes.Index(b[at+1:], x[:]), "one copy of the value")
	b[at] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
	out, errOut, status := memvecRun(t, path, "check", path)
	require.Equal(t, 1, status, out)
	require.Regexp(t, `^memvec: check FILE: corrupt region: the checksum of slot \d+ of the bucket at \d+ \(chain 0\) does not hold \(1 damaged in all\)\n$`, errOut)
	require.Empty(t, out)

	// The map block says a billion buckets.
	b[at] ^= 1
	dataOffset := int(binary.NativeEndian.Uint32(b[28:]))
	bad := bytes.Clone(b)
	binary.NativeEndian.PutUint64(bad[dataOffset:], 1<<30)
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	for _, cmd := range []string{"info", "check", "dump"} {
		out, errOut, status := memvecRun(t, path, cmd, path)
		require.Equal(t, 1, status, "%s: %s", cmd, out)
		require.Regexp(t, `^memvec: open FILE: corrupt region: segment 1 of 1 buckets at 0 is outside the 4096-byte file\n$`, errOut, cmd)
	}

	// Cut inside the buckets.
	require.NoError(t, os.WriteFile(path, b[:dataOffset+1000], 0o644))
	for _, cmd := range []string{"info", "check", "dump"} {
		out, errOut, status := memvecRun(t, path, cmd, path)
		require.Equal(t, 1, status, "%s: %s", cmd, out)
		require.Regexp(t, `^memvec: open FILE: corrupt region: .* outside the 3048-byte file\n$`, errOut, cmd)
	}
}

// TestMapBesideALiveWriter: a map file a writer has open, and changes all
// along, is read as a follower reads it: dump prints every key the writer
// had put once, each value whole (never torn between two of the writer's
// Puts), and check and info say a writer has it open.
func TestMapBesideALiveWriter(t *testing.T) {
	path := filepath.Join(tempDir(t), "live.map")
	w, err := memvec.OpenMap[uint32, Vec3](path)
	require.NoError(t, err)
	defer w.Close()
	value := func(k, round uint32) Vec3 { x := float64(k) + float64(round); return Vec3{x, 2 * x, 3 * x} }
	const keys = 3000
	for k := range uint32(keys) {
		require.NoError(t, w.Put(k, value(k, 0)))
	}
	var stop atomic.Bool
	done := make(chan error)
	go func() {
		// New values for every key, new keys, and deletes of those,
		// until the commands are done.
		for round := uint32(1); !stop.Load(); round++ {
			for k := range uint32(keys) {
				if err := w.Put(k, value(k, round)); err != nil {
					done <- err
					return
				}
			}
			for k := uint32(keys); k < keys+500; k++ {
				if err := w.Put(k, value(k, 0)); err != nil {
					done <- err
					return
				}
				if k < keys+250 {
					continue
				}
				if _, err := w.Delete(k - 250); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	defer func() {
		stop.Store(true)
		require.NoError(t, <-done)
	}()

	out, errOut, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	header, rows := sortedLines(out)
	require.Equal(t, "Key,Value.X,Value.Y,Value.Z", header)
	got := map[uint32]bool{}
	for _, row := range rows {
		f := strings.Split(row, ",")
		require.Len(t, f, 4, row)
		k, err := strconv.ParseUint(f[0], 10, 32)
		require.NoError(t, err, row)
		x, err1 := strconv.ParseFloat(f[1], 64)
		y, err2 := strconv.ParseFloat(f[2], 64)
		z, err3 := strconv.ParseFloat(f[3], 64)
		require.NoError(t, errorsJoin(err1, err2, err3), row)
		require.True(t, y == 2*x && z == 3*x && x >= float64(k), "a torn value: %s", row)
		got[uint32(k)] = true
	}
	for k := range uint32(keys) {
		require.True(t, got[k], "key %d, there all along, is missing", k)
	}

	out, errOut, status = memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, errOut)
	require.Regexp(t, `^FILE: valid, a map of \d+ entries, u32 -> main.Vec3, in \d+ buckets \(a writer has it open\)\n$`, out)
	out, errOut, status = memvecRun(t, path, "info", path)
	require.Equal(t, 0, status, errOut)
	require.Contains(t, out, "file         FILE\nwriter       has the file open: read as a follower\nkind         map\n")
}

// errorsJoin is errors.Join, named so that the test reads as it does.
func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestMapCheckNotDurable: a writer process that exits without Sync or
// Close leaves a map that every reader reads whole on this boot but whose
// changes no Sync made durable: check says so and exits 0, check -durable
// exits 3; once a writer has closed it, 0 for both.
func TestMapCheckNotDurable(t *testing.T) {
	path := filepath.Join(tempDir(t), "tail.map")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := memvecCmd(t, ctx)
	w.Env = append(w.Env, putNoCloseEnv+"="+path)
	out, err := w.CombinedOutput()
	require.NoError(t, err, "%s", out)

	const note = "FILE: valid, a map of 1000 entries, u32 -> main.Vec3, in 97 buckets; changed since the last Sync, not durable yet: after a reboot, a reader would read the 1 buckets that Sync made durable, not the 97 there are, and may miss what changed since\n"
	stdout, stderr, status := memvecRun(t, path, "check", path)
	require.Equal(t, 0, status, stderr)
	require.Equal(t, note, stdout)
	require.Empty(t, stderr)
	stdout, stderr, status = memvecRun(t, path, "check", "-durable", path)
	require.Equal(t, 3, status, stderr)
	require.Equal(t, note, stdout)
	stdout, _, _ = memvecRun(t, path, "info", path)
	require.Contains(t, stdout, "changed since the last Sync  yes: a writer changed it since its last Sync")

	m, err := memvec.OpenMap[uint32, Vec3](path)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	for _, args := range [][]string{{"check", path}, {"check", "-durable", path}} {
		stdout, stderr, status = memvecRun(t, path, args...)
		require.Equal(t, 0, status, "%v: %s", args, stderr)
		require.Equal(t, "FILE: valid, a map of 1000 entries, u32 -> main.Vec3, in 97 buckets\n", stdout, args)
	}
}
