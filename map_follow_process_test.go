//go:build unix || windows

package memvec

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["mapfollow"] = mapFollowChild }

// mapFollowChild follows the map at $MEMVEC_PATH. Between the commands on
// its stdin it reads the map over and over (Refresh, Get of random keys,
// All), requiring every value whole; on "check KEY X" it refreshes and
// answers "ok" if Get(KEY) is X (or the key is absent, for X 0), else what
// it found; at the end of stdin it says how many values it read.
func mapFollowChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fail("%v", err)
	}
	commands := make(chan string)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			commands <- s.Text()
		}
		close(commands)
	}()
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 4))
	reads := 0
	for {
		select {
		case cmd, ok := <-commands:
			if !ok {
				fmt.Println("read", reads)
				return
			}
			f := strings.Fields(cmd)
			k, _ := strconv.ParseUint(f[1], 10, 64)
			x, _ := strconv.ParseUint(f[2], 10, 64)
			if _, err := m.Refresh(); err != nil {
				fail("refresh: %v", err)
			}
			v, ok := m.Get(k)
			if ok != (x != 0) || ok && v != wideOf(x) {
				fail("key %d is %v (present %v), not %d", k, v, ok, x)
			}
			fmt.Println("ok")
		default:
			if _, err := m.Refresh(); err != nil {
				fail("refresh: %v", err)
			}
			for range 100 {
				if v, ok := m.Get(1 + r.Uint64N(mapWorkKeys)); ok && !v.whole() {
					fail("torn value %v", v)
				}
				reads++
			}
			if r.IntN(50) == 0 {
				for k, v := range m.All() {
					if !v.whole() {
						fail("All: key %d has a torn value %v", k, v)
					}
					reads++
				}
			}
		}
	}
}

// TestMapFollowerNeverSeesTornValues: a follower in another process reads
// the map while this process's writer rewrites three-word values of
// 20,000 keys and grows the map through splits; the follower never reads a
// value whose words disagree, and after a Refresh sees each change the
// writer made before it asked.
func TestMapFollowerNeverSeesTornValues(t *testing.T) {
	path := filepath.Join(tempDir(t), "follow.map")
	m, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Put(1, wideOf(1)))
	c := startChild(t, "mapfollow", "MEMVEC_PATH="+path)
	r := rand.New(rand.NewPCG(rand.Uint64(), 5))
	for round := range 40 {
		for range 5000 {
			k := 1 + r.Uint64N(mapWorkKeys)
			if r.IntN(10) == 0 {
				_, err = m.Delete(k)
			} else {
				err = m.Put(k, wideOf(r.Uint64()>>1|1))
			}
			require.NoError(t, err)
		}
		k, x := 1+r.Uint64N(mapWorkKeys), r.Uint64()>>1|1
		if round%3 == 0 {
			_, err = m.Delete(k)
			x = 0
		} else {
			err = m.Put(k, wideOf(x))
		}
		require.NoError(t, err)
		fmt.Fprintf(c.stdin, "check %d %d\n", k, x)
		c.expect(t, "ok")
	}
	require.NoError(t, c.stdin.Close())
	require.True(t, c.lines.Scan(), "the follower ended without a word")
	require.True(t, strings.HasPrefix(c.lines.Text(), "read "), "the follower said %q", c.lines.Text())
	t.Logf("the follower %s values", c.lines.Text())
	require.NoError(t, c.cmd.Wait())
}
