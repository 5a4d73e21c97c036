#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots one installed Debian kernel in QEMU (TCG, -cpu max: AMD SVM with
# nested paging, so kvm-amd loads inside) with the test initramfs and
# prints its serial console, without carriage returns, on stdout:
#   run-vm.sh <kernel release> [script [args...]]
# Without a script the VM runs the test suites; the TAP output is read by
# tap-count.awk. With a script it runs that instead. Exits 124 if the VM
# had to be stopped after VM_TIMEOUT, 0 otherwise: what ran inside is
# told by the console.
#
# Environment:
#   BUILD        build directory (default: <top>/build)
#   VM_MEM       guest memory in MiB (default 2048)
#   VM_SMP       guest CPUs (default 2)
#   VM_TCG_THREAD  single (default) or multi: TCG threads for the vCPUs
#   VM_TIMEOUT   seconds before QEMU is killed (default: 300 for boot, plus
#                each program's timeout and 25 s, at most 1800)
#   VM_VERBOSE   1: kernel messages on the console too
#   VM_APPEND    more kernel command line (e.g. nohz_full=1)
#   VM_HEARTBEAT_TIMEOUT  seconds without a heartbeat from the VM's user
#                space before it counts as wedged (default 180)
#   VM_TIMEOUT_SCALE  factor on every timeout in the VM, on the boot's and
#                on the 1800 s bound (default 1; a slow debug kernel)
#   KROOT        directory holding boot/vmlinuz-<release> and
#                lib/modules/<release> of a kernel not installed in /
#   VM_SUITES, VM_EXTRA_BIN: see mkinitramfs.sh
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

rel=${1:?usage: run-vm.sh <kernel release> [script [args...]]}
shift
kernel=${KROOT:-}/boot/vmlinuz-$rel
scale=${VM_TIMEOUT_SCALE:-1}
[ -r "$kernel" ] || { echo "no $kernel: install linux-image-$rel" >&2; exit 1; }
command -v qemu-system-x86_64 > /dev/null ||
	{ echo "qemu-system-x86_64 not found: apt-get install qemu-system-x86" >&2; exit 1; }

mkdir -p "$BUILD/vm"
initrd=$BUILD/vm/initramfs-$rel-$$.cpio.gz
monitor=$BUILD/vm/monitor-$rel-$$
cleanup() {
	if [ -n "${qemu:-}" ]; then
		kill -9 "$qemu" 2> /dev/null || true
	fi
	rm -f "$initrd" "$initrd.seconds" "$monitor.in" "$monitor.out" \
		"$monitor.heartbeat"
}
trap cleanup EXIT
trap 'exit 129' HUP PIPE
trap 'exit 130' INT
trap 'exit 143' TERM
"$TOP/selftests/vm/mkinitramfs.sh" "$rel" "$initrd" "$@"
# By default QEMU gets as long as the programs in the VM may take, at
# most 30 minutes: the init's watchdog ends a run whose program hangs,
# this only ends a kernel that stopped running anything.
vm_timeout=$(cat "$initrd.seconds")
[ "$vm_timeout" -gt $((1800 * scale)) ] && vm_timeout=$((1800 * scale))
vm_timeout=${VM_TIMEOUT:-$vm_timeout}

# Without VM_VERBOSE only emergencies reach the console, so kernel
# messages do not break TAP lines; init checks the kernel log itself.
# A panic reboots, which ends QEMU (-no-reboot). An NMI panics, printing
# every CPU's backtrace (panic_print=64): the timeout below sends one
# before it kills QEMU, to show where a wedged kernel was stuck.
# The emulated CPUs stall whenever the host is busy, and the guest's
# clock runs on meanwhile: the soft lockup and RCU stall detectors get
# thresholds (120 s, 100 s) that such stalls do not reach, so that what
# they report is a kernel problem.
loglevel=1
[ "${VM_VERBOSE:-0}" = 1 ] && loglevel=7
cmdline="console=ttyS0 panic=-1 unknown_nmi_panic=1 panic_print=64"
cmdline="$cmdline watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=100"
cmdline="$cmdline loglevel=$loglevel rdinit=/init ${VM_APPEND:-}"

# QEMU's human monitor on a pair of FIFOs, held open here so that
# neither side blocks. The console filter must not buffer: what a wedged
# kernel printed last is what matters.
mkfifo "$monitor.in" "$monitor.out"
exec 3<> "$monitor.in" 4<> "$monitor.out"
# The init writes a heartbeat to the second serial port every 10 s
# (ttyS1). When it stops for VM_HEARTBEAT_TIMEOUT seconds the kernel no
# longer runs user space: a wedged kernel costs minutes, not VM_TIMEOUT.
: > "$monitor.heartbeat"
heartbeat_timeout=${VM_HEARTBEAT_TIMEOUT:-180}

# One TCG thread runs both vCPUs in turn (thread=single): with a host
# thread per vCPU the emulator wedges the test kernel now and then while
# one CPU patches a jump label another is executing (asm_exc_int3 in
# __schedule or finish_task_switch, no loosetrace frame).
# VM_TCG_THREAD=multi brings that mode back.
qemu-system-x86_64 -accel "tcg,thread=${VM_TCG_THREAD:-single}" -cpu max \
	-smp "${VM_SMP:-2}" \
	-m "${VM_MEM:-2048}" -display none -no-reboot -nic none \
	-serial stdio -serial "file:$monitor.heartbeat" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-chardev "pipe,id=monitor,path=$monitor" -mon chardev=monitor \
	< /dev/null > >(sed -u 's/\r//g') 2>&1 &
qemu=$!

deadline=$((SECONDS + vm_timeout))
# Until the first heartbeat: boot, at most 300 s.
beat_size=0 beat_deadline=$((SECONDS + 300 * scale))
status=0
while kill -0 "$qemu" 2> /dev/null; do
	size=$(stat -c %s "$monitor.heartbeat")
	if [ "$size" != "$beat_size" ]; then
		beat_size=$size
		beat_deadline=$((SECONDS + heartbeat_timeout))
	fi
	why=
	if [ "$SECONDS" -ge "$deadline" ]; then
		why="still running after $vm_timeout s"
	elif [ "$SECONDS" -ge "$beat_deadline" ]; then
		why="wedged: no heartbeat from its user space for $heartbeat_timeout s"
	fi
	if [ -n "$why" ]; then
		status=124
		echo "run-vm.sh: the VM is $why: NMI for backtraces, then kill"
		echo nmi >&3
		for _ in $(seq 30); do
			kill -0 "$qemu" 2> /dev/null || break
			sleep 1
		done
		kill -9 "$qemu" 2> /dev/null || true
		break
	fi
	sleep 1
done
wait "$qemu" || true
qemu=
# Let the console filter finish.
wait
exit "$status"
