//go:build linux && (amd64 || arm64)

package memvec

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func init() { children["bytescrashwork"] = bytesCrashWorkChild }

// crashRecordOf is the record of key k in the Bytes power-loss test: 8 to
// 407 bytes, the key first, the rest derived from it, so that a reader
// tells which write it sees and whether it is whole.
func crashRecordOf(k uint64) []byte {
	p := make([]byte, 8+int(k*0x9E3779B1>>7)%400)
	binary.LittleEndian.PutUint64(p, k)
	for i := 8; i < len(p); i++ {
		p[i] = byte(k*31 + uint64(i)*7)
	}
	return p
}

// planBytesCrashWorkload makes the Bytes workload of seed: n ops of
// pushes and appends that grow both files, Syncs, Truncates, Closes and
// abandons (a killed writer) with reopens. Its snapshots hold the keys.
func planBytesCrashWorkload(seed uint64, n int) *crashPlan {
	r := rand.New(rand.NewPCG(seed, 9))
	p := &crashPlan{snaps: [][]uint64{nil}, durable: []int{0}, synced: []int{0}}
	var s []uint64
	d, synced := 0, 0
	for j := range n {
		var op crashOp
		switch x := r.IntN(100); {
		case x < 35:
			op = crashOp{kind: 'p', n: 1 + r.IntN(100)}
		case x < 60:
			op = crashOp{kind: 'a', n: 1 + r.IntN(200)}
		case x < 75:
			op = crashOp{kind: 's'}
		case x < 87 && len(s) > 0:
			op = crashOp{kind: 't', i: r.IntN(len(s) + 1)}
		case x < 94:
			op = crashOp{kind: 'r'}
		default:
			op = crashOp{kind: 'k'}
		}
		switch op.kind {
		case 'p', 'a':
			d = min(d, len(s))
			for range op.n {
				s = append(s, crashKey(j, len(s)))
			}
		case 's':
			d, synced = len(s), j+1
		case 't':
			s = s[:op.i]
		}
		p.ops = append(p.ops, op)
		p.snaps = append(p.snaps, slices.Clone(s))
		p.durable = append(p.durable, d)
		p.synced = append(p.synced, synced)
	}
	return p
}

// bytesCrashWorkChild runs the workload of $MEMVEC_SEED ($MEMVEC_OPS ops)
// on the Bytes at $MEMVEC_PATH, a crashfs root, with a mark after each op,
// while goroutines have the kernel write random pages of both files back.
func bytesCrashWorkChild() {
	path := os.Getenv("MEMVEC_PATH")
	seed, _ := strconv.ParseUint(os.Getenv("MEMVEC_SEED"), 10, 64)
	n, _ := strconv.Atoi(os.Getenv("MEMVEC_OPS"))
	fail := func(err error) {
		fmt.Println(err)
		os.Exit(childFailed)
	}
	b, err := OpenBytes(path)
	if err != nil {
		fail(err)
	}
	done := make(chan struct{})
	go writeBackAtRandom(filepath.Join(path, bytesOffsetsName), seed, done)
	go writeBackAtRandom(filepath.Join(path, bytesDataName), seed+1, done)
	for j, op := range planBytesCrashWorkload(seed, n).ops {
		switch op.kind {
		case 'p':
			for range op.n {
				if err = b.Push(crashRecordOf(crashKey(j, b.Len()))); err != nil {
					break
				}
			}
		case 'a':
			batch := make([][]byte, op.n)
			for k := range batch {
				batch[k] = crashRecordOf(crashKey(j, b.Len()+k))
			}
			err = b.Append(batch...)
		case 's':
			err = b.Sync()
		case 't':
			b.Truncate(op.i)
		case 'r':
			if err = b.Close(); err == nil {
				b, err = OpenBytes(path)
			}
		case 'k':
			abandonBytes(b)
			b, err = OpenBytes(path)
		}
		if err != nil {
			fail(fmt.Errorf("op %d %c: %w", j, op.kind, err))
		}
		os.Mkdir(filepath.Join(path, "mark-"+strconv.Itoa(j)), 0o755)
	}
	close(done)
	if err := b.Close(); err != nil {
		fail(err)
	}
	fmt.Println("done")
}

// abandonBytes drops b as a killed writer does: its files are unmapped
// and closed, the lock released, but nothing of Close runs.
func abandonBytes(b *Bytes) {
	b.idx.(*File).r.Abandon()
	b.dat.(*File).r.Abandon()
	b.closed = true
	b.n, b.offs, b.data, b.length = 0, nil, nil, nil
}

// bytesKeys opens the Bytes at path read-only and returns the keys of its
// records, requiring each to be whole.
func bytesKeys(t *testing.T, path, where string) []uint64 {
	t.Helper()
	b, err := OpenBytes(path, ReadOnly())
	require.NoError(t, err, where)
	defer b.Close()
	require.NoError(t, b.Check(), where)
	got := make([]uint64, b.Len())
	for i, p := range b.All() {
		if len(p) < 8 || !slices.Equal(p, crashRecordOf(binary.LittleEndian.Uint64(p))) {
			require.Failf(t, "torn record", "%s: record %d of %d is torn: %x", where, i, b.Len(), p)
		}
		got[i] = binary.LittleEndian.Uint64(p)
	}
	return got
}

// writeBytesState writes a crash state of each file into the Bytes at
// dir, leaving out a file the state has not.
func writeBytesState(t *testing.T, dir string, offsets, data crashState) {
	t.Helper()
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.Mkdir(dir, 0o755))
	for name, st := range map[string]crashState{bytesOffsetsName: offsets, bytesDataName: data} {
		if st.ok {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), st.data, 0o644))
		}
	}
}

// TestBytesPowerLossStates is TestPowerLossStates for a Bytes: workloads
// on real files over crashfs, and at many points of each the states a
// power loss could leave in each of the two files, paired at random, each
// opened as after a reboot: it opens (never ErrCorrupt); every record it
// counts is whole, and they are a prefix of the Bytes at some moment since
// the last Sync that returned, no shorter than its durable length. A writer
// then opens it and pushes. Last, a clean shutdown after Close loses
// nothing.
func TestBytesPowerLossStates(t *testing.T) {
	seeds := []uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()}
	const ops, cuts, random = 100, 300, 3
	reboot(t)
	check := filepath.Join(tempDir(t), "state.bytes")
	total := 0
	for _, seed := range seeds {
		dir, cfs := mountCrashFS(t)
		c := startChild(t, "bytescrashwork", "MEMVEC_PATH="+dir, "MEMVEC_SEED="+strconv.FormatUint(seed, 10), "MEMVEC_OPS="+strconv.Itoa(ops))
		c.expect(t, "done")
		c.release(t)
		plan := planBytesCrashWorkload(seed, ops)
		log := cfs.events()
		r := rand.New(rand.NewPCG(seed, 11))
		mark := -1
		marks := make([]int, len(log)+1)
		for k, e := range log {
			marks[k] = mark
			if e.kind == evMark {
				mark = e.mark
			}
		}
		marks[len(log)] = mark
		for range cuts {
			k := r.IntN(len(log) + 1)
			j := marks[k]
			next := min(j+2, len(plan.snaps)-1)
			need := min(plan.durable[j+1], plan.durable[next])
			from := plan.synced[j+1]
			offsets := imageAt(log, k, bytesOffsetsName).states(r, random)
			data := imageAt(log, k, bytesDataName).states(r, random)
			// The same kind of state in both files, then random pairs.
			var pairs [][2]crashState
			for i := range min(len(offsets), len(data)) {
				pairs = append(pairs, [2]crashState{offsets[i], data[i]})
			}
			for range random {
				pairs = append(pairs, [2]crashState{offsets[r.IntN(len(offsets))], data[r.IntN(len(data))]})
			}
			for _, pair := range pairs {
				total++
				where := fmt.Sprintf("seed %d, cut %d of %d events, after op %d of %d, offsets %q, data %q", seed, k, len(log), j, ops, pair[0].how, pair[1].how)
				if !pair[0].ok {
					require.Zero(t, from, "%s: the offsets file is gone, but a Sync had returned", where)
					continue
				}
				writeBytesState(t, check, pair[0], pair[1])
				got := bytesKeys(t, check, where)
				prefix, kept := false, false
				for s := from; s <= next && !kept; s++ {
					if len(plan.snaps[s]) >= len(got) && slices.Equal(plan.snaps[s][:len(got)], got) {
						prefix = true
						kept = len(got) >= min(len(plan.snaps[s]), need)
					}
				}
				require.True(t, prefix, "%s: the %d records are no prefix of the Bytes since the last Sync (%s)", where, len(got), headerWords(pair[0].data))
				require.True(t, kept, "%s: %d records kept, fewer than the durable length %d: records a Sync made durable were lost (%s)", where, len(got), need, headerWords(pair[0].data))
				if total%20 == 0 {
					w, err := OpenBytes(check)
					require.NoError(t, err, where)
					require.NoError(t, w.Push(crashRecordOf(7)))
					require.NoError(t, w.Close())
					require.True(t, slices.Equal(append(got, 7), bytesKeys(t, check, where)), "%s: recovered and written", where)
				}
			}
		}
		clean := [2]crashState{imageAt(log, len(log), bytesOffsetsName).states(r, 0)[1], imageAt(log, len(log), bytesDataName).states(r, 0)[1]}
		require.Equal(t, "everything", clean[0].how)
		writeBytesState(t, check, clean[0], clean[1])
		require.True(t, slices.Equal(plan.snaps[len(plan.snaps)-1], bytesKeys(t, check, "clean shutdown")), "seed %d: a clean shutdown after Close lost records", seed)
	}
	t.Logf("%d crash states checked, from %d workloads of %d ops", total, len(seeds), ops)
}
