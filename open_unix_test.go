//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package memvec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/memvec/memvec/internal/region"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	children["open-special"] = openSpecialChild
	children["create-out-of-descriptors"] = createOutOfDescriptorsChild
	children["create-unreadable-directory"] = createUnreadableDirectoryChild
}

// childLimit is how long a test lets a child that opens a path run: an open
// that returns does so in microseconds, so reaching it means the open hung.
const childLimit = 30 * time.Second

// runChildWithin runs exe (the test binary, or a copy of it) as role, as
// the user cred names (nil: this process's), with the extra environment,
// and returns its standard output. A child still running after childLimit
// is killed and fails the test: an open that hangs fails in bounded time
// instead of hanging the test.
func runChildWithin(t *testing.T, exe string, cred *syscall.Credential, role string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), childLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role}, env...)...)
	cmd.Dir = filepath.Dir(exe)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "the child %s %v did not end within %v: it hung (output: %q)", role, env, childLimit, out.String())
	require.NoError(t, err, "child %s %v (output: %q)", role, env, out.String())
	t.Logf("child %s %v ran %v", role, env, time.Since(start).Round(time.Millisecond))
	return out.String()
}

// otherUser returns a directory that another user may enter, the test
// binary as that user may run it, and that user's credential, for a child
// that must not have the test's permissions. As root, the user is nobody,
// and the binary a copy in the directory (the one go test built is in a
// directory only its owner enters); otherwise there is no other user to
// become, cred is nil and the child runs as the test's own user, who then
// stands for another by permission bits that exclude the owner too.
func otherUser(t *testing.T) (dir, exe string, cred *syscall.Credential) {
	t.Helper()
	dir = tempDir(t)
	if os.Geteuid() != 0 {
		return dir, os.Args[0], nil
	}
	require.NoError(t, os.Chmod(dir, 0o755))
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err)
	uid, err := strconv.Atoi(nobody.Uid)
	require.NoError(t, err)
	gid, err := strconv.Atoi(nobody.Gid)
	require.NoError(t, err)
	exe = filepath.Join(dir, "memvec.test")
	src, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(exe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, errors.Join(err, dst.Close()))
	return dir, exe, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// openSpecialChild opens $MEMVEC_PATH the way $MEMVEC_OPEN names (see
// specialOpens) and prints the error, then whether it wraps ErrCorrupt.
func openSpecialChild() {
	err := specialOpens[os.Getenv("MEMVEC_OPEN")](os.Getenv("MEMVEC_PATH"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, ErrCorrupt))
}

// TestOpenFIFOFailsAtOnce: a named pipe at the path is not a vector file.
// Every way to open the path returns an error wrapping ErrCorrupt, at
// once, rather than wait in open(2) for a writer to the pipe, which may
// never come: a reader's open (ReadOnly, OpenRaw), a follower's that may
// not write the pipe and so opens it for reading, and the writer's and the
// follower's that may write it (on Linux an open for reading and writing
// does not wait, but the file is no vector file all the same). Each open
// runs in a child process that the test kills, and fails, if it hangs.
func TestOpenFIFOFailsAtOnce(t *testing.T) {
	dir, exe, cred := otherUser(t)
	writable := filepath.Join(dir, "writable.vec")
	require.NoError(t, unix.Mkfifo(writable, 0o666))
	require.NoError(t, os.Chmod(writable, 0o666)) // past the umask
	// Mode 0444: neither nobody nor, as the test's user, the owner may
	// write it, so a follower opens it for reading only.
	readable := filepath.Join(dir, "readable.vec")
	require.NoError(t, unix.Mkfifo(readable, 0o444))

	check := func(path, how string, cred *syscall.Credential) {
		t.Helper()
		out := runChildWithin(t, exe, cred, "open-special", "MEMVEC_PATH="+path, "MEMVEC_OPEN="+how)
		want := "corrupt region: a named pipe (FIFO), not a regular file\ntrue\n"
		if path == readable && (how == "Open" || how == "Open MustExist" || how == "Migrate") {
			// A writer's open, which the pipe's permissions refuse.
			want = "permission denied\nfalse\n"
		}
		if how == "Migrate" {
			want = "memvec: migrate " + path + ": open " + path + ": " + want
		} else {
			want = "memvec: open " + path + ": " + want
		}
		require.Equal(t, want, out, "%s of %s", how, filepath.Base(path))
	}
	for _, how := range slices.Sorted(maps.Keys(specialOpens)) {
		check(writable, how, nil)
		check(readable, how, cred)
	}
}

// createOutOfDescriptorsChild creates vector files in $MEMVEC_DIR with
// one descriptor left to the process, which the file takes, so that the
// sync of the directory that makes the new file's name durable cannot
// open the directory (EMFILE). For each way to create, it prints whether
// the error wraps EMFILE and whether the file exists after; then it gives
// the process its descriptors back and tries again, and prints the retry's
// error (<nil>).
func createOutOfDescriptorsChild() {
	dir := os.Getenv("MEMVEC_DIR")
	region.BootID() // read now: it needs a descriptor, and keeps what it read
	var limit unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &limit); err != nil {
		panic(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
	}{{"new.vec", []Option{CreateNew()}}, {"missing.vec", nil}, {"empty.vec", nil}} {
		path := filepath.Join(dir, c.name)
		// The lowest free descriptor is the next open's: with the
		// limit just above it, no other open can succeed.
		next, err := unix.Dup(0)
		if err != nil {
			panic(err)
		}
		unix.Close(next)
		low := limit
		setInt(&low.Cur, next+1)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
			panic(err)
		}
		_, err = Open[point](path, c.opts...)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &limit); err != nil {
			panic(err)
		}
		_, serr := os.Lstat(path)
		fmt.Printf("%s: EMFILE %v, exists %v\n", c.name, errors.Is(err, unix.EMFILE), serr == nil)
		fmt.Printf("%s: %v\n", c.name, closed(Open[point](path, c.opts...)))
	}
}

// setInt sets *p to n: a field whose type differs between systems
// (Rlimit's are int64 on some BSDs).
func setInt[N int64 | uint64](p *N, n int) { *p = N(n) }

// TestCreateOutOfDescriptorsLeavesNothing: an open that creates a vector
// file and then fails (here, out of descriptors when it syncs the
// directory) removes the file it created, so that trying again, with
// CreateNew too, can succeed; an open that failed the same way on a file
// it did not create (an empty file that was there) leaves it. It runs in a
// child, whose descriptor limit it lowers.
func TestCreateOutOfDescriptorsLeavesNothing(t *testing.T) {
	dir := tempDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.vec"), nil, 0o644))
	out := runChildWithin(t, os.Args[0], nil, "create-out-of-descriptors", "MEMVEC_DIR="+dir)
	require.Equal(t, "new.vec: EMFILE true, exists false\nnew.vec: <nil>\n"+
		"missing.vec: EMFILE true, exists false\nmissing.vec: <nil>\n"+
		"empty.vec: EMFILE true, exists true\nempty.vec: <nil>\n", out)
	for _, name := range []string{"new.vec", "missing.vec", "empty.vec"} {
		v := openVec[point](t, filepath.Join(dir, name), ReadOnly())
		require.Equal(t, 0, v.Len())
		require.NotNil(t, v.length, "%s has a header", name)
	}
}

// createUnreadableDirectoryChild, run as a user who may create files in
// $MEMVEC_DIR but not read it (mode 0733, another's), creates a vector
// there with CreateNew, pushes, syncs and closes it, then migrates it to
// another element type; it prints each step's error.
func createUnreadableDirectoryChild() {
	path := filepath.Join(os.Getenv("MEMVEC_DIR"), "new.vec")
	v, err := Open[point](path, CreateNew())
	fmt.Println("create:", err)
	if err != nil {
		return
	}
	fmt.Println("push:", v.Push(pt(1)))
	fmt.Println("sync:", v.Sync())
	fmt.Println("close:", v.Close())
	fmt.Println("migrate:", Migrate(path, func(p point) [4]float64 { return [4]float64{p.X, p.Y, p.Z, 1} }))
}

// TestCreateInUnreadableDirectory: in a directory that the caller may
// write but not read (0733, not the caller's), the directory cannot be
// opened to sync it (EACCES). That is tolerated, as PostgreSQL tolerates
// it: CreateNew, Sync and Migrate succeed, and the name is left to the
// system to make durable. It runs a child as nobody, which needs root.
func TestCreateInUnreadableDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a child as another user needs root (CI runs as root)")
	}
	top, exe, cred := otherUser(t)
	dir := filepath.Join(top, "dropbox")
	require.NoError(t, os.Mkdir(dir, 0o733))
	require.NoError(t, os.Chmod(dir, 0o733)) // past the umask
	out := runChildWithin(t, exe, cred, "create-unreadable-directory", "MEMVEC_DIR="+dir)
	require.Equal(t, "create: <nil>\npush: <nil>\nsync: <nil>\nclose: <nil>\nmigrate: <nil>\n", out)

	v := openVec[[4]float64](t, filepath.Join(dir, "new.vec"), ReadOnly())
	require.Equal(t, [][4]float64{{1, 2, -1, 1}}, v.Slice())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the vector: no temporary file left")
}

// TestDiscardLeavesAFileRenamedOverThePath: a File whose vector could not
// be created does not remove a file that another process renamed over the
// path since it created its own (see File.discard). (Windows renames
// nothing over a file that memvec has open.)
func TestDiscardLeavesAFileRenamedOverThePath(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "a.vec")
	f, err := OpenFile(path, CreateNew())
	require.NoError(t, err)
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("another file"), 0o644))
	require.NoError(t, os.Rename(other, path))
	require.NoError(t, f.r.Discard())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "another file", string(b))
	require.ErrorIs(t, f.Sync(), ErrClosed, "discard closes the file")
	_, err = os.Stat(other)
	require.ErrorIs(t, err, fs.ErrNotExist)
}
