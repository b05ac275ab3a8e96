//go:build linux || windows

package memvec_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/memvec/memvec"
)

// Two writers of one log, each with a handle of its own opened Shared:
// here in one process, in real life in two (a worker each). Each record
// lands once and whole; a handle sees the other's records after Refresh.
func ExampleOpenBytes_shared() {
	dir, err := os.MkdirTemp("", "memvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "jobs.log")

	web, err := memvec.OpenBytes(path, memvec.Shared())
	if err != nil {
		log.Fatal(err)
	}
	defer web.Close()
	cron, err := memvec.OpenBytes(path, memvec.Shared())
	if err != nil {
		log.Fatal(err)
	}
	defer cron.Close()

	if err := web.PushString("web: GET /"); err != nil {
		log.Fatal(err)
	}
	if err := cron.Append([]byte("cron: backup started"), []byte("cron: backup done")); err != nil {
		log.Fatal(err) // all or none, together in the log
	}
	if err := web.PushString("web: POST /login"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("cron sees", cron.Len(), "records before Refresh")
	if _, err := cron.Refresh(); err != nil {
		log.Fatal(err)
	}
	for _, rec := range cron.All() {
		fmt.Println(string(rec))
	}
	// Any writer's Sync makes every record published so far durable.
	if err := web.Sync(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// cron sees 3 records before Refresh
	// web: GET /
	// cron: backup started
	// cron: backup done
	// web: POST /login
}
