//go:build unix || windows

package memvec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["stale"] = staleChild }

// staleChild keeps a view of the vector at $MEMVEC_PATH past its Close,
// opens the vectors $MEMVEC_PATH.0 ... .9, which would be mapped where it
// was if the address space were handed back, and writes through the stale
// view: which must fault, ending the process before it says "wrote".
func staleChild() {
	path := os.Getenv("MEMVEC_PATH")
	a, err := Open[int64](path)
	if err == nil {
		err = a.Append(7, 8, 9)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	view := a.Slice()
	a.Close()
	for i := range 10 {
		b, err := Open[int64](path + "." + strconv.Itoa(i))
		if err == nil {
			err = b.Append(1, 2, 3)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(childFailed)
		}
		defer b.Close()
	}
	fmt.Println("writing")
	view[0] = -1
	fmt.Println("wrote", view[1])
}

// TestStaleViewFaultsInsteadOfAliasing: a view kept past Close faults,
// rather than reading and writing another vector's file that the kernel
// mapped at the same address afterwards.
func TestStaleViewFaultsInsteadOfAliasing(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.vec")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=stale", "MEMVEC_PATH="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.Error(t, err, "the stale write did not fault: %s", stdout.String())
	require.Equal(t, "writing\n", stdout.String())
	require.Contains(t, stderr.String(), "unexpected fault address", "the child died of something else")
	for i := range 10 {
		v := openVec[int64](t, path+"."+strconv.Itoa(i), ReadOnly())
		require.Equal(t, []int64{1, 2, 3}, v.Slice(), "vector %d was written through a stale view", i)
	}
}
