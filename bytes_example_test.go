package memvec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/memvec/memvec"
)

// An application's event log: JSON records of any length, appended by
// one run and read back, in place, by the next.
func ExampleOpenBytes() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log") // a directory: offsets and data

	type Event struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		User  int    `json:"user,omitempty"`
	}
	events, err := memvec.OpenBytes(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range []Event{
		{"info", "started", 0},
		{"warn", "disk 91% full", 0},
		{"info", "login", 42},
	} {
		// Encode into a buffer of our own; Push copies it.
		rec, err := json.Marshal(e)
		if err != nil {
			log.Fatal(err)
		}
		if err := events.Push(rec); err != nil { // a full disk is an error
			log.Fatal(err)
		}
	}
	// A kill -9 from here on loses nothing pushed; Sync makes the events
	// survive a power loss too.
	if err := events.Sync(); err != nil {
		log.Fatal(err)
	}
	if err := events.Close(); err != nil {
		log.Fatal(err)
	}

	// The next run: O(1) to open, whatever the log's size.
	events, err = memvec.OpenBytes(path, memvec.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close()
	fmt.Println(events.Len(), "events,", events.Size(), "bytes")
	for i, rec := range events.All() { // each record in place, no copy
		var e Event
		if err := json.Unmarshal(rec, &e); err != nil {
			log.Fatal(err)
		}
		fmt.Println(i, e.Level, e.Msg)
	}
	fmt.Println(events.String(2))
	// Output:
	// 3 events, 110 bytes
	// 0 info started
	// 1 warn disk 91% full
	// 2 info login
	// {"level":"info","msg":"login","user":42}
}

// Records written in place by their encoder, with no copy: here
// fmt.Appendf and an address's AppendBinary, which has the signature
// PushFunc takes.
func ExampleBytes_PushFunc() {
	lines, err := memvec.MakeBytes()
	if err != nil {
		panic(err)
	}
	defer lines.Close()
	for i := range 3 {
		err := lines.PushFunc(func(buf []byte) ([]byte, error) {
			return fmt.Appendf(buf, "request %d took %d ms", i, 10*(i+1)), nil
		})
		if err != nil {
			panic(err)
		}
	}
	addr := netip.MustParseAddr("192.0.2.7")
	if err := lines.PushFunc(addr.AppendBinary); err != nil {
		panic(err)
	}
	for i, rec := range lines.All() {
		if i < 3 {
			fmt.Println(string(rec))
		} else {
			fmt.Println(netip.AddrFrom4([4]byte(rec)))
		}
	}
	// Output:
	// request 0 took 10 ms
	// request 1 took 20 ms
	// request 2 took 30 ms
	// 192.0.2.7
}

// A follower streams the records a writer pushes, as they come: here in
// another goroutine, the same in another process. Wait blocks until there
// are more than it has seen; the writer's Push wakes it.
func ExampleBytes_Wait() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.log")

	w, err := memvec.OpenBytes(path)
	if err != nil {
		log.Fatal(err)
	}
	f, err := memvec.OpenBytes(path, memvec.Follow())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	written := make(chan error)
	go func() { // the writer: a Bytes belongs to one goroutine at a time
		for _, msg := range []string{"started", "user 42 logged in", "stopped"} {
			if err := w.PushString(msg); err != nil {
				log.Fatal(err)
			}
		}
		written <- w.Close()
	}()
	defer func() {
		if err := <-written; err != nil {
			log.Fatal(err)
		}
	}()
	for seen := 0; seen < 3; {
		n, err := f.Wait(context.Background(), seen)
		if err != nil {
			log.Fatal(err) // ErrRewritten if the writer truncated what f saw
		}
		for i := seen; i < n; i++ {
			fmt.Printf("%d: %s\n", i, f.At(i))
		}
		seen = n
	}
	// Output:
	// 0: started
	// 1: user 42 logged in
	// 2: stopped
}
