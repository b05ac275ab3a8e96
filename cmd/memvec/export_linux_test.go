package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/memvec/memvec"
)

// openPTY opens a pseudo-terminal and returns its two ends: what a
// program writes to the terminal (tty) reads back from ptm.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	fd := int(ptm.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return ptm, tty
}

// TestExportProgressOnATerminal: with standard error a terminal, export
// shows its progress there, rewritten in place, and ends with every
// element done; with standard output a terminal and no -o, it refuses to
// write the file there (exit status 2).
func TestExportProgressOnATerminal(t *testing.T) {
	path := filepath.Join(tempDir(t), "big.vec")
	v, err := memvec.Open[[4]int64](path)
	require.NoError(t, err)
	for i := range 300_000 {
		require.NoError(t, v.Push([4]int64{int64(i)}))
	}
	require.NoError(t, v.Close())

	ptm, tty := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "export", "-format", "parquet", "-o", filepath.Join(filepath.Dir(path), "out.parquet"), path)
	cmd.Stderr = tty
	require.NoError(t, cmd.Run())
	tty.Close()
	shown := readAll(t, ptm)
	require.Contains(t, shown, "\r\x1b[K")
	require.Contains(t, shown, "300000 of 300000 elements, 9.2 of 9.2 MiB, ")
	require.Contains(t, shown, " 0:00:00 left")

	ptm, tty = openPTY(t)
	cmd = memvecCmd(t, ctx, "export", "-format", "parquet", path)
	cmd.Stdout, cmd.Stderr = tty, tty
	err = cmd.Run()
	tty.Close()
	require.Equal(t, 2, cmd.ProcessState.ExitCode(), "%v", err)
	require.Contains(t, readAll(t, ptm), "standard output is a terminal: give -o OUT")
}

// TestExportMapProgressOnATerminal: the progress of a map file's export
// counts entries.
func TestExportMapProgressOnATerminal(t *testing.T) {
	entries := map[uint32]Vec3{}
	for i := range uint32(5000) {
		entries[i] = Vec3{X: float64(i)}
	}
	path := writeMap(t, entries)
	ptm, tty := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := memvecCmd(t, ctx, "export", "-format", "arrow", "-o", filepath.Join(filepath.Dir(path), "out.arrow"), path)
	cmd.Stderr = tty
	require.NoError(t, cmd.Run())
	tty.Close()
	// An entry is struct{ Key uint32; Value Vec3 }: 32 bytes where float64
	// aligns to 8, 28 on 386.
	mib := fmt.Sprintf("%.1f", float64(5000*unsafe.Sizeof(struct {
		Key   uint32
		Value Vec3
	}{}))/(1<<20))
	require.Contains(t, readAll(t, ptm), "5000 of 5000 entries, "+mib+" of "+mib+" MiB, ")
}

// readAll reads what was written to a pseudo-terminal whose other end is
// closed (its read then fails with EIO: the end).
func readAll(t *testing.T, ptm *os.File) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := ptm.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "input/output error") {
				require.NoError(t, err)
			}
			return b.String()
		}
	}
}
