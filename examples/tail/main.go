// Command tail is a live log in a vector file: one process writes it, any
// number of others follow it, like tail -f, each in its own terminal.
//
//	go run ./examples/tail -write app.vec     # terminal 1: appends a record every 200 ms
//	go run ./examples/tail app.vec            # terminal 2: prints the records, then each new one
//
// The follower opens the file with memvec.Follow: it takes no lock the
// writer waits on, and sleeps in Wait until the writer pushes (on Linux the
// writer's Push wakes it within microseconds). Start and stop either side
// in any order: a follower started first waits for the writer to create the
// file (as tail -F does), and a writer that
// is killed and started again continues where it stopped, with followers
// still attached. -n stops either side after that many records.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/memvec/memvec"
)

// Record is one log line. Text is in a fixed-size array: a memvec element
// holds no pointers, so no string. Its tag makes it text in the file's
// layout, which `memvec dump` prints as a string.
type Record struct {
	Time  int64 // Unix nanoseconds
	Seq   uint64
	Level uint8
	Text  [47]byte `memvec:"string"`
}

var levels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

func main() {
	write := flag.Bool("write", false, "write the log (default: follow it)")
	every := flag.Duration("every", 200*time.Millisecond, "with -write, how often to append a record")
	n := flag.Int("n", 0, "stop after this many records (0: never)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tail [-write [-every D]] [-n N] FILE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if *write {
		err = writeLog(ctx, flag.Arg(0), *every, *n)
	} else {
		err = followLog(ctx, flag.Arg(0), *n)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// writeLog appends a record every so often until ctx ends or it has
// written n (if n > 0).
func writeLog(ctx context.Context, path string, every time.Duration, n int) error {
	v, err := memvec.Open[Record](path)
	if err != nil {
		return err
	}
	defer v.Close()
	fmt.Printf("writing %s: %d records so far\n", path, v.Len())
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; n == 0 || i < n; i++ {
		r := Record{Time: time.Now().UnixNano(), Seq: uint64(v.Len()), Level: uint8(v.Len() % 7 % 4)}
		memvec.SetString(r.Text[:], fmt.Sprintf("request %d served in %d ms", v.Len(), 1+v.Len()*37%90))
		if err := v.Push(r); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// followLog prints the records the file holds, then each new one as the
// writer pushes it, until ctx ends or it has printed n (if n > 0).
func followLog(ctx context.Context, path string, n int) error {
	v, err := awaitFile(ctx, path)
	if err != nil {
		return err
	}
	defer v.Close()
	printed := 0
	for n == 0 || printed < n {
		for _, r := range v.Slice()[printed:] {
			if n > 0 && printed == n {
				break
			}
			fmt.Printf("%s %5d %-5s %s\n", time.Unix(0, r.Time).Format("15:04:05.000"), r.Seq, levels[r.Level%4], memvec.StringOf(r.Text[:]))
			printed++
		}
		if n > 0 && printed == n {
			break
		}
		_, err := v.Wait(ctx, printed)
		switch {
		case errors.Is(err, memvec.ErrRewritten):
			// The writer changed records already printed (this example's
			// writer never does): start again from the first.
			fmt.Println("-- the log was rewritten; from the start --")
			printed = 0
		case err != nil:
			return err
		}
	}
	return nil
}

// awaitFile opens the log at path as a follower. A follower never creates
// the file, so if the writer has not created it yet, awaitFile says so and
// looks again, every 100 ms at most, as tail -F does, until it exists or
// ctx ends.
func awaitFile(ctx context.Context, path string) (*memvec.MemVec[Record], error) {
	said := false
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		v, err := memvec.Open[Record](path, memvec.Follow())
		if !errors.Is(err, fs.ErrNotExist) {
			return v, err
		}
		if !said {
			fmt.Fprintf(os.Stderr, "tail: %s does not exist yet: waiting for the writer to create it\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
