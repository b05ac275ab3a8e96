package memvec_test

import (
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/memvec/memvec"
)

// A tool reads a map file without knowing its types: the stored layout
// names them, and All gives each entry's key and value as bytes.
func ExampleOpenRawMap() {
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
	for user := range uint64(3) {
		if err := seen.Put(user, 1_700_000_000+int64(user)); err != nil {
			log.Fatal(err)
		}
	}
	if err := seen.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := memvec.OpenRawMap(path) // ReadOnly; memvec.Follow() beside a live writer
	if err != nil {
		log.Fatal(err) // ErrTypeMismatch for a vector file, ErrCorrupt for a damaged one
	}
	defer r.Close()
	fmt.Println(r.KeyType().Kind, "->", r.ValueType().Kind, "value at", r.ValueOffset(), "in", r.Layout().Size, "bytes")
	sum := int64(0)
	for k, v := range r.All() {
		sum += int64(binary.NativeEndian.Uint64(k)) + int64(binary.NativeEndian.Uint64(v))
	}
	fmt.Println(r.Len(), "entries, sum", sum)
	c, err := r.Check() // every slot's checksum, the chains, the count
	if err != nil {
		log.Fatal(err) // ErrCorrupt, saying where
	}
	fmt.Println(c.Entries, "checked")
	// Output:
	// u64 -> i64 value at 8 in 16 bytes
	// 3 entries, sum 5100000006
	// 3 checked
}
