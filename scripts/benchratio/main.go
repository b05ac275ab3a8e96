// Command benchratio reads the output of memvec's benchmarks (several runs
// of each, as scripts/bench.sh or -count makes) and prints, for each goal
// of BENCHMARKS.md, the medians of memvec and of its baseline, the ratio of
// the medians, and the median and range of the per-pass ratios (the i-th
// result of memvec over the i-th of its baseline: the two ran in the same
// process, close in time), which the goal is judged on.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// goal compares memvec's benchmark with its baseline's on one metric.
type goal struct {
	what             string
	memvec, baseline string // benchmark names without the -N suffix
	metric           string // "ns/op", "peak/data", ...
	max              float64
}

var goals = []goal{
	{"anon Push / append to nil slice", "BenchmarkPush/impl=memvec/backend=anon", "BenchmarkPush/impl=slice/prealloc=false", "ns/op", 0.10},
	{"anon Push / append to presized slice", "BenchmarkPush/impl=memvec/backend=anon", "BenchmarkPush/impl=slice/prealloc=true", "ns/op", 0.90},
	{"(the same, a fresh process per push)", "BenchmarkPushFresh/impl=memvec/backend=anon", "BenchmarkPushFresh/impl=slice/prealloc=true", "push-ns/op", 0.90},
	{"(anon Push / presized append, into memory faulted in already: Clear / s[:0])", "BenchmarkPushReused/impl=memvec/backend=anon", "BenchmarkPushReused/impl=slice/prealloc=true", "ns/op", 0},
	{"(anon Push from Make(0) / append to a presized slice of recycled heap memory)", "BenchmarkPush/impl=memvec/backend=anon", "BenchmarkPushReused/impl=slice/prealloc=true/heap=recycled", "ns/op", 0},
	{"(a raw anonymous mapping with MAP_POPULATE, filled in a loop / presized append: the floor)", "BenchmarkPushMmap/impl=mmap/populate=true", "BenchmarkPush/impl=slice/prealloc=true", "ns/op", 0},
	{"(a raw anonymous mapping without MAP_POPULATE / presized append)", "BenchmarkPushMmap/impl=mmap/populate=false", "BenchmarkPush/impl=slice/prealloc=true", "ns/op", 0},
	{"peak RSS of anon push / data size", "BenchmarkPeakRSS/impl=memvec/backend=anon", "", "peak/data", 1.05},
	{"(append to nil: peak RSS / data size)", "BenchmarkPeakRSS/impl=slice/prealloc=false", "", "peak/data", 0},
	{"TempDir Push / anon Push (Make with and without TempDir)", "BenchmarkPush/impl=memvec/backend=tempdir", "BenchmarkPush/impl=memvec/backend=anon", "ns/op", 1.3},
	{"file Push / bufio write", "BenchmarkPush/impl=memvec/backend=file", "BenchmarkPush/impl=bufio", "ns/op", 0.50},
	{"Open + last element / os.ReadFile (240 MB, not cached)", "BenchmarkOpen/cache=cold/impl=memvec/mode=rw", "BenchmarkOpen/cache=cold/impl=readfile", "ns/op", 0.0002},
	{"(the same, read-only Open)", "BenchmarkOpen/cache=cold/impl=memvec/mode=ro", "BenchmarkOpen/cache=cold/impl=readfile", "ns/op", 0.0002},
	{"Open + last element / os.ReadFile (240 MB, cached)", "BenchmarkOpen/cache=warm/impl=memvec/mode=rw", "BenchmarkOpen/cache=warm/impl=readfile", "ns/op", 0.0002},
	{"(the same, read-only Open)", "BenchmarkOpen/cache=warm/impl=memvec/mode=ro", "BenchmarkOpen/cache=warm/impl=readfile", "ns/op", 0.0002},
	{"random Index / slice", "BenchmarkIndex/hot=false/impl=memvec", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 1.05},
	{"(random Index / slice, elements in cache)", "BenchmarkIndex/hot=true/impl=memvec", "BenchmarkIndex/hot=true/impl=slice", "ns/op", 0},
	{"(indexing v.Slice() / slice)", "BenchmarkIndex/hot=false/impl=memvec/via=slice", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 0},
	{"(indexing v.Slice() / slice, elements in cache)", "BenchmarkIndex/hot=true/impl=memvec/via=slice", "BenchmarkIndex/hot=true/impl=slice", "ns/op", 0},
	{"(indexing a slice through a pointer / slice)", "BenchmarkIndex/hot=false/impl=slice/via=pointer", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 0},
	{"(slice indexing plus two loads that hit the cache / slice)", "BenchmarkIndex/hot=false/impl=slice/plus=loads2", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 0},
	{"(random Index / indexing v.Slice(): the code alone)", "BenchmarkIndex/hot=false/impl=memvec", "BenchmarkIndex/hot=false/impl=memvec/via=slice", "ns/op", 0},
	{"All() / range over slice", "BenchmarkIterate/impl=memvec", "BenchmarkIterate/impl=slice", "ns/op", 1.05},
	{"Insert(0) / slices.Insert", "BenchmarkInsertFront/impl=memvec", "BenchmarkInsertFront/impl=slice", "ns/op", 1.05},
	{"Remove(0) / slices.Delete", "BenchmarkRemoveFront/impl=memvec", "BenchmarkRemoveFront/impl=slice", "ns/op", 1.05},
	{"Sync of 1 MiB: 1 GiB file / 16 MiB file", "BenchmarkSync/size=1GiB", "BenchmarkSync/size=16MiB", "ns/op", 0},
	{"growth to 1 GiB in place / mremap", "BenchmarkGrowth/impl=reserve/touched=false", "BenchmarkGrowth/impl=mremap/touched=false", "grow-ns/op", 1},
	{"(the same, every page written)", "BenchmarkGrowth/impl=reserve/touched=true", "BenchmarkGrowth/impl=mremap/touched=true", "grow-ns/op", 1},
	{"Push→Wait / socket, follower spinning (gap=0): p50", "BenchmarkFollowLatency/gap=0/impl=memvec", "BenchmarkFollowLatency/gap=0/impl=socket/io=net", "p50-ns", 0.5},
	{"(the same, p99)", "BenchmarkFollowLatency/gap=0/impl=memvec", "BenchmarkFollowLatency/gap=0/impl=socket/io=net", "p99-ns", 0.5},
	{"(the same, p99.9)", "BenchmarkFollowLatency/gap=0/impl=memvec", "BenchmarkFollowLatency/gap=0/impl=socket/io=net", "p999-ns", 0},
	{"(the same against read(2)/write(2), p50)", "BenchmarkFollowLatency/gap=0/impl=memvec", "BenchmarkFollowLatency/gap=0/impl=socket/io=raw", "p50-ns", 0.5},
	{"(the same against read(2)/write(2), p99)", "BenchmarkFollowLatency/gap=0/impl=memvec", "BenchmarkFollowLatency/gap=0/impl=socket/io=raw", "p99-ns", 0.5},
	{"Push→Wait / socket, follower asleep (gap=200us): p50", "BenchmarkFollowLatency/gap=200us/impl=memvec", "BenchmarkFollowLatency/gap=200us/impl=socket/io=net", "p50-ns", 0.5},
	{"(the same, p99)", "BenchmarkFollowLatency/gap=200us/impl=memvec", "BenchmarkFollowLatency/gap=200us/impl=socket/io=net", "p99-ns", 0.5},
	{"(the same, p99.9)", "BenchmarkFollowLatency/gap=200us/impl=memvec", "BenchmarkFollowLatency/gap=200us/impl=socket/io=net", "p999-ns", 0},
	{"(the same against read(2)/write(2), p50)", "BenchmarkFollowLatency/gap=200us/impl=memvec", "BenchmarkFollowLatency/gap=200us/impl=socket/io=raw", "p50-ns", 0.5},
	{"(the same against read(2)/write(2), p99)", "BenchmarkFollowLatency/gap=200us/impl=memvec", "BenchmarkFollowLatency/gap=200us/impl=socket/io=raw", "p99-ns", 0.5},
	{"stream 240 MB to a follower / bufio over a pipe (time; ≤ 0.5 is 2× the throughput)", "BenchmarkFollowStream/impl=memvec", "BenchmarkFollowStream/impl=pipe", "ns/op", 0.5},
	{"(the same, a follower that polls Refresh and sleeps 100 µs instead of Wait)", "BenchmarkFollowStream/impl=memvec/read=poll", "BenchmarkFollowStream/impl=pipe", "ns/op", 0},
	{"(file Push with no follower / the pipe's stream: the bound on the ratio)", "BenchmarkFollowPush/followers=0", "BenchmarkFollowStream/impl=pipe", "ns/op", 0},
	{"file Push, a follower attached / none", "BenchmarkFollowPush/followers=1", "BenchmarkFollowPush/followers=0", "ns/op", 1.05},
	{"Push waking 100 followers asleep / waking 1 (the writer's CPU time in Push)", "BenchmarkFollowWake/sleepers=100", "BenchmarkFollowWake/sleepers=1", "push-cpu-ns", 2},
	{"(the same, 10 / 1)", "BenchmarkFollowWake/sleepers=10", "BenchmarkFollowWake/sleepers=1", "push-cpu-ns", 0},
	{"(the same, the Push's wall time, 100 / 1)", "BenchmarkFollowWake/sleepers=100", "BenchmarkFollowWake/sleepers=1", "push-ns", 0},
	{"(the first of 100 followers to see a push / the one follower)", "BenchmarkFollowWake/sleepers=100", "BenchmarkFollowWake/sleepers=1", "first-ns", 0},
	{"(the last of 100 followers to see a push / the one follower)", "BenchmarkFollowWake/sleepers=100", "BenchmarkFollowWake/sleepers=1", "last-ns", 0},
	{"Bytes: file Push / bufio, length-prefixed records", "BenchmarkBytesPush/impl=memvec/backend=file", "BenchmarkBytesPush/impl=bufio", "ns/record", 0.6},
	{"Bytes: file Push / tidwall/wal, no sync", "BenchmarkBytesPush/impl=memvec/backend=file", "BenchmarkBytesPush/impl=wal", "ns/record", 0.3},
	{"(Bytes: anon Push / bufio to a file)", "BenchmarkBytesPush/impl=memvec/backend=anon", "BenchmarkBytesPush/impl=bufio", "ns/record", 0},
	{"(Bytes: the whole write job, open + pushes + Close / bufio + Flush + Close)", "BenchmarkBytesWriteJob/impl=memvec", "BenchmarkBytesWriteJob/impl=bufio", "ns/op", 0},
	{"Bytes: random At / [][]byte indexing", "BenchmarkBytesAt/hot=false/impl=memvec", "BenchmarkBytesAt/hot=false/impl=slice", "ns/op", 1.2},
	{"(Bytes: random At, records in cache / [][]byte)", "BenchmarkBytesAt/hot=true/impl=memvec", "BenchmarkBytesAt/hot=true/impl=slice", "ns/op", 0},
	{"(Bytes: random At / the same offsets and bytes in the Go heap)", "BenchmarkBytesAt/hot=false/impl=memvec", "BenchmarkBytesAt/hot=false/impl=flat", "ns/op", 0},
	{"(Bytes: the Go heap's offsets, the region's bytes / both in the Go heap)", "BenchmarkBytesAt/hot=false/impl=flat/data=region", "BenchmarkBytesAt/hot=false/impl=flat", "ns/op", 0},
	{"(Bytes: the region's offsets, the Go heap's bytes / both in the Go heap)", "BenchmarkBytesAt/hot=false/impl=flat/offs=region", "BenchmarkBytesAt/hot=false/impl=flat", "ns/op", 0},
	{"Bytes: All / range over [][]byte", "BenchmarkBytesAll/impl=memvec", "BenchmarkBytesAll/impl=slice", "ns/op", 1.1},
	{"Bytes: OpenBytes + last record / os.ReadFile (cached)", "BenchmarkBytesOpen/cache=warm/impl=memvec/mode=rw", "BenchmarkBytesOpen/cache=warm/impl=readfile", "ns/op", 0.001},
	{"(the same, read-only)", "BenchmarkBytesOpen/cache=warm/impl=memvec/mode=ro", "BenchmarkBytesOpen/cache=warm/impl=readfile", "ns/op", 0.001},
	{"(the same, not cached)", "BenchmarkBytesOpen/cache=cold/impl=memvec/mode=rw", "BenchmarkBytesOpen/cache=cold/impl=readfile", "ns/op", 0.001},
	{"(the same, not cached, read-only)", "BenchmarkBytesOpen/cache=cold/impl=memvec/mode=ro", "BenchmarkBytesOpen/cache=cold/impl=readfile", "ns/op", 0.001},
	{"Bytes: peak RSS of anon push of 1 GB / the records' bytes", "BenchmarkBytesPeakRSS/impl=memvec/backend=anon", "", "peak/data", 1.1},
	{"Bytes: durable push, Sync every record / bufio + fsync", "BenchmarkBytesDurablePush/k=1/impl=memvec", "BenchmarkBytesDurablePush/k=1/impl=bufio", "ns/op", 1},
	{"Bytes: durable push, Sync every 100 / bufio + fsync", "BenchmarkBytesDurablePush/k=100/impl=memvec", "BenchmarkBytesDurablePush/k=100/impl=bufio", "ns/op", 1},
	{"Bytes: durable push, Sync every 10,000 / bufio + fsync", "BenchmarkBytesDurablePush/k=10000/impl=memvec", "BenchmarkBytesDurablePush/k=10000/impl=bufio", "ns/op", 1},
	{"2 Shared writers / 1 exclusive writer: time per element (rate ≥ 0.5)", "BenchmarkSharedPush/impl=shared/writers=2", "BenchmarkSharedPush/impl=exclusive/writers=1", "ns/op", 2.0},
	{"(1 Shared writer / 1 exclusive writer)", "BenchmarkSharedPush/impl=shared/writers=1", "BenchmarkSharedPush/impl=exclusive/writers=1", "ns/op", 0},
	{"(4 Shared writers / 1 exclusive writer)", "BenchmarkSharedPush/impl=shared/writers=4", "BenchmarkSharedPush/impl=exclusive/writers=1", "ns/op", 0},
	{"2 Shared writers / 2 write(2) writers on one O_APPEND file (rate ≥ 10)", "BenchmarkSharedPush/impl=shared/writers=2", "BenchmarkSharedPush/impl=oappend/writers=2", "ns/op", 0.1},
	{"Add from 2 processes: Shared MemVec[atomic.Uint64] / raw shared mapping", "BenchmarkSharedAdd/impl=memvec/procs=2", "BenchmarkSharedAdd/impl=mmap/procs=2", "ns/op", 1.1},
	{"Map[uint64, uint64] Get, 10^6 entries / Go map", "BenchmarkMapGet/n=1000000/type=u64/impl=memvec", "BenchmarkMapGet/n=1000000/type=u64/impl=gomap", "ns/op", 1.5},
	{"Map[[16]byte, [3]int64] Get, 10^6 entries / Go map", "BenchmarkMapGet/n=1000000/type=k16/impl=memvec", "BenchmarkMapGet/n=1000000/type=k16/impl=gomap", "ns/op", 1.5},
	{"(Map[uint64, uint64] Get, 10^4 entries in cache / Go map)", "BenchmarkMapGet/n=10000/type=u64/impl=memvec", "BenchmarkMapGet/n=10000/type=u64/impl=gomap", "ns/op", 0},
	{"(Map[[16]byte, [3]int64] Get, 10^4 entries in cache / Go map)", "BenchmarkMapGet/n=10000/type=k16/impl=memvec", "BenchmarkMapGet/n=10000/type=k16/impl=gomap", "ns/op", 0},
	{"Map[uint64, uint64] Put to 10^7 in a file, no Sync / Go map", "BenchmarkMapPut/type=u64/impl=memvec/backend=file", "BenchmarkMapPut/type=u64/impl=gomap", "ns/put", 2.0},
	{"Map[[16]byte, [3]int64] Put to 10^7 in a file, no Sync / Go map", "BenchmarkMapPut/type=k16/impl=memvec/backend=file", "BenchmarkMapPut/type=k16/impl=gomap", "ns/put", 2.0},
	{"(Map[uint64, uint64] Put to 10^7, anonymous memory / Go map)", "BenchmarkMapPut/type=u64/impl=memvec/backend=anon", "BenchmarkMapPut/type=u64/impl=gomap", "ns/put", 0},
	{"(Map[[16]byte, [3]int64] Put to 10^7, anonymous memory / Go map)", "BenchmarkMapPut/type=k16/impl=memvec/backend=anon", "BenchmarkMapPut/type=k16/impl=gomap", "ns/put", 0},
	{"Map[uint64, uint64] worst Put growing to 10^7, ns (goal: 1 ms)", "BenchmarkMapPutLatency/type=u64/impl=memvec/backend=file", "", "worst-ns", 1e6},
	{"Map[[16]byte, [3]int64] worst Put growing to 10^7, ns (goal: 1 ms)", "BenchmarkMapPutLatency/type=k16/impl=memvec/backend=file", "", "worst-ns", 1e6},
	{"(Map[uint64, uint64] Put p99.9 / Go map's insertion)", "BenchmarkMapPutLatency/type=u64/impl=memvec/backend=file", "BenchmarkMapPutLatency/type=u64/impl=gomap", "p999-ns", 0},
	{"(Map[[16]byte, [3]int64] Put p99.9 / Go map's insertion)", "BenchmarkMapPutLatency/type=k16/impl=memvec/backend=file", "BenchmarkMapPutLatency/type=k16/impl=gomap", "p999-ns", 0},
	{"(Map[uint64, uint64] worst Put / Go map's worst insertion)", "BenchmarkMapPutLatency/type=u64/impl=memvec/backend=file", "BenchmarkMapPutLatency/type=u64/impl=gomap", "worst-ns", 0},
	{"(Map[[16]byte, [3]int64] worst Put / Go map's worst insertion)", "BenchmarkMapPutLatency/type=k16/impl=memvec/backend=file", "BenchmarkMapPutLatency/type=k16/impl=gomap", "worst-ns", 0},
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	values := map[string]map[string][]float64{} // name -> metric -> values
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if values[m[1]] == nil {
				values[m[1]] = map[string][]float64{}
			}
			values[m[1]][fields[i+1]] = append(values[m[1]][fields[i+1]], v)
		}
	}
	fmt.Println("| measure | memvec | baseline | ratio of medians | per-pass ratios: median (range) | goal | runs |")
	fmt.Println("|---|---:|---:|---:|---:|---|---:|")
	for _, g := range goals {
		ms := values[g.memvec][g.metric]
		if len(ms) == 0 {
			continue
		}
		m := median(ms)
		ratio, base, passes := m, "—", "—"
		if g.baseline != "" {
			bs := values[g.baseline][g.metric]
			b := median(bs)
			var rs []float64
			for i := range min(len(ms), len(bs)) {
				rs = append(rs, ms[i]/bs[i])
			}
			if len(rs) == 0 {
				continue
			}
			ratio, base = median(rs), format(b, g.metric)
			passes = fmt.Sprintf("%.4g (%.3g–%.3g)", ratio, slices.Min(rs), slices.Max(rs))
			if len(ms) != len(bs) {
				passes += fmt.Sprintf(", %d pairs", len(rs))
			}
			fmt.Printf("| %s | %s | %s | %.4g | %s | %s | %d |\n", g.what, format(m, g.metric), base, m/b, passes, verdict(ratio, g.max), len(ms))
			continue
		}
		fmt.Printf("| %s | %s | %s | %.4g | %s | %s | %d |\n", g.what, format(m, g.metric), base, ratio, passes, verdict(ratio, g.max), len(ms))
	}
}

// median returns the median of vs, or 0 if there are none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Sorted(slices.Values(vs))
	return (vs[(len(vs)-1)/2] + vs[len(vs)/2]) / 2
}

// verdict prints the goal ratio ≤ max with a mark, or "—" for no goal.
func verdict(ratio, max float64) string {
	if max <= 0 {
		return "—"
	}
	mark := " ✗"
	if ratio <= max {
		mark = " ✓"
	}
	return "≤ " + strconv.FormatFloat(max, 'g', -1, 64) + mark
}

// format prints a median with its unit.
func format(v float64, metric string) string {
	if strings.HasSuffix(metric, "-ns") || strings.HasSuffix(metric, "-ns/op") {
		metric = "ns/op" // grow-ns/op, p50-ns, p99-ns, p999-ns
	}
	if metric != "ns/op" {
		return strconv.FormatFloat(v, 'f', 3, 64) + " " + metric
	}
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + " ms"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " µs"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " ns"
}
