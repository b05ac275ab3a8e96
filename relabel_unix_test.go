//go:build unix

package memvec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRelabelFileCut: another program cuts the file while Relabel writes
// it, between the write of the new layout and the store that makes it
// current, which lands past the end of the cut file. Relabel returns an
// error wrapping ErrFileChanged instead of dying of SIGBUS, and writes
// nothing more: the file stays as the cut left it.
func TestRelabelFileCut(t *testing.T) {
	path := vecPath(t)
	writeVec(t, path, generate(10, readingAt))
	relabelStepHook = func(step string) {
		if step == "synced" {
			require.NoError(t, alterFile(t, path, "truncate", "0"))
		}
	}
	t.Cleanup(func() { relabelStepHook = nil })
	err := Relabel[readingCelsius](path)
	t.Log(err)
	require.ErrorIs(t, err, ErrFileChanged)
	require.ErrorContains(t, err, "memvec: relabel "+path+": the file was cut")
	require.Zero(t, fileSize(t, path), "the file as the cut left it")
}
