//go:build unix

package memvec

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFormatBytesNumpyReader runs FORMAT.md's numpy reader of a Bytes on
// one Go wrote (empty records, zero bytes, text, a record over many
// pages) and checks every record against what Go pushed: two memmaps,
// no copy, give Arrow's LargeBinary buffers.
func TestFormatBytesNumpyReader(t *testing.T) {
	py := numpyPython(t)
	m := formatDoc(t, "(?s)### Reading a Bytes with numpy\n.*?```python\n(.*?)```", "a numpy reader of a Bytes")
	dir := tempDir(t)
	path := filepath.Join(dir, "events.bytes")
	b := openBytes(t, path)
	var want []string
	push := func(p []byte) {
		require.NoError(t, b.Push(p))
		want = append(want, hex.EncodeToString(p))
	}
	push(nil)
	push([]byte("héllo, world"))
	push([]byte{0, 0, 1, 0})
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	push(big)
	for i := range 500 {
		push(record(i))
	}
	size := b.Size()
	require.NoError(t, b.Close())
	wantFile := filepath.Join(dir, "want.json")
	js, err := json.Marshal(want)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(wantFile, js, 0o644))

	script := string(m[1]) + `
import json, sys
offsets, data = bytes_memmaps(sys.argv[1])
want = [bytes.fromhex(h) for h in json.load(open(sys.argv[2]))]
assert isinstance(offsets, numpy.memmap) and isinstance(data, numpy.memmap), (type(offsets), type(data))
assert offsets.dtype == numpy.dtype("<i8") and offsets[0] == 0 and len(offsets) == len(want) + 1, offsets
for i, w in enumerate(want):
    got = bytes(data[offsets[i]:offsets[i + 1]])
    assert got == w, (i, got[:20], w[:20])
print("ok", len(want), int(offsets[-1]))
`
	file := filepath.Join(dir, "bytes_reader.py")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o644))
	out, err := exec.Command(py, file, path, wantFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, fmt.Sprintf("ok 504 %d\n", size), string(out))
}
