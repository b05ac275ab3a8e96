// Command quickstart keeps a persistent application log in a memvec file:
// fixed-size records that survive the process. Run it twice: the second run
// finds the records of the first.
//
//	go run ./examples/quickstart                 # the log in your cache directory
//	go run ./examples/quickstart -file app.vec   # or in the file you name
//
// By default the log is quickstart.vec in a memvec directory of the user's
// cache directory (os.UserCacheDir: ~/.cache on Linux, ~/Library/Caches on
// macOS, %LocalAppData% on Windows), so that every user on a machine has
// their own: a fixed name in the shared temporary directory would belong to
// the first user who ran the program, and give the next a permission error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/memvec/memvec"
)

// Record is one log entry. It is plain data (no strings, slices or
// pointers), 64 bytes, so it can live in the mapped file as it is. The
// message is a fixed array tagged memvec:"string": text up to its first
// zero byte, which the file's layout records, so that `memvec dump` prints
// it as a string and numpy reads it as one.
type Record struct {
	Time  int64 // Unix nanoseconds
	Level Level
	Msg   [55]byte `memvec:"string"`
}

// Level is a record's severity.
type Level uint8

const (
	Info Level = iota
	Warn
)

func (l Level) String() string {
	if l == Warn {
		return "WARN"
	}
	return "INFO"
}

// newRecord returns a record of msg, cut to fit.
func newRecord(level Level, msg string) Record {
	r := Record{Time: time.Now().UnixNano(), Level: level}
	memvec.SetString(r.Msg[:], msg)
	return r
}

func (r Record) String() string {
	return fmt.Sprintf("%s %-4s %s", time.Unix(0, r.Time).Format("15:04:05.000"), r.Level, memvec.StringOf(r.Msg[:]))
}

func main() {
	path := flag.String("file", "", "the log `file` (default: quickstart.vec in the memvec directory of your cache directory)")
	show := flag.Int("show", 5, "how many of the last records to print")
	flag.Parse()
	if *path == "" {
		var err error
		if *path, err = defaultPath(); err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err, "(pass -file)")
			os.Exit(1)
		}
	}
	if err := run(*path, *show); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// defaultPath returns the log's path in the user's cache directory,
// creating the directory if it is missing.
func defaultPath() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "memvec")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return filepath.Join(dir, "quickstart.vec"), nil
}

func run(path string, show int) error {
	// Open creates the file if it is missing and takes its lock: a second
	// writer (another run of this program) waits up to a second, then gets
	// ErrLocked.
	records, err := memvec.Open[Record](path, memvec.LockTimeout(time.Second))
	switch {
	case errors.Is(err, memvec.ErrLocked):
		return fmt.Errorf("another process is using the log: %w", err)
	case errors.Is(err, memvec.ErrTypeMismatch), errors.Is(err, memvec.ErrCorrupt):
		return fmt.Errorf("not a log of this program (remove it or pass -file): %w", err)
	case err != nil:
		return err
	}
	defer records.Close() // on the error paths; the normal path closes below

	fmt.Printf("%s: %d records from earlier runs\n", path, records.Len())

	// Push writes the record before the length that counts it, so a crash
	// never leaves a counted record unwritten.
	if err := records.Push(newRecord(Info, fmt.Sprintf("run started, pid %d", os.Getpid()))); err != nil {
		return err
	}
	if err := records.Push(newRecord(Warn, fmt.Sprintf("found %d earlier records", records.Len()-1))); err != nil {
		return err
	}
	// Sync makes the records survive a power loss too, not only a crash.
	if err := records.Sync(); err != nil {
		return err
	}

	first := max(0, records.Len()-show)
	fmt.Printf("last %d of %d records:\n", records.Len()-first, records.Len())
	for _, r := range records.Slice()[first:] {
		fmt.Println(" ", r)
	}
	return records.Close()
}
