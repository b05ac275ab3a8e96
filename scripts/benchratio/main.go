// Command benchratio reads the output of memvec's benchmarks (several runs
// of each, as scripts/bench.sh makes) and prints, for each goal of
// BENCHMARKS.md, the medians of memvec and of its baseline and their ratio
// next to the goal.
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
	{"peak RSS of anon push / data size", "BenchmarkPeakRSS/impl=memvec/backend=anon", "", "peak/data", 1.05},
	{"(append to nil: peak RSS / data size)", "BenchmarkPeakRSS/impl=slice/prealloc=false", "", "peak/data", 0},
	{"file Push / bufio write", "BenchmarkPush/impl=memvec/backend=file", "BenchmarkPush/impl=bufio", "ns/op", 0.50},
	{"Open + last element / os.ReadFile (240 MB, not cached)", "BenchmarkOpen/cache=cold/impl=memvec/mode=rw", "BenchmarkOpen/cache=cold/impl=readfile", "ns/op", 0.0002},
	{"(the same, read-only Open)", "BenchmarkOpen/cache=cold/impl=memvec/mode=ro", "BenchmarkOpen/cache=cold/impl=readfile", "ns/op", 0.0002},
	{"Open + last element / os.ReadFile (240 MB, cached)", "BenchmarkOpen/cache=warm/impl=memvec/mode=rw", "BenchmarkOpen/cache=warm/impl=readfile", "ns/op", 0.0002},
	{"(the same, read-only Open)", "BenchmarkOpen/cache=warm/impl=memvec/mode=ro", "BenchmarkOpen/cache=warm/impl=readfile", "ns/op", 0.0002},
	{"random Index / slice", "BenchmarkIndex/hot=false/impl=memvec", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 1.05},
	{"(random Index / slice, elements in cache)", "BenchmarkIndex/hot=true/impl=memvec", "BenchmarkIndex/hot=true/impl=slice", "ns/op", 0},
	{"(indexing v.Slice() / slice)", "BenchmarkIndex/hot=false/impl=memvec/via=slice", "BenchmarkIndex/hot=false/impl=slice", "ns/op", 0},
	{"(indexing v.Slice() / slice, elements in cache)", "BenchmarkIndex/hot=true/impl=memvec/via=slice", "BenchmarkIndex/hot=true/impl=slice", "ns/op", 0},
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
	median := func(name, metric string) (float64, int) {
		vs := slices.Clone(values[name][metric])
		if len(vs) == 0 {
			return 0, 0
		}
		slices.Sort(vs)
		return (vs[(len(vs)-1)/2] + vs[len(vs)/2]) / 2, len(vs)
	}
	fmt.Println("| measure | memvec | baseline | ratio | goal | runs |")
	fmt.Println("|---|---:|---:|---:|---|---:|")
	for _, g := range goals {
		m, n := median(g.memvec, g.metric)
		if n == 0 {
			continue
		}
		ratio, base := m, "—"
		if g.baseline != "" {
			b, _ := median(g.baseline, g.metric)
			ratio, base = m/b, format(b, g.metric)
		}
		target, verdict := "—", ""
		if g.max > 0 {
			target = "≤ " + strconv.FormatFloat(g.max, 'g', -1, 64)
			verdict = " ✗"
			if ratio <= g.max {
				verdict = " ✓"
			}
		}
		fmt.Printf("| %s | %s | %s | %.4g | %s%s | %d |\n", g.what, format(m, g.metric), base, ratio, target, verdict, n)
	}
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
