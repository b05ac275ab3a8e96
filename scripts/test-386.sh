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
# software emulation, booting Debian's cloud kernel (which runs 32-bit
# programs) with an initramfs that holds busybox, the FUSE and loop
# modules, the test binaries and the source tree (the tests read README.md
# and FORMAT.md). qemu's user-mode emulator (qemu-i386) is no substitute: the
# Go runtime's 386 threads crash under the one Debian 12 ships. The packages
# it needs (qemu-system-x86, busybox-static, and the kernel's package,
# unpacked, not installed) come from Debian's archive; the kernel is kept in
# ~/.cache/memvec-386 for the next run. Python is not in the machine, so the
# tests of the numpy reader and of FORMAT.md's Python reader skip there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

GOARCH=386 go test -c -o "$work/memvec.test" .
GOARCH=386 go test -c -o "$work/memvec-cmd.test" ./cmd/memvec

if "$work/memvec.test" -test.run='^$' >/dev/null 2>&1; then
	echo "the kernel runs 386 programs: go test"
	GOARCH=386 go test -count=1 -timeout 25m ./...
	exit
fi
echo "the kernel does not run 386 programs: running the tests in a virtual machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -x /bin/busybox ] || missing+=(busybox-static)
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
mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,modules,src}
cp /bin/busybox "$root/bin/"
cp "$modules/fs/fuse/fuse.ko" "$modules/drivers/block/loop.ko" "$root/modules/"
git ls-files -z | xargs -0 cp --parents -t "$root/src"
mv "$work/memvec.test" "$root/src/memvec.test"
mv "$work/memvec-cmd.test" "$root/src/cmd/memvec/memvec.test"
# Each test flag, quoted for the shell that runs it.
flags=""
for arg in -test.count=1 -test.timeout=60m "$@"; do flags+=" '${arg//\'/\'\\\'\'}'"; done
cat > "$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=90% tmp /tmp
insmod /modules/fuse.ko
insmod /modules/loop.ko max_loop=16
echo "memvec-386: \$(uname -r), \$(nproc) CPUs"
status=0
cd /src && ./memvec.test$flags || status=\$?
cd /src/cmd/memvec && ./memvec.test$flags || status=\$((status | \$?))
echo "memvec-386-exit \$status"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# Software emulation on every CPU, and enough memory for the tests' files,
# which live in the machine's tmpfs. A loaded host can starve the emulated
# timer while the kernel checks it at boot: no_timer_check skips the check
# (which would otherwise panic with "IO-APIC + timer doesn't work").
cpus=$(nproc)
timeout 80m qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max -smp "$cpus" -m 4096 \
	-nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 oops=panic no_timer_check" </dev/null | sed -u 's/\r//g' | tee "$work/console.log"
status=$(sed -n 's/^memvec-386-exit \([0-9]*\)$/\1/p' "$work/console.log")
if [ -z "$status" ]; then
	echo "the virtual machine stopped before the tests ended"
	exit 1
fi
exit "$status"
