//go:build unix

package memvec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFormatMapPythonReader runs FORMAT.md's Python reader of map files on
// a map Go wrote (grown through splits and overflow buckets, with deletes
// and updates) and requires the entries it lists to be the map's.
func TestFormatMapPythonReader(t *testing.T) {
	py := needPython(t)
	m := formatDoc(t, "(?s)### Reading a Map in Python\n.*?```python\n(.*?)```", "a Python reader of map files")
	dir := tempDir(t)
	script := filepath.Join(dir, "reader.py")
	require.NoError(t, os.WriteFile(script, append(m[1], []byte(`
import sys
for (k,), (v,) in sorted(map_entries(sys.argv[1], "Q", "q")):
    print(k, v)
`)...), 0o644))
	path := filepath.Join(dir, "users.map")
	mp, err := OpenMap[uint64, int64](path)
	require.NoError(t, err)
	want := map[uint64]int64{}
	for i := range uint64(3000) {
		k := i * 0x9E3779B97F4A7C15
		require.NoError(t, mp.Put(k, -int64(i)))
		want[k] = -int64(i)
		if i%4 == 0 {
			require.NoError(t, mp.Put(k, int64(i)*7))
			want[k] = int64(i) * 7
		}
		if i%7 == 0 {
			_, err := mp.Delete(k)
			require.NoError(t, err)
			delete(want, k)
		}
	}
	require.NoError(t, mp.Close())
	var lines []string
	for k, v := range want {
		lines = append(lines, fmt.Sprintf("%d %d", k, v))
	}
	sort.Slice(lines, func(i, j int) bool {
		var a, b uint64
		fmt.Sscan(lines[i], &a)
		fmt.Sscan(lines[j], &b)
		return a < b
	})
	out, err := exec.Command(py, script, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, strings.Join(lines, "\n")+"\n", string(out))
}
