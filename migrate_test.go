//go:build unix || windows

package memvec

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pointV1 and pointV2 are the README's example of a struct that gains a
// field.
type (
	pointV1 struct{ X, Y float64 }
	pointV2 struct{ X, Y, Z float64 }
)

func pointV1At(i int) pointV1 { return pointV1{float64(i), float64(-i)} }

func widenPoint(p pointV1) pointV2 { return pointV2{X: p.X, Y: p.Y, Z: 1} }

// readVec returns the elements of the vector of T at path, opened
// ReadOnly, or the error of the open.
func readVec[T any](path string) ([]T, error) {
	v, err := Open[T](path, ReadOnly())
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return slices.Clone(v.Slice()), nil
}

// dirNames returns the names in the directory dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// generate returns gen(0), ..., gen(n-1).
func generate[T any](n int, gen func(int) T) []T {
	xs := make([]T, n)
	for i := range xs {
		xs[i] = gen(i)
	}
	return xs
}

// convertAll returns convert of each of xs.
func convertAll[From, To any](xs []From, convert func(From) To) []To {
	ys := make([]To, len(xs))
	for i, x := range xs {
		ys[i] = convert(x)
	}
	return ys
}

// requireMigrates writes a vector of n elements gen(i) of From, migrates
// it with convert, and requires that the file then holds exactly the
// converted elements, that it no longer opens as From (when the layouts
// differ), and that nothing else is left in the directory.
func requireMigrates[From any, To comparable](t *testing.T, n int, gen func(int) From, convert func(From) To) {
	t.Helper()
	path := vecPath(t)
	old := generate(n, gen)
	writeVec(t, path, old)
	require.NoError(t, Migrate(path, convert))

	got, err := readVec[To](path)
	require.NoError(t, err)
	want := convertAll(old, convert)
	require.Equal(t, len(want), len(got))
	if !slices.Equal(want, got) { // require.Equal on 2M elements prints too much
		i := 0
		for i < len(want) && want[i] == got[i] {
			i++
		}
		require.Failf(t, "wrong element", "element %d is %v, want %v", i, got[i], want[i])
	}
	if reflect.TypeFor[From]() != reflect.TypeFor[To]() {
		_, err = readVec[From](path)
		require.ErrorIs(t, err, ErrTypeMismatch, "the file must no longer open as the old type")
	}
	require.Equal(t, []string{filepath.Base(path)}, dirNames(t, filepath.Dir(path)))
}

// TestMigrateConverts: Migrate rewrites a file as a vector of another type,
// every element converted, in order.
func TestMigrateConverts(t *testing.T) {
	large := 2_000_000
	if testing.Short() {
		large = 200_000
	}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"int32 to int64", func(t *testing.T) {
			requireMigrates(t, 1000, func(i int) int32 { return int32(i) - 500 }, func(x int32) int64 { return int64(x) << 32 })
		}},
		{"a struct gains a field", func(t *testing.T) {
			requireMigrates(t, 1000, pointV1At, widenPoint)
		}},
		{"same type", func(t *testing.T) {
			requireMigrates(t, 1000, pt, func(p point) point { p.X *= 2; return p })
		}},
		{"empty", func(t *testing.T) {
			requireMigrates(t, 0, pointV1At, widenPoint)
		}},
		{"one element", func(t *testing.T) {
			requireMigrates(t, 1, pointV1At, widenPoint)
		}},
		{"narrowing to zero-size", func(t *testing.T) {
			requireMigrates(t, 100, pointV1At, func(pointV1) struct{} { return struct{}{} })
		}},
		{"large int32 to int64", func(t *testing.T) {
			requireMigrates(t, large, func(i int) int32 { return int32(i) }, func(x int32) int64 { return int64(x) * 3 })
		}},
	} {
		t.Run(tt.name, tt.run)
	}
}

// TestMigrateTwice: a migrated file migrates again, back to the old type.
func TestMigrateTwice(t *testing.T) {
	path := vecPath(t)
	old := generate(100, pointV1At)
	writeVec(t, path, old)
	require.NoError(t, Migrate(path, widenPoint))
	require.NoError(t, Migrate(path, func(p pointV2) pointV1 { return pointV1{p.X, p.Y} }))
	got, err := readVec[pointV1](path)
	require.NoError(t, err)
	require.Equal(t, old, got)
}

// requireUnchanged requires that the file at path holds the bytes before,
// and that it is alone in its directory.
func requireUnchanged(t *testing.T, path string, before []byte) {
	t.Helper()
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "the old file must be unchanged")
	require.Equal(t, []string{filepath.Base(path)}, dirNames(t, filepath.Dir(path)))
}

// TestMigrateRefusesWrongFromType: a file that is not a vector of From is
// ErrTypeMismatch, and nothing changes.
func TestMigrateRefusesWrongFromType(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(10, pointV1At))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	err = Migrate(path, func(p pointV2) point { return point{} })
	require.ErrorIs(t, err, ErrTypeMismatch)
	require.True(t, strings.HasPrefix(err.Error(), "memvec: migrate "+path+": open "+path+": "), err)
	require.Equal(t, 1, strings.Count(err.Error(), "memvec:"), "the message says memvec once: %v", err)
	requireUnchanged(t, path, before)
}

// TestMigrateLockedFile: a file another handle holds is ErrLocked, at once
// by default, and nothing changes; with a LockTimeout Migrate waits for
// the holder.
func TestMigrateLockedFile(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, pts(1, 2, 3))

	// The holder's own open and close write to the header: the file is
	// compared with what it was while held.
	v := openVec[point](t, path)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	err = Migrate(path, func(p point) pointV1 { return pointV1{p.X, p.Y} })
	require.ErrorIs(t, err, ErrLocked)
	requireUnchanged(t, path, before)
	require.NoError(t, v.Close())

	c := startChild(t, "hold", "MEMVEC_PATH="+path)
	c.expect(t, "locked")
	before, err = os.ReadFile(path)
	require.NoError(t, err)
	err = Migrate(path, func(p point) pointV1 { return pointV1{p.X, p.Y} })
	require.ErrorIs(t, err, ErrLocked, "a holder in another process")
	requireUnchanged(t, path, before)

	refused := lockPolls(t)
	done := make(chan error, 1)
	go func() {
		done <- Migrate(path, func(p point) pointV1 { return pointV1{p.X, p.Y} }, LockTimeout(time.Minute))
	}()
	<-refused
	c.release(t)
	require.NoError(t, <-done)
	got, err := readVec[pointV1](path)
	require.NoError(t, err)
	require.Equal(t, []pointV1{{1, 2}, {2, 4}, {3, 6}}, got)
}

// TestMigrateMissingFile: a missing file is fs.ErrNotExist, and Migrate
// creates nothing.
func TestMigrateMissingFile(t *testing.T) {
	path := vecPath(t)
	err := Migrate(path, widenPoint)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Empty(t, dirNames(t, filepath.Dir(path)))
}

// TestMigrateRemovesLeftoverTemp: the temporary file an interrupted Migrate
// left is ignored by Open and removed by the next Migrate.
func TestMigrateRemovesLeftoverTemp(t *testing.T) {
	path := vecPath(t)
	old := generate(100, pointV1At)
	writeVec(t, path, old)
	tmp := migrateTempPath(path)
	require.NoError(t, os.WriteFile(tmp, []byte("half a vector"), 0o644))

	got, err := readVec[pointV1](path)
	require.NoError(t, err, "Open ignores the leftover")
	require.Equal(t, old, got)
	require.NoError(t, Migrate(path, widenPoint))
	got2, err := readVec[pointV2](path)
	require.NoError(t, err)
	require.Equal(t, convertAll(old, widenPoint), got2)
	require.NoFileExists(t, tmp)
	require.Equal(t, []string{filepath.Base(path)}, dirNames(t, filepath.Dir(path)))
}

// TestMigrateConvertPanics: a panic in convert goes through Migrate, which
// first removes the new file and releases the old one, intact.
func TestMigrateConvertPanics(t *testing.T) {
	path := vecPath(t)
	old := generate(10_000, pointV1At)
	writeVec(t, path, old)
	func() {
		defer func() { require.Equal(t, "bad point", recover()) }()
		Migrate(path, func(p pointV1) pointV2 {
			if p.X == 5000 {
				panic("bad point")
			}
			return widenPoint(p)
		})
		t.Fatal("Migrate returned")
	}()
	got, err := readVec[pointV1](path)
	require.NoError(t, err)
	require.Equal(t, old, got)
	require.Equal(t, []string{filepath.Base(path)}, dirNames(t, filepath.Dir(path)))
	openVec[pointV1](t, path) // the lock is released
}

// TestMigrateRefusesOptions: the options that cannot apply are errors
// naming them, before anything is opened.
func TestMigrateRefusesOptions(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(3, pointV1At))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	for name, opt := range map[string]Option{"ReadOnly": ReadOnly(), "Follow": Follow(), "MustExist": MustExist(), "CreateNew": CreateNew()} {
		err := Migrate(path, widenPoint, opt)
		require.ErrorContains(t, err, "memvec: migrate "+path+": option "+name+" does not apply to Migrate")
	}
	requireUnchanged(t, path, before)
	require.NoError(t, Migrate(path, widenPoint, LockTimeout(time.Second), Reserve(1<<20), Advise(AdviseRandom), Mode(0o600)))
}

// TestMigrateKeepsPermissions: the new file has the old file's permission
// bits, whatever the umask, unless Mode says otherwise.
func TestMigrateKeepsPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no permission bits")
	}
	path := vecPath(t)
	writeVec(t, path, generate(3, pointV1At))
	require.NoError(t, os.Chmod(path, 0o604))
	require.NoError(t, Migrate(path, widenPoint))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o604), fi.Mode().Perm())

	require.NoError(t, Migrate(path, func(p pointV2) pointV1 { return pointV1{p.X, p.Y} }, Mode(0o600)))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

// TestMigrateFollowsSymlink: Migrate of a symbolic link replaces the file
// it leads to and keeps the link.
func TestMigrateFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	dir := tempDir(t)
	real, link := filepath.Join(dir, "real.vec"), filepath.Join(dir, "link.vec")
	old := generate(10, pointV1At)
	writeVec(t, real, old)
	require.NoError(t, os.Symlink("real.vec", link))
	require.NoError(t, Migrate(link, widenPoint))
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	require.Equal(t, fs.ModeSymlink, fi.Mode().Type(), "the link stays a link")
	got, err := readVec[pointV2](real)
	require.NoError(t, err)
	require.Equal(t, convertAll(old, widenPoint), got)
	require.ElementsMatch(t, []string{"real.vec", "link.vec"}, dirNames(t, dir))
}

// TestMigrateWaitingOpenGetsNewFile: an Open that waits with a LockTimeout
// for the lock that Migrate holds gets, once Migrate is done, the new file,
// not the old one that Migrate renamed the new one over. On Windows, where
// the waiting handle keeps the old file from being replaced, Migrate fails
// with ErrLocked and the waiter gets the old file.
func TestMigrateWaitingOpenGetsNewFile(t *testing.T) {
	for _, tt := range []struct {
		name string
		wait func(path string) (n int, err error)
	}{
		{"new type", func(path string) (int, error) {
			v, err := Open[pointV2](path, LockTimeout(time.Minute))
			if err != nil {
				return 0, err
			}
			defer v.Close()
			for i, p := range v.All() {
				if p != widenPoint(pointV1At(i)) {
					return 0, errors.New("the waiter reads the wrong elements")
				}
			}
			return v.Len(), nil
		}},
		{"old type", func(path string) (int, error) {
			// Without the check it would get the old file, unlinked.
			v, err := Open[pointV1](path, LockTimeout(time.Minute))
			if err != nil {
				return 0, err
			}
			defer v.Close()
			return v.Len(), nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := vecPath(t)
			const n = 1000
			writeVec(t, path, generate(n, pointV1At))

			// Migrate stops in its first convert until the waiter has
			// found the lock held.
			converting, proceed := make(chan struct{}), make(chan struct{})
			migrated := make(chan error, 1)
			go func() {
				first := true
				migrated <- Migrate(path, func(p pointV1) pointV2 {
					if first {
						first = false
						close(converting)
						<-proceed
					}
					return widenPoint(p)
				})
			}()
			<-converting
			refused := lockPolls(t)
			type result struct {
				n   int
				err error
			}
			waited := make(chan result, 1)
			go func() {
				n, err := tt.wait(path)
				waited <- result{n, err}
			}()
			<-refused
			close(proceed)
			err := <-migrated
			r := <-waited
			switch {
			case !renameOverOpenFile:
				require.ErrorIs(t, err, ErrLocked)
				if tt.name == "new type" {
					require.ErrorIs(t, r.err, ErrTypeMismatch)
				} else {
					require.NoError(t, r.err)
					require.Equal(t, n, r.n)
				}
			case tt.name == "new type":
				require.NoError(t, err)
				require.NoError(t, r.err, "the waiter must get the new file")
				require.Equal(t, n, r.n)
			default:
				require.NoError(t, err)
				require.ErrorIs(t, r.err, ErrTypeMismatch, "the waiter must not get the old file, unlinked")
			}
		})
	}
}

// TestMigrateFollowerKeepsOldFile: a follower of the old file goes on
// reading the old elements after Migrate, without a fault; on Windows its
// handle keeps Migrate from replacing the file (ErrLocked).
func TestMigrateFollowerKeepsOldFile(t *testing.T) {
	path := vecPath(t)
	old := generate(10_000, pointV1At)
	writeVec(t, path, old)
	f := follow[pointV1](t, path)
	view := f.Slice()

	err := Migrate(path, widenPoint)
	if !renameOverOpenFile {
		require.ErrorIs(t, err, ErrLocked)
		require.Equal(t, []string{filepath.Base(path)}, dirNames(t, filepath.Dir(path)))
	} else {
		require.NoError(t, err)
		got, err := readVec[pointV2](path)
		require.NoError(t, err)
		require.Equal(t, convertAll(old, widenPoint), got)
	}
	require.Equal(t, old, view, "the view the follower had reads the old elements")
	n, err := f.Refresh()
	require.NoError(t, err)
	require.Equal(t, len(old), n)
	require.Equal(t, old, f.Slice())
	require.NoError(t, f.Close())
}

// TestMigrateHoldsTheLock: from its open to the rename, no other writer
// can open the old file; on Unix the old file stays locked until after the
// rename and the directory's sync, and on Windows, which cannot rename over
// an open file, the lock goes just before the rename. The old file is
// watched through a hard link on Unix, since the path leads to the new one
// from the rename on.
func TestMigrateHoldsTheLock(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(100_000, pointV1At))
	old := path
	if renameOverOpenFile {
		old = path + ".link"
		require.NoError(t, os.Link(path, old))
	}
	var steps []string
	locked := map[string]bool{}
	migrateStepHook = func(step string) {
		if len(steps) == 0 || steps[len(steps)-1] != step {
			steps = append(steps, step)
		}
		v, err := Open[pointV1](old)
		if err == nil {
			err = v.Close()
		}
		switch {
		case errors.Is(err, ErrLocked):
			locked[step] = true
		case !renameOverOpenFile && errors.Is(err, ErrTypeMismatch):
			// On Windows the path leads to the new file after the rename.
		default:
			require.NoError(t, err, step)
		}
	}
	defer func() { migrateStepHook = nil }()
	require.NoError(t, Migrate(path, widenPoint))

	if renameOverOpenFile {
		require.Equal(t, []string{"locked", "created", "batch", "synced", "closed", "renamed", "dirsynced", "released"}, steps)
		for _, step := range steps[:len(steps)-1] {
			require.True(t, locked[step], "the old file must be locked at %q", step)
		}
		require.False(t, locked["released"])
	} else {
		require.Equal(t, []string{"locked", "created", "batch", "synced", "closed", "released", "renamed", "dirsynced"}, steps)
		for _, step := range steps[:5] {
			require.True(t, locked[step], "the old file must be locked at %q", step)
		}
		require.False(t, locked["released"])
	}
	got, err := readVec[pointV2](path)
	require.NoError(t, err)
	require.Equal(t, 100_000, len(got))
}
