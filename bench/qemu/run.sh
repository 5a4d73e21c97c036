#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-qemu`: builds the QEMU migration benchmark (bench_qemu.c),
# boots the test VM on every installed kernel (or KVERS="<release> ...")
# with kvm-amd and loosetrace.ko loaded and Debian's QEMU and the QEMU
# test guest inside (VM_SUITES=qemu), runs it there and prints, as it
# goes, its progress and then its table: one guest migrated by
# loosetrace (loose, sync) and by QEMU (precopy, multifd, auto-converge),
# idle and writing.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

make -s -C "$TOP/bench/qemu" BUILD="$BUILD/bench/qemu"

kvers=${KVERS:-$(cd /lib/modules && for d in */build; do echo "${d%/build}"; done)}
script=$(mktemp "${TMPDIR:-/tmp}/lt-bench-qemu.XXXXXX")
trap 'rm -f "$script"' EXIT
cat > "$script" <<'SCRIPT'
echo "$(qemu-system-x86_64 --version | head -n 1), KVM nested in the test VM"
lt-bench-qemu
SCRIPT

# Ten migrations of up to 120 s each and a guest boot that may be
# retried: more than run-in-vm.sh's defaults allow.
export VM_SUITES=qemu
# One CPU: on two, the emulator delivers some of the nested guest's
# interrupts twice and most of its boots hang (Documentation/qemu.rst).
export VM_SMP=${VM_SMP:-1}
export VM_EXTRA_BIN="${VM_EXTRA_BIN:-} $BUILD/bench/qemu/bin"
export VM_SCRIPT_TIMEOUT=${VM_SCRIPT_TIMEOUT:-2700}
export VM_TIMEOUT=${VM_TIMEOUT:-$((VM_SCRIPT_TIMEOUT + 400))}

status=0
for k in $kvers; do
	echo "== kernel $k"
	start=$SECONDS
	"$TOP/selftests/vm/run-in-vm.sh" "$k" "$script" || {
		echo "benchmark failed on $k (rc=$?)" >&2
		status=1
	}
	echo "== kernel $k: $((SECONDS - start)) s with the VM's boot"
done
exit $status
