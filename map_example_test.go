package memvec_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/memvec/memvec"
)

// A persistent index: user id to the time the user was last seen, kept
// across runs.
func ExampleOpenMap() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "seen.map")

	seen, err := memvec.OpenMap[uint64, int64](path)
	if err != nil {
		log.Fatal(err)
	}
	for user := range uint64(1000) {
		if err := seen.Put(user, 1_700_000_000+int64(user)); err != nil { // a full disk is an error
			log.Fatal(err)
		}
	}
	if err := seen.Put(42, 1_800_000_000); err != nil { // a new value for a key
		log.Fatal(err)
	}
	if _, err := seen.Delete(7); err != nil {
		log.Fatal(err)
	}
	// A kill -9 from here on loses nothing; Sync makes it survive a power
	// loss too (Close syncs).
	if err := seen.Close(); err != nil {
		log.Fatal(err)
	}

	// The next run: O(1) to open, whatever the map's size.
	seen, err = memvec.OpenMap[uint64, int64](path, memvec.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer seen.Close()
	t, ok := seen.Get(42)
	fmt.Println(seen.Len(), "users; 42 last seen at", t, ok)
	_, ok = seen.Get(7)
	fmt.Println("7 is there:", ok)
	// Output:
	// 999 users; 42 last seen at 1800000000 true
	// 7 is there: false
}

// Counters kept across runs: hits per page, counted up in place.
func ExampleMap_Update() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	hits, err := memvec.OpenMap[[32]byte, uint64](filepath.Join(dir, "hits.map"))
	if err != nil {
		log.Fatal(err)
	}
	defer hits.Close()
	page := func(s string) (k [32]byte) { copy(k[:], s); return k }
	count := func(n uint64, _ bool) (uint64, bool) { return n + 1, true }
	for _, p := range []string{"/", "/about", "/", "/blog/maps", "/"} {
		if err := hits.Update(page(p), count); err != nil {
			log.Fatal(err)
		}
	}
	n, _ := hits.Get(page("/"))
	fmt.Println("/ was hit", n, "times;", hits.Len(), "pages")
	// Output: / was hit 3 times; 3 pages
}
