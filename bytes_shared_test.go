//go:build linux || windows

package memvec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func init() {
	children["bytessharedpush"] = bytesSharedPushChild
	children["holdbytes"] = holdBytesChild
}

// makeBytesRec returns the record that Shared writers of a Bytes push in
// the tests: writer w's record seq, at place pos of an Append of n records
// (one for a Push), 16 bytes that say so and then 0 to 299 bytes that
// follow from them, so that a torn, mixed or misplaced record shows.
func makeBytesRec(w, seq, pos, n uint32) []byte {
	size := 16 + int((uint64(w)*7919+uint64(seq)*104729)%300)
	p := make([]byte, size)
	binary.LittleEndian.PutUint32(p[0:], w)
	binary.LittleEndian.PutUint32(p[4:], seq)
	binary.LittleEndian.PutUint32(p[8:], pos)
	binary.LittleEndian.PutUint32(p[12:], n)
	for i := 16; i < size; i++ {
		p[i] = byte(w*31 + seq*7 + uint32(i))
	}
	return p
}

// bytesRecOf reads back what makeBytesRec wrote into p: ok is false if p
// is not such a record, whole.
func bytesRecOf(p []byte) (w, seq, pos, n uint32, ok bool) {
	if len(p) < 16 {
		return 0, 0, 0, 0, false
	}
	w, seq = binary.LittleEndian.Uint32(p[0:]), binary.LittleEndian.Uint32(p[4:])
	pos, n = binary.LittleEndian.Uint32(p[8:]), binary.LittleEndian.Uint32(p[12:])
	return w, seq, pos, n, bytes.Equal(p, makeBytesRec(w, seq, pos, n))
}

// checkBytesRecs checks the records of a Bytes's Shared writers: each
// whole, each Append's records together and in order, each writer's
// sequence numbers in order with none twice. It returns how many each
// writer has.
func checkBytesRecs(t *testing.T, b *Bytes) map[uint32]int {
	t.Helper()
	require.NoError(t, b.Check())
	next := map[uint32]uint32{}
	var prev []byte
	for i, p := range b.All() {
		w, seq, pos, n, ok := bytesRecOf(p)
		require.True(t, ok, "record %d is not whole: %x", i, p)
		require.Equal(t, next[w], seq, "record %d: writer %d's records out of order, or one lost or twice", i, w)
		if pos > 0 {
			require.Equal(t, makeBytesRec(w, seq-1, pos-1, n), prev, "record %d: its Append is not contiguous", i)
		}
		next[w] = seq + 1
		prev = p
	}
	counts := map[uint32]int{}
	for w, n := range next {
		counts[w] = int(n)
	}
	return counts
}

// pushBytesRecs pushes writer w's records from seq to seq+k (k of them,
// at place 0 up to k-1 of one Append): with Push, PushString or PushFunc
// if k is 1 (by how), else with Append.
func pushBytesRecs(b *Bytes, w, seq, k uint32, how int) error {
	if k > 1 {
		ps := make([][]byte, k)
		for i := range k {
			ps[i] = makeBytesRec(w, seq+i, i, k)
		}
		return b.Append(ps...)
	}
	p := makeBytesRec(w, seq, 0, 1)
	switch how % 3 {
	case 0:
		return b.Push(p)
	case 1:
		return b.PushString(string(p))
	}
	return b.PushFunc(func(buf []byte) ([]byte, error) { return append(buf, p...), nil })
}

// bytesSharedPushChild opens the Bytes at $MEMVEC_PATH Shared and pushes
// $MEMVEC_N records as writer $MEMVEC_W (see pushBytesRecs), in its own
// order. After each push it checks that it sees its records at once, at
// the end. It prints "ready", waits for a byte on its stdin, pushes,
// prints "done" and closes once its stdin closes. With $MEMVEC_BIG it
// sleeps inside each push after each of its steps (the bytes, the
// offsets, the length), holding the append lock, and appends up to 4000
// records at a time: a kill is likely to find it there.
func bytesSharedPushChild() {
	path := os.Getenv("MEMVEC_PATH")
	w64, _ := strconv.ParseUint(os.Getenv("MEMVEC_W"), 10, 32)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_N"))
	w := uint32(w64)
	big := os.Getenv("MEMVEC_BIG") != ""
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(childFailed)
	}
	if big {
		pushStep = func() { time.Sleep(time.Millisecond) }
	}
	b, err := OpenBytes(path, Shared(), LockTimeout(time.Minute))
	if err != nil {
		fail("%v", err)
	}
	fmt.Println("ready")
	var one [1]byte
	os.Stdin.Read(one[:])
	rng := rand.New(rand.NewPCG(uint64(w), 1))
	for seq := 0; seq < n; {
		k := 1
		switch {
		case big:
			k = min(1+rng.IntN(4000), n-seq)
		case rng.IntN(4) == 0:
			k = min(2+rng.IntN(7), n-seq)
		}
		if err := pushBytesRecs(b, w, uint32(seq), uint32(k), rng.IntN(3)); err != nil {
			fail("push %d: %v", seq, err)
		}
		seq += k
		if got, want := b.At(b.Len()-1), makeBytesRec(w, uint32(seq-1), uint32(k-1), uint32(k)); !bytes.Equal(got, want) {
			fail("after push %d, the last record is %x, not this writer's", seq-1, got)
		}
		if seq%1000 < k {
			fmt.Println("progress", seq)
		}
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	if err := b.Close(); err != nil {
		fail("%v", err)
	}
}

// TestBytesSharedWriters has 4 processes push 50,000 records each, of
// lengths from 16 to 315 bytes, to one Bytes at once, Shared, with Push,
// PushString, PushFunc and Append: every record lands once and whole, each
// writer's in its order, each Append contiguous; a follower beside them
// sees a prefix of the same, whole, at every Refresh.
func TestBytesSharedWriters(t *testing.T) {
	const writers, each = 4, 50_000
	path := filepath.Join(tempDir(t), "s.bytes")
	var kids []*child
	for w := range writers {
		c := startChild(t, "bytessharedpush", "MEMVEC_PATH="+path, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
		c.expect(t, "ready")
		kids = append(kids, c)
	}
	f, err := OpenBytes(path, Follow())
	require.NoError(t, err)
	defer f.Close()
	for _, c := range kids {
		_, err := c.stdin.Write([]byte("g"))
		require.NoError(t, err)
	}
	done := make(chan struct{})
	var followed atomic.Int64
	go func() {
		defer close(done)
		seen := 0
		for range 200 {
			n, err := f.Refresh()
			if err != nil {
				t.Error(err)
				return
			}
			for i := seen; i < n; i++ {
				if _, _, _, _, ok := bytesRecOf(f.At(i)); !ok {
					t.Errorf("the follower sees record %d torn: %x", i, f.At(i))
					return
				}
			}
			seen = n
			followed.Store(int64(n))
			time.Sleep(time.Millisecond)
		}
	}()
	for _, c := range kids {
		for c.lines.Scan() && c.lines.Text() != "done" {
			require.Regexp(t, `^progress \d+$`, c.lines.Text())
		}
		require.Equal(t, "done", c.lines.Text())
	}
	<-done
	for _, c := range kids {
		c.release(t)
	}
	b, err := OpenBytes(path, ReadOnly())
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, writers*each, b.Len())
	counts := checkBytesRecs(t, b)
	for w := range writers {
		require.Equal(t, each, counts[uint32(w+1)], "writer %d", w+1)
	}
	t.Logf("the follower saw up to %d records", followed.Load())
}

// TestBytesSharedWriterKilled kills a Shared writer of a Bytes at a
// random moment, often inside a long Append while it holds the append
// lock (its bytes written, not yet counted), while three others push: the
// survivors finish, none stalls for longer than sharedStallMax, and the
// Bytes holds every survivor's records once, whole and in order, and of
// the killed writer's a prefix of its sequence, whole.
func TestBytesSharedWriterKilled(t *testing.T) {
	const survivors, each = 3, 10_000
	for trial := range 6 {
		path := filepath.Join(tempDir(t), fmt.Sprintf("k%d.bytes", trial))
		victim := startChild(t, "bytessharedpush", "MEMVEC_PATH="+path, "MEMVEC_W=9", "MEMVEC_N=100000000", "MEMVEC_BIG=1")
		victim.expect(t, "ready")
		var kids []*child
		for w := range survivors {
			c := startChild(t, "bytessharedpush", "MEMVEC_PATH="+path, "MEMVEC_W="+strconv.Itoa(w+1), "MEMVEC_N="+strconv.Itoa(each))
			c.expect(t, "ready")
			kids = append(kids, c)
		}
		_, err := victim.stdin.Write([]byte("g"))
		require.NoError(t, err)
		require.True(t, victim.lines.Scan()) // its first progress: it pushes
		require.Regexp(t, `^progress \d+$`, victim.lines.Text())
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for victim.lines.Scan() {
			}
		}()
		for _, c := range kids {
			_, err := c.stdin.Write([]byte("g"))
			require.NoError(t, err)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond) // a random moment
		victim.kill(t, drained)
		killed := time.Now()
		for w, c := range kids {
			// Its lines, read beside: a writer that stalls for good fails
			// the test after sharedStallMax, not at the test's timeout.
			lines := make(chan string)
			go func() {
				defer close(lines)
				for c.lines.Scan() {
					lines <- c.lines.Text()
				}
			}()
			last := killed
			for line := ""; line != "done"; {
				var ok bool
				select {
				case line, ok = <-lines:
					require.True(t, ok, "trial %d: writer %d ended before it was done", trial, w+1)
				case <-time.After(sharedStallMax - time.Since(last)):
					require.Failf(t, "stalled", "trial %d: writer %d made no progress for %v", trial, w+1, sharedStallMax)
				}
				require.Less(t, time.Since(last), sharedStallMax, "trial %d: writer %d stalled", trial, w+1)
				last = time.Now()
			}
		}
		for _, c := range kids {
			c.release(t)
		}
		b, err := OpenBytes(path, ReadOnly())
		require.NoError(t, err)
		counts := checkBytesRecs(t, b)
		for w := range survivors {
			require.Equal(t, each, counts[uint32(w+1)], "trial %d: writer %d", trial, w+1)
		}
		t.Logf("trial %d: the killed writer left %d records", trial, counts[9])
		require.NoError(t, b.Close())
	}
}

// TestBytesShared: two Shared handles of one Bytes in one process. Each
// sees its own records at once and the other's after Refresh or Wait;
// Push, PushString, PushFunc (also one that outgrows its space) and
// Append land once and whole, and grow both files past their first
// sizes; Sync and Close leave a Bytes that an exclusive writer opens
// with every record. Truncate is refused with ErrShared.
func TestBytesShared(t *testing.T) {
	path := filepath.Join(tempDir(t), "s.bytes")
	a, err := OpenBytes(path, Shared())
	require.NoError(t, err)
	c, err := OpenBytes(path, Shared())
	require.NoError(t, err)
	require.NoError(t, a.Push([]byte("first")))
	require.Equal(t, 1, a.Len())
	require.Equal(t, 0, c.Len(), "before Refresh")
	n, err := c.Refresh()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "first", c.String(0))
	// A Wait of c, asleep until a pushes.
	waited := make(chan error, 1)
	go func() {
		n, err := c.Wait(context.Background(), 1)
		if err == nil && n != 2 {
			err = fmt.Errorf("Wait returned %d records, not 2", n)
		}
		waited <- err
	}()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, a.PushString("second"))
	require.NoError(t, <-waited)
	require.Equal(t, "second", c.String(1))
	// Records large enough to grow both files, from both handles.
	big := bytes.Repeat([]byte("x"), 3<<20)
	require.NoError(t, c.Append([]byte("third"), big, []byte("fifth")))
	require.NoError(t, a.PushFunc(func(buf []byte) ([]byte, error) {
		return append(buf, bytes.Repeat([]byte("y"), 200<<10)...), nil // outgrows its spare space
	}))
	require.Equal(t, 6, a.Len(), "a sees c's records once it pushes")
	require.Equal(t, "fifth", a.String(4))
	require.Equal(t, big, a.At(3))
	for i := range 5000 {
		require.NoError(t, c.Push([]byte(strconv.Itoa(i))))
	}
	n, err = a.Refresh()
	require.NoError(t, err)
	require.Equal(t, 5006, n)
	require.Equal(t, "4999", a.String(5005))
	// Of an Append that fails nothing lands; an error of PushFunc's
	// function appends nothing.
	require.ErrorContains(t, a.PushFunc(func([]byte) ([]byte, error) { return nil, errors.New("no") }), "no")
	require.Equal(t, 5006, a.Len())
	require.PanicsWithValue(t, fmt.Sprintf("memvec: truncate %s: %v: other writers append beside this one", path, ErrShared), func() { a.Truncate(1) })
	require.NoError(t, a.Sync())
	require.NoError(t, a.Close())
	require.NoError(t, c.Close())
	b := openBytes(t, path)
	defer b.Close()
	require.Equal(t, 5006, b.Len())
	require.NoError(t, b.Check())
	for i, want := range []string{"first", "second", "third", string(big), "fifth", string(bytes.Repeat([]byte("y"), 200<<10)), "0"} {
		require.Equal(t, want, b.String(i), "record %d", i)
	}
}

// holdBytesChild opens the Bytes at $MEMVEC_PATH as $MEMVEC_CLASS (see
// classOptions), says "locked" or "refused", and holds it until its stdin
// is closed.
func holdBytesChild() {
	b, err := OpenBytes(os.Getenv("MEMVEC_PATH"), classOptions(os.Getenv("MEMVEC_CLASS"))...)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("refused")
		return
	case err != nil:
		fmt.Println(err)
		os.Exit(childFailed)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := b.Close(); err != nil {
		fmt.Println(err)
		os.Exit(childFailed)
	}
}

// TestBytesSharedLockClasses holds a Bytes in a child process as each
// class, and opens it in this one as each class: an exclusive writer,
// Shared writers and ReadOnly readers exclude each other with ErrLocked,
// Shared writers and ReadOnly readers each share with their own class,
// and a follower is kept out by nobody.
func TestBytesSharedLockClasses(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.bytes")
	b := openBytes(t, path)
	require.NoError(t, b.Push([]byte("one")))
	require.NoError(t, b.Close())
	classes := []string{"excl", "shared", "ro", "follow"}
	admits := map[[2]string]bool{
		{"shared", "shared"}: true, {"ro", "ro"}: true,
		{"excl", "follow"}: true, {"shared", "follow"}: true, {"ro", "follow"}: true, {"follow", "follow"}: true,
		{"follow", "excl"}: true, {"follow", "shared"}: true, {"follow", "ro"}: true,
	}
	for _, held := range classes {
		c := startChild(t, "holdbytes", "MEMVEC_PATH="+path, "MEMVEC_CLASS="+held)
		c.expect(t, "locked")
		for _, opening := range classes {
			b, err := OpenBytes(path, classOptions(opening)...)
			if admits[[2]string{held, opening}] {
				require.NoError(t, err, "%s beside %s", opening, held)
				require.Equal(t, 1, b.Len(), "%s beside %s", opening, held)
				require.NoError(t, b.Close())
			} else {
				require.ErrorIs(t, err, ErrLocked, "%s beside %s", opening, held)
			}
		}
		c.release(t)
	}
}
