#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots one installed Debian kernel in QEMU (TCG, -cpu max: AMD SVM with
# nested paging, so kvm-amd loads inside) with the test initramfs and
# prints its serial console, without carriage returns, on stdout:
#   run-vm.sh <kernel release> [script [args...]]
# Without a script the VM runs the test suites; the TAP output is read by
# tap-count.awk. With a script it runs that instead.
#
# Environment:
#   BUILD        build directory (default: <top>/build)
#   VM_MEM       guest memory in MiB (default 2048)
#   VM_SMP       guest CPUs (default 2)
#   VM_TIMEOUT   seconds before QEMU is killed (default: 300 for boot, plus
#                each program's timeout and 25 s, at most 1800)
#   VM_VERBOSE   1: kernel messages on the console too
#   VM_SUITES, VM_EXTRA_BIN: see mkinitramfs.sh
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

rel=${1:?usage: run-vm.sh <kernel release> [script [args...]]}
shift
kernel=/boot/vmlinuz-$rel
[ -r "$kernel" ] || { echo "no $kernel: install linux-image-$rel" >&2; exit 1; }
command -v qemu-system-x86_64 > /dev/null ||
	{ echo "qemu-system-x86_64 not found: apt-get install qemu-system-x86" >&2; exit 1; }

mkdir -p "$BUILD/vm"
initrd=$BUILD/vm/initramfs-$rel-$$.cpio.gz
trap 'rm -f "$initrd" "$initrd.seconds"' EXIT
"$TOP/selftests/vm/mkinitramfs.sh" "$rel" "$initrd" "$@"
# By default QEMU gets as long as the programs in the VM may take, at
# most 30 minutes: the init's watchdog ends a run whose program hangs,
# this only ends a kernel that stopped running anything.
vm_timeout=$(cat "$initrd.seconds")
[ "$vm_timeout" -gt 1800 ] && vm_timeout=1800
vm_timeout=${VM_TIMEOUT:-$vm_timeout}

# Without VM_VERBOSE only emergencies reach the console, so kernel
# messages do not break TAP lines; init checks the kernel log itself.
# A soft lockup panics, and a panic reboots, which ends QEMU (-no-reboot):
# a wedged kernel does not hold the run until the timeout.
loglevel=1
[ "${VM_VERBOSE:-0}" = 1 ] && loglevel=7

timeout -k 10 "$vm_timeout" \
	qemu-system-x86_64 -accel tcg -cpu max -smp "${VM_SMP:-2}" \
	-m "${VM_MEM:-2048}" -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 softlockup_panic=1 loglevel=$loglevel rdinit=/init" \
	< /dev/null 2>&1 | tr -d '\r'
