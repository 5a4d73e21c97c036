#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the test VM's initramfs for one installed Debian kernel:
#   mkinitramfs.sh <kernel release> <output .cpio.gz> [script [args...]]
#
# It holds busybox, iproute2's ip, the kernel's own kvm-amd and veth
# modules and what they depend on (taken from the installed image,
# decompressed), loosetrace.ko built for that kernel, the static binaries
# of build/tools/vmm and build/agent, and the built test programs of every
# VM suite. With a script, the VM runs
# that script instead of the suites.
#
# Environment:
#   BUILD          build directory (default: <top>/build)
#   VM_SUITES      suites (or suite/program) to include, space or comma
#                  separated; default: every VM suite
#   VM_EXTRA_BIN   more directories whose executables go to /bin
#   VM_SCRIPT_TIMEOUT  seconds the script may run (default 1500)
#   VM_KMODS       more modules of the installed kernel to load (veth is)
#   VM_HOST_BINS   more programs of this machine to copy to /sbin, with
#                  their shared libraries (iproute2's ip always is)
#   VM_TIMEOUT_SCALE  factor on the programs' timeouts (default 1)
#   KROOT          root of a kernel not installed in / (see run-vm.sh)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
. "$TOP/selftests/vm/suites.sh"

rel=${1:?usage: mkinitramfs.sh <kernel release> <output> [script [args...]]}
out=${2:?usage: mkinitramfs.sh <kernel release> <output> [script [args...]]}
shift 2

kmods=${KROOT:-}/lib/modules/$rel/kernel
ko=$BUILD/kmod/$rel/loosetrace.ko
[ -d "$kmods" ] || { echo "no $kmods: install linux-image-$rel" >&2; exit 1; }
[ -f "$ko" ] || { echo "no $ko: run make module" >&2; exit 1; }
# busybox-static's binary: the initramfs holds no C library.
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "no $busybox: apt-get install busybox-static" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/loosetrace-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,selftests,lib/modules/kvm,lib/loosetrace}
cp "$busybox" "$root/bin/busybox"
cp "$TOP/selftests/vm/init" "$root/init"
cp "$TOP/selftests/vm/kvm-amd-reload" "$TOP/selftests/vm/resident-vm" \
	"$root/bin/"
chmod 755 "$root/init" "$root/bin/kvm-amd-reload" "$root/bin/resident-vm"

# The module file of a name, as installed (.ko, or compressed).
find_module() {
	local name=$1 alt=${1//_/-}

	find "$kmods" \( -name "$name.ko*" -o -name "$alt.ko*" \) -print -quit
}

# Copy module $2 into directory $1 and, first, everything it depends on
# (unless already in $1); the load order is appended to $1/order so the
# VM loads each after its dependencies.
copy_module() {
	local dir=$1 name=${2//-/_} file dep

	grep -qx "$name" "$dir/order" 2>/dev/null && return 0
	file=$(find_module "$2")
	[ -n "$file" ] || { echo "module $2 not found under $kmods" >&2; exit 1; }
	for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
		copy_module "$dir" "$dep"
	done
	case $file in
	*.xz) xz -dc "$file" > "$dir/$name.ko" ;;
	*.zst) zstd -qdc "$file" > "$dir/$name.ko" ;;
	*.gz) gzip -dc "$file" > "$dir/$name.ko" ;;
	*) cp "$file" "$dir/$name.ko" ;;
	esac
	echo "$name" >> "$dir/order"
}
: > "$root/lib/modules/kvm/order"
copy_module "$root/lib/modules/kvm" kvm_amd
# Other modules the tests need: veth joins network namespaces.
mkdir -p "$root/lib/modules/extra"
: > "$root/lib/modules/extra/order"
for m in veth ${VM_KMODS:-}; do
	copy_module "$root/lib/modules/extra" "$m"
done
cp "$ko" "$root/lib/loosetrace/loosetrace.ko"

# Static helper binaries for the tests: the test VMM, the agent, extras.
for dir in "$BUILD/tools/vmm" "$BUILD/agent" ${VM_EXTRA_BIN:-}; do
	[ -d "$dir" ] || continue
	find "$dir" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/bin/" \;
done

# Programs of the build machine, with the shared libraries they need, go
# to /sbin: iproute2's ip (busybox's cannot make veth pairs or network
# namespaces), and whatever VM_HOST_BINS names. Call them by full path:
# Debian's busybox sh runs its own applet of the same name first.
mkdir -p "$root/sbin"
copy_host_program() {
	local path lib

	path=$(command -v "$1") || { echo "$1 not found on this machine" >&2; exit 1; }
	cp -L "$path" "$root/sbin/$1"
	for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || cp -L --parents "$lib" "$root/"
	done
}
for prog in ip ${VM_HOST_BINS:-}; do
	copy_host_program "$prog"
done

# Is suite/program $1/$2 selected by VM_SUITES?
selected() {
	local want

	if [ -z "${VM_SUITES:-}" ]; then
		! is_optin_suite "$1"
		return
	fi
	for want in ${VM_SUITES//,/ }; do
		[ "$want" = "$1" ] || [ "$want" = "$1/$2" ] && return 0
	done
	return 1
}

# The longest the VM may legitimately run, in seconds, goes to
# <output>.seconds for run-vm.sh: boot and module loads, then each
# program's timeout plus the init's grace to kill it (see init).
seconds=300
if [ $# -gt 0 ]; then
	cp "$1" "$root/script"
	shift
	printf '%s\n' "$@" > "$root/script.args"
	echo "${VM_SCRIPT_TIMEOUT:-1500}" > "$root/script.timeout"
	seconds=$((seconds + ${VM_SCRIPT_TIMEOUT:-1500} + 25))
else
	for suite in $(all_suites); do
		is_host_suite "$suite" && continue
		# kselftest's per-suite settings file (timeout=<seconds>).
		settings=$TOP/selftests/$suite/settings
		t=$(sed -n 's/^timeout=\([0-9]*\)$/\1/p' "$settings" 2>/dev/null || true)
		for prog in "$BUILD/selftests/$suite"/*_test; do
			[ -f "$prog" ] && [ -x "$prog" ] || continue
			selected "$suite" "$(basename "$prog")" || continue
			mkdir -p "$root/selftests/$suite"
			cp "$prog" "$root/selftests/$suite/"
			seconds=$((seconds + ${t:-300} + 25))
		done
		if [ -d "$root/selftests/$suite" ] && [ -f "$settings" ]; then
			cp "$settings" "$root/selftests/$suite/"
		fi
	done
fi
# What a suite needs in the VM besides its programs (the qemu suite:
# QEMU and its guest, 60 MiB): only when its programs are in, or when
# VM_SUITES names it for a script.
for suite in $(all_suites); do
	[ -f "$TOP/selftests/$suite/initramfs.sh" ] || continue
	if [ -d "$root/selftests/$suite" ] ||
	   { [ -f "$root/script" ] && [ -n "${VM_SUITES:-}" ] &&
	     selected "$suite" ""; }; then
		. "$TOP/selftests/$suite/initramfs.sh"
	fi
done
# A slow (debug) kernel: the init scales every program's timeout.
scale=${VM_TIMEOUT_SCALE:-1}
echo "$scale" > "$root/timeout.scale"
echo "$((seconds * scale))" > "$out.seconds"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
