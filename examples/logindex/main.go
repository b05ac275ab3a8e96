// Command logindex keeps a persistent index beside a log: the log is a
// memvec.Bytes of records of any length (one event a record, "user 42:
// event 7 at 2026-12-06T15:04:05.123Z"), the index a memvec.Map from a user id to the
// position in the log of that user's latest event. Both are files, kept
// across runs, and open in O(1).
//
//	go run ./examples/logindex                        # 100,000 events, in a temporary directory
//	go run ./examples/logindex -dir data -n 1000000   # run it again: each run adds to the same log and index
//	go run ./examples/logindex -dir data -kill 500    # a run killed (kill -9) after pushing its 500th record, before indexing it
//
// Each run appends -n events of -users users and indexes each as it goes:
// the record first, then its index entry, so that the index never names a
// position past the log. The index also keeps, under a key no user has,
// how many records it has indexed: a run that finds the log longer (the
// last one was killed between a record and its entry) indexes the rest
// first, reading only those records. After a power loss the index, synced
// after the log, may still count records the log lost (the kernel writes
// pages back in any order, and a map after a power loss keeps what its
// last Sync covered and perhaps more): the run then builds the index
// again from the log. At the end the run looks a few users up (one Get and
// one At each), checks the index against one scan of the log, and exits
// with status 1 if a check fails.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/memvec/memvec"
)

// indexed is the index's key for the number of log records it covers: no
// user has it.
const indexed = math.MaxUint64

func main() {
	dir := flag.String("dir", "", "the directory of the log and the index (default: a new temporary one, removed at the end)")
	n := flag.Int("n", 100_000, "how many events this run appends")
	users := flag.Uint64("users", 10_000, "how many users the events are of")
	kill := flag.Int("kill", 0, "kill this process (SIGKILL; TerminateProcess on Windows) after it pushed its `K`-th record, before it indexes it")
	flag.Parse()
	log.SetFlags(0)
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "logindex")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := run(*dir, *n, *users, *kill); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(dir string, n int, users uint64, kill int) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	events, err := memvec.OpenBytes(filepath.Join(dir, "events.log"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, events.Close()) }()
	indexPath := filepath.Join(dir, "latest.map")
	latest, err := memvec.OpenMap[uint64, uint64](indexPath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, latest.Close()) }()

	covered, _ := latest.Get(indexed)
	if covered > uint64(events.Len()) {
		// A power loss took records the index had seen: build it anew.
		fmt.Printf("the index covers %d records, the log holds %d: building the index again\n", covered, events.Len())
		if err := latest.Close(); err != nil {
			return err
		}
		if err := os.Remove(indexPath); err != nil {
			return err
		}
		if latest, err = memvec.OpenMap[uint64, uint64](indexPath); err != nil {
			return err
		}
		covered = 0
	}
	if behind := events.Len() - int(covered); behind > 0 {
		fmt.Printf("records the last run left unindexed: %d; indexing them\n", behind)
	}
	for i := int(covered); i < events.Len(); i++ {
		user, err := userOf(events.At(i))
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := index(latest, user, i); err != nil {
			return err
		}
	}

	// This run's events: the record, then its entry.
	r := rand.New(rand.NewPCG(uint64(events.Len()), 1))
	var buf []byte
	for seq := range n {
		user := r.Uint64N(users)
		buf = fmt.Appendf(buf[:0], "user %d: event %d at %s", user, events.Len(), time.Now().UTC().Format(time.RFC3339Nano))
		if err := events.Push(buf); err != nil {
			return err
		}
		if seq+1 == kill {
			fmt.Printf("pushed %d records of %d: killing this run before it indexes the last\n", kill, n)
			self, _ := os.FindProcess(os.Getpid())
			self.Kill()
			select {} // the kill lands
		}
		if err := index(latest, user, events.Len()-1); err != nil {
			return err
		}
	}
	// The log durable first: an index synced after it names no record a
	// power loss can take (but see the package comment).
	if err := events.Sync(); err != nil {
		return err
	}
	if err := latest.Sync(); err != nil {
		return err
	}
	fmt.Printf("log: %d records (%d this run); index: %d users\n", events.Len(), n, latest.Len()-1)

	for _, user := range []uint64{0, 1, users / 2, users - 1} {
		if at, ok := latest.Get(user); ok {
			fmt.Printf("user %d's latest event, record %d: %q\n", user, at, events.At(int(at)))
		}
	}
	return check(events, latest)
}

// index records that the record at position at is user's latest, and that
// the index covers the log up to it.
func index(latest *memvec.Map[uint64, uint64], user uint64, at int) error {
	if err := latest.Put(user, uint64(at)); err != nil {
		return err
	}
	return latest.Put(indexed, uint64(at+1))
}

// userOf reads the user id from a record, "user ID: ...".
func userOf(rec []byte) (uint64, error) {
	rest, ok := bytes.CutPrefix(rec, []byte("user "))
	id, _, found := bytes.Cut(rest, []byte(":"))
	if !ok || !found {
		return 0, fmt.Errorf("not an event: %q", rec)
	}
	return strconv.ParseUint(string(id), 10, 64)
}

// check requires the index to name, for every user in the log, the
// position of the user's last record, and nothing else, by one scan.
func check(events *memvec.Bytes, latest *memvec.Map[uint64, uint64]) error {
	want := map[uint64]uint64{}
	for i, rec := range events.All() {
		user, err := userOf(rec)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		want[user] = uint64(i)
	}
	if got, ok := latest.Get(indexed); !ok || got != uint64(events.Len()) {
		return fmt.Errorf("the index covers %d records (%v), the log holds %d", got, ok, events.Len())
	}
	if latest.Len()-1 != len(want) {
		return fmt.Errorf("the index holds %d users, the log %d", latest.Len()-1, len(want))
	}
	for user, at := range want {
		if got, ok := latest.Get(user); !ok || got != at {
			return fmt.Errorf("user %d: the index names record %d (%v), the user's latest is %d", user, got, ok, at)
		}
	}
	fmt.Printf("checked: the index names every user's latest record, by one scan of %d records\n", events.Len())
	return nil
}
