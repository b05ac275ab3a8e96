//go:build unix || windows

package memvec

import (
	"bufio"
	"fmt"
	"io"
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
// its stdin it reads the map over and over (Refresh, Get of random keys
// from 1 to $MEMVEC_KEYS, or mapWorkKeys,
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
	keys := uint64(mapWorkKeys)
	if n, err := strconv.ParseUint(os.Getenv("MEMVEC_KEYS"), 10, 64); err == nil {
		keys = n
	}
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
				if v, ok := m.Get(1 + r.Uint64N(keys)); ok && !v.whole() {
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
// 20,000 keys (by Put and Update) and grows the map through splits; the follower never reads a
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
	rounds := 40
	if testing.Short() {
		rounds = 12 // the 32-bit tests in an emulator run so
	}
	for round := range rounds {
		for range 5000 {
			k := 1 + r.Uint64N(mapWorkKeys)
			switch x := wideOf(r.Uint64()>>1 | 1); r.IntN(10) {
			case 0:
				_, err = m.Delete(k)
			case 1, 2, 3:
				err = m.Update(k, func(wide, bool) (wide, bool) { return x, true })
			default:
				err = m.Put(k, x)
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

func init() { children["mapfollowmoved"] = mapFollowMovedChild }

// mapFollowMovedChild follows the map at $MEMVEC_PATH, whose keys
// mapSplitKey(1) to mapSplitKey($MEMVEC_KEYS) have the values wideOf(i).
// It refreshes once and says "ok", then gets all those keys over and over,
// never refreshing, until its stdin closes; then it gets them once more and
// says how many passes it made. It fails on the first key it does not find
// with its value.
func mapFollowMovedChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	n, _ := strconv.ParseUint(os.Getenv("MEMVEC_KEYS"), 10, 64)
	m, err := OpenMap[uint64, wide](os.Getenv("MEMVEC_PATH"), Follow())
	if err != nil {
		fail("%v", err)
	}
	if got, err := m.Refresh(); err != nil || got != int(n) {
		fail("refresh: %d keys, %v", got, err)
	}
	fmt.Println("ok")
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	for pass := 1; ; pass++ {
		for i := uint64(1); i <= n; i++ {
			if v, ok := m.Get(mapSplitKey(i)); !ok || v != wideOf(i) {
				fail("pass %d: key %d of %d is %v (present %v)", pass, i, n, v, ok)
			}
		}
		select {
		case <-done:
			for i := uint64(1); i <= n; i++ {
				if v, ok := m.Get(mapSplitKey(i)); !ok || v != wideOf(i) {
					fail("last pass: key %d of %d is %v (present %v)", i, n, v, ok)
				}
			}
			fmt.Println("passes", pass)
			return
		default:
		}
	}
}

// TestMapFollowerFindsMovedKeys: a follower refreshes once, over 2,000
// keys, and then, without refreshing, gets them over and over while the
// writer, in this process, puts 60,000 new keys with a Sync every 100:
// the splits move about half of the follower's keys out of the buckets
// its view counts, and the Puts after each Sync reuse the slots of the
// copies left behind. The follower finds every key, with its value, all
// along and at the end.
func TestMapFollowerFindsMovedKeys(t *testing.T) {
	const keys, more = 2000, 60_000
	path := filepath.Join(tempDir(t), "moved.map")
	m, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	defer m.Close()
	for i := uint64(1); i <= keys; i++ {
		require.NoError(t, m.Put(mapSplitKey(i), wideOf(i)))
	}
	require.NoError(t, m.Sync())
	c := startChild(t, "mapfollowmoved", "MEMVEC_PATH="+path, "MEMVEC_KEYS="+strconv.Itoa(keys))
	c.expect(t, "ok")
	b0 := m.buckets
	for i := uint64(keys + 1); i <= keys+more; i++ {
		require.NoError(t, m.Put(mapSplitKey(i), wideOf(i)))
		if i%100 == 0 {
			require.NoError(t, m.Sync())
		}
	}
	require.Greater(t, m.buckets, 8*b0, "the writer split the follower's buckets")
	require.NoError(t, c.stdin.Close())
	require.True(t, c.lines.Scan(), "the follower ended without a word")
	require.True(t, strings.HasPrefix(c.lines.Text(), "passes "), "the follower said %q", c.lines.Text())
	t.Logf("the follower made %s over %d keys", c.lines.Text(), keys)
	require.NoError(t, c.cmd.Wait())
}

// TestMapFollowerSeesWholeUpdates: a follower in another process reads
// four hot counters over and over while this process's writer counts
// them up by Update, 400,000 times: every value it reads is whole (an
// Update that wrote the value in place, as through a pointer into the
// map, would be read half written), and after a Refresh it sees the
// count the writer reached.
func TestMapFollowerSeesWholeUpdates(t *testing.T) {
	path := filepath.Join(tempDir(t), "counters.map")
	m, err := OpenMap[uint64, wide](path)
	require.NoError(t, err)
	defer m.Close()
	c := startChild(t, "mapfollow", "MEMVEC_PATH="+path, "MEMVEC_KEYS=4")
	count := func(v wide, _ bool) (wide, bool) { return wideOf(uint64(v[0]) + 1), true }
	for round := range 40 {
		for j := range 10_000 {
			require.NoError(t, m.Update(1+uint64(j%4), count))
		}
		k := 1 + uint64(round%4)
		v, ok := m.Get(k)
		require.True(t, ok)
		fmt.Fprintf(c.stdin, "check %d %d\n", k, v[0])
		c.expect(t, "ok")
	}
	require.NoError(t, c.stdin.Close())
	require.True(t, c.lines.Scan(), "the follower ended without a word")
	require.True(t, strings.HasPrefix(c.lines.Text(), "read "), "the follower said %q", c.lines.Text())
	t.Logf("the follower %s values", c.lines.Text())
	require.NoError(t, c.cmd.Wait())
}
