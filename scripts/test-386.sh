#!/usr/bin/env bash
# Runs the module's tests as 32-bit Linux programs (GOARCH=386), for real:
# 4 GiB of address space, 4-byte alignment of 64-bit fields, a 32-bit int.
#
#	bash scripts/test-386.sh [test flags, as for the test binary: -test.run=Pattern -test.v ...]
#
# Where the kernel runs 32-bit programs (IA-32 emulation on amd64), that is
# `GOARCH=386 go test ./...`. Where it does not (a kernel built or booted
# without it: exec of a 386 binary fails with "exec format error"), the test
# binaries run in a virtual machine instead: qemu-system-x86_64 under
# software emulation with two CPUs, booting Debian's cloud kernel (which
# runs 32-bit programs) with an initramfs that holds busybox, the FUSE,
# loop, XFS and btrfs modules, the mkfs tools of the full-disk tests (with
# their libraries), the test binaries and the source tree (the tests read
# README.md and FORMAT.md). The main package's tests run in two processes
# at once, one on each CPU (see the init below). qemu's user-mode emulator
# (qemu-i386) is no substitute: the Go runtime's 386 threads crash under the
# one Debian 12 ships. The packages it needs (qemu-system-x86,
# busybox-static, e2fsprogs, xfsprogs, btrfs-progs, and the kernel's
# package, unpacked, not installed) come from Debian's archive; the kernel
# is kept in ~/.cache/memvec-386 for the next run. Python is not in the
# machine, so the tests of the numpy reader and of FORMAT.md's Python
# reader skip there.
#
# With -test.short (as CI runs it), the run took 9 to 10.5 minutes on a
# 2-core machine at load average 9 (6 minutes of CPU), 30 s of it to build
# and boot.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

GOARCH=386 go test -c -o "$work/memvec.test" .
GOARCH=386 go test -c -o "$work/memvec-cmd.test" ./cmd/memvec
# The layers' own tests: internal/region's and internal/format's.
layers="internal/region internal/format"
for p in $layers; do GOARCH=386 go test -c -o "$work/memvec-${p##*/}.test" "./$p"; done

if "$work/memvec.test" -test.run='^$' >/dev/null 2>&1; then
	echo "the kernel runs 386 programs: running the tests here"
	status=0
	"$work/memvec.test" -test.count=1 -test.timeout=60m "$@" || status=$?
	(cd cmd/memvec && "$work/memvec-cmd.test" -test.count=1 -test.timeout=60m "$@") || status=$((status | $?))
	for p in $layers; do
		(cd "$p" && "$work/memvec-${p##*/}.test" -test.count=1 -test.timeout=60m "$@") || status=$((status | $?))
	done
	exit "$status"
fi
echo "the kernel does not run 386 programs: running the tests in a virtual machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -x /bin/busybox ] || missing+=(busybox-static)
sbin="$PATH:/usr/sbin:/sbin"
PATH=$sbin command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
PATH=$sbin command -v mkfs.xfs >/dev/null || missing+=(xfsprogs)
PATH=$sbin command -v mkfs.btrfs >/dev/null || missing+=(btrfs-progs)
if [ ${#missing[@]} -gt 0 ]; then
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's cloud kernel: small, IA-32 emulation on, FUSE and loop as modules.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/memvec-386"
kernel=$(ls "$cache"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
if [ -z "$kernel" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	[ -n "$pkg" ] || { echo "no linux-image-cloud-amd64 in the package lists: apt-get update"; exit 1; }
	mkdir -p "$cache"
	(cd "$work" && apt-get download "$pkg")
	dpkg -x "$work"/"$pkg"_*.deb "$cache"
	rm "$work"/"$pkg"_*.deb
	kernel=$(ls "$cache"/boot/vmlinuz-* | head -n 1)
fi
release=${kernel##*/vmlinuz-}
modules="$cache/lib/modules/$release/kernel"

root="$work/root"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,modules,src}
cp /bin/busybox "$root/bin/"
# The modules, in the order they load: FUSE, loop, XFS and btrfs with what
# they need (ext4 is built in).
modlist="fs/fuse/fuse drivers/block/loop lib/libcrc32c fs/xfs/xfs lib/zstd/zstd_compress lib/raid6/raid6_pq crypto/xor fs/btrfs/btrfs"
for m in $modlist; do
	cp "$modules/$m.ko" "$root/modules/"
	echo "${m##*/}"
done > "$root/modules/order"
# The mkfs tools the full-disk tests run (the machine's kernel is amd64:
# this machine's programs run there as they are), with the libraries they
# load.
for tool in mkfs.ext4 mkfs.xfs mkfs.btrfs; do
	path=$(PATH=$sbin command -v "$tool")
	cp -L "$path" "$root/bin/"
	{ ldd "$path" || true; } | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' | xargs -r cp -L --parents -t "$root"
done
[ ! -f /etc/mke2fs.conf ] || cp /etc/mke2fs.conf "$root/etc/"
git ls-files -z | xargs -0 cp --parents -t "$root/src"
mv "$work/memvec.test" "$root/src/memvec.test"
mv "$work/memvec-cmd.test" "$root/src/cmd/memvec/memvec.test"
for p in $layers; do mv "$work/memvec-${p##*/}.test" "$root/src/$p/memvec.test"; done
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# The test flags, each quoted for the shell that runs them. The machine's
# kernel, Linux 6.1, faults a write through a mapping into a no-copy-on-write
# file's own blocks on a full btrfs (fixed in Linux 6.17: "btrfs: fix
# -ENOSPC mmap write failure on NOCOW files/extents"), on amd64 as on 386:
# the full-disk tests that write so on btrfs are skipped there (a -test.skip
# among the flags replaces this one). TestTempDirFullDisk/btrfs is one: a
# 64-bit test binary run in this machine faults there just as the 32-bit
# one does, and both pass on Linux 6.18.
skip='^TestFullDiskOnFilesystems$/^btrfs$/^(push|open)$|^TestFullDiskOnFilesystems$/^btrfs$/^migrate$/^free=0k$|^TestTempDirFullDisk$/^btrfs$'
{
	printf 'set --'
	for arg in -test.count=1 -test.timeout=60m "-test.skip=$skip" "$@"; do printf " '%s'" "${arg//\'/\'\\\'\'}"; done
	echo
} > "$root/flags"
echo "not run in the machine (Linux 6.1's btrfs, see scripts/test-386.sh): -test.skip=$skip"
# The machine has two CPUs, and each test process is pinned to one
# (taskset): the emulator makes a change of a process's mappings (munmap,
# mprotect, mremap) seen on every CPU the process runs on, which costs far
# more on the other CPU than on its own. The main package's tests are dealt
# alternately into two lists, run at once, one on each CPU, the command's
# tests after the second list. A -test.run among the flags selects the
# tests instead: then the packages run one after the other on the first
# CPU. GOMAXPROCS is 2 all the same, so that the code for more than one
# thread runs (the prefault helper's, for one).
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TMPDIR=/tmp GOMAXPROCS=2
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=90% tmp /tmp
for m in $(cat /modules/order); do
	case $m in
	loop) insmod /modules/loop.ko max_loop=16 ;;
	*) insmod "/modules/$m.ko" ;;
	esac
done
# Every filesystem of the full-disk tests is here: they must run.
export MEMVEC_REQUIRE_LOOPFS=1
echo "memvec-386: $(uname -r), $(nproc) CPUs"
. /flags
# run cpu dir pattern [flag...] runs dir's memvec.test on the CPU, with the
# tests that pattern selects (all if it is empty).
run() {
	cpu=$1 dir=$2 pattern=$3
	shift 3
	started=$(date +%s)
	cd "$dir" || return
	if [ -n "$pattern" ]; then
		taskset -c "$cpu" ./memvec.test "-test.run=$pattern" "$@"
	else
		taskset -c "$cpu" ./memvec.test "$@"
	fi
	status=$?
	echo "memvec-386: $dir took $(($(date +%s) - started)) s, exit status $status"
	return $status
}
case " $* " in
*" -test.run"*)
	{ run 0 /src "" "$@"; s=$?; run 0 /src/cmd/memvec "" "$@"; s=$((s | $?)); run 0 /src/internal/region "" "$@"; s=$((s | $?)); run 0 /src/internal/format "" "$@"; echo $((s | $?)) > /tmp/0.status; } > /tmp/0.log 2>&1
	echo 0 > /tmp/1.status
	: > /tmp/1.log
	;;
*)
	cd /src && ./memvec.test -test.list '.*' | grep -E '^(Test|Fuzz|Example)' > /tmp/tests
	list() { awk -v k="$1" '(NR-1)%2 == k { printf "%s%s", sep, $0; sep = "|" }' /tmp/tests; }
	{ run 0 /src "^($(list 0))\$" "$@"; s=$?; run 0 /src/internal/region "" "$@"; s=$((s | $?)); run 0 /src/internal/format "" "$@"; echo $((s | $?)) > /tmp/0.status; } > /tmp/0.log 2>&1 &
	{ run 1 /src "^($(list 1))\$" "$@"; s=$?; run 1 /src/cmd/memvec "" "$@"; echo $((s | $?)) > /tmp/1.status; } > /tmp/1.log 2>&1 &
	wait
	;;
esac
cat /tmp/0.log /tmp/1.log
echo "memvec-386-exit $(($(cat /tmp/0.status || echo 1) | $(cat /tmp/1.status || echo 1)))"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# Software emulation on every CPU, and enough memory for the tests' files,
# which live in the machine's tmpfs. A loaded host can starve the emulated
# timer while the kernel checks it at boot: no_timer_check skips the check
# (which would otherwise panic with "IO-APIC + timer doesn't work").
timeout 80m qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m 4096 \
	-nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 oops=panic no_timer_check" </dev/null | sed -u 's/\r//g' | tee "$work/console.log"
status=$(sed -n 's/^memvec-386-exit \([0-9]*\)$/\1/p' "$work/console.log")
if [ -z "$status" ]; then
	echo "the virtual machine stopped before the tests ended"
	exit 1
fi
exit "$status"
