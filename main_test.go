package memvec

import (
	"fmt"
	"os"
	"testing"

	"github.com/memvec/memvec/internal/format"
)

// childEnv names the environment variable that makes the test binary run a
// child role (registered in children) instead of the tests: the crash and
// lock tests re-run the test binary as a real second process.
const childEnv = "MEMVEC_TEST_CHILD"

// children maps a role to the function the re-run binary executes. A role
// ends the process itself, or returns to exit 0.
var children = map[string]func(){}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		run, ok := children[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		run()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ptOff is where element 0 of a vector of points starts: after the header
// and the layout slots.
var ptOff = int(format.DataOffsetFor(must(layoutFor[point]()).body()))

func must[T any](x T, err error) T {
	if err != nil {
		panic(err)
	}
	return x
}
