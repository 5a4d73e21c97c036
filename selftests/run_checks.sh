#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: the host suites, then the VM suites on every targeted
# kernel, then one summary line "N passed, N failed, N skipped" counting
# TAP test cases (and the VM init's own checks) over all of them. Exits
# non-zero if anything failed or nothing ran.
#
# Environment:
#   KVERS        kernel releases to test (default: every kernel with an
#                image in /boot and a built build/kmod/<release>/loosetrace.ko)
#   VM_SUITES    only these VM suites (or suite/program), e.g. "engine";
#                the qemu suite (never run unless named here) boots a VM
#                of its own, with one CPU
#   HOST_SUITES  host suites to run (default: codec and every *-host
#                suite, see vm/suites.sh; "" for none)
#   VM_JOBS      kernels tested at the same time (default 1)
#   VM_NO_RETRY  set: a VM that never finishes is not booted a second time
#   VM_TICKLESS  set: a second boot per kernel runs engine/epoch_test with
#                CPU 1 tickless (nohz_full=1), where it requires a kick
#   BUILD        build directory (default: <top>/build)
#   and the VM_* knobs of selftests/vm/run-vm.sh
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD
logs=$BUILD/check
rm -rf "$logs"
mkdir -p "$logs"

. "$TOP/selftests/vm/suites.sh"
if [ -z "${HOST_SUITES+set}" ]; then
	HOST_SUITES=$(for s in $(all_suites); do
		is_host_suite "$s" && echo "$s"
	done)
fi
if [ -z "${KVERS:-}" ]; then
	KVERS=$(cd "$BUILD/kmod" 2>/dev/null && ls -d */loosetrace.ko 2>/dev/null |
		sed 's|/loosetrace.ko$||')
fi

total_p=0 total_f=0 total_s=0
summarize() { # <log> <label> [need_done [cut_ok]]; counts in sum_p/f/s
	awk -v label="$2" -v need_done="${3:-0}" -v cut_ok="${4:-0}" \
		-f "$TOP/selftests/vm/tap-count.awk" "$1" > "$1.summary"
	grep '^FAIL ' "$1.summary" >> "$logs/failures"
	read -r sum_p sum_f sum_s < <(tail -n 1 "$1.summary")
	echo "== $2: $sum_p passed, $sum_f failed, $sum_s skipped"
	total_p=$((total_p + sum_p)) total_f=$((total_f + sum_f))
	total_s=$((total_s + sum_s))
}

: > "$logs/failures"
start=$(date +%s)

for suite in $HOST_SUITES; do
	[ -f "$TOP/selftests/$suite/Makefile" ] || continue
	echo "== host suite $suite"
	{
		echo "LTVM-BEGIN host/$suite"
		make --no-print-directory -C "$TOP/selftests/$suite" \
			BUILD="$BUILD/selftests/$suite" \
			KSFT="$BUILD/selftests/ksft" run 2>&1
		echo "LTVM-END host/$suite rc=$?"
	} | tee "$logs/host-$suite.log"
	summarize "$logs/host-$suite.log" "host $suite"
done

# Boots kernel $1 with the VM suites; the console goes to its log
# (vm-$1$3.log), and to the terminal as well when $2 is "tee".
run_kernel() {
	local rel=$1 log=$logs/vm-$1${3:-}.log t0

	if [ ! -f "$BUILD/kmod/$rel/loosetrace.ko" ] || [ ! -r "${KROOT:-}/boot/vmlinuz-$rel" ]; then
		echo "LTVM-CHECK not ok $rel: needs ${KROOT:-}/boot/vmlinuz-$rel and build/kmod/$rel/loosetrace.ko" > "$log"
		return
	fi
	t0=$(date +%s)
	if [ "$2" = tee ]; then
		"$TOP/selftests/vm/run-vm.sh" "$rel" 2>&1 | tee "$log"
	else
		"$TOP/selftests/vm/run-vm.sh" "$rel" > "$log" 2>&1
	fi
	echo "$(($(date +%s) - t0))" > "$log.seconds"
	# QEMU's emulator with one host thread per vCPU sometimes wedges the
	# test kernel while one CPU patches a jump label another is executing
	# (seen in __schedule as KVM_CREATE_VM flips the preempt-notifier
	# key, with no loosetrace frame on any CPU). A VM that never reached
	# the end of its init is booted once more; the first console is kept
	# beside the log and its tail printed, and every failure it recorded
	# before it stopped (a case, a kernel-log check) still counts.
	if [ -z "${VM_NO_RETRY:-}" ] && [ -z "${retried:-}" ] &&
	   ! grep -q '^LTVM-DONE' "$log"; then
		mv "$log" "$log.first"
		echo "== $rel: the VM did not finish; its console ended with:"
		tail -n 40 "$log.first" | sed 's/^/   | /'
		echo "== $rel: booting it once more ($log.first keeps the first run)"
		retried=1 run_kernel "$@"
	fi
}

report_kernel() { # <release> [log tag]
	local log=$logs/vm-$1${2:-}.log

	if [ -f "$log.seconds" ]; then
		echo "== $1${2:-}: VM run took $(cat "$log.seconds") s; seconds per program:"
		sed -n 's/^LTVM-END \([^ ]*\) rc=[^ ]* s=\([0-9]*\)$/\2 \1/p' "$log" |
			sort -rn | awk '{ printf "  %5d  %s\n", $1, $2 }'
		summarize "$log" "$1${2:-}" 1
		if [ -f "$log.first" ]; then
			# only its failures: its passes are run again
			summarize "$log.first" "$1${2:-} (first boot)" 0 1 > /dev/null
			total_p=$((total_p - sum_p)) total_s=$((total_s - sum_s))
			echo "== $1${2:-} (first boot): $sum_f failed before it stopped"
		fi
	else
		summarize "$log" "$1${2:-}"
	fi
}

# A deadline kick needs a vCPU that stays in guest mode, which a timer
# tick on its CPU prevents: with VM_TICKLESS=1 engine/epoch_test boots
# once more with CPU 1 tickless (nohz_full=1), where it requires a kick.
# Not by default: even there the spinning vCPU still leaves the guest by
# itself now and then, and the first kick came after 10 to 810 epochs
# (up to 90 s), too unsteady for CI. Only that program: the other suites
# run several times slower on a tickless CPU, and a whole run so booted
# once wedged the emulated machine.
TICKLESS_PROG=engine/epoch_test
tickless_wanted() {
	local want

	[ -n "${VM_TICKLESS:-}" ] || return 1
	[ -z "${VM_SUITES:-}" ] && return 0
	for want in ${VM_SUITES//,/ }; do
		case $want in engine|"$TICKLESS_PROG") return 0 ;; esac
	done
	return 1
}

run_tickless() { # <release> <tee|log>
	echo "== $TICKLESS_PROG on $1 with CPU 1 tickless (nohz_full=1)"
	VM_SUITES=$TICKLESS_PROG VM_APPEND="nohz_full=1 ${VM_APPEND:-}" \
		run_kernel "$1" "$2" -tickless
}

# The qemu suite (only when VM_SUITES names it, see suites.sh) boots a
# test VM of its own, with one CPU: on two, the emulator delivers some
# interrupts of the nested QEMU's guest twice and most of its boots hang
# (Documentation/qemu.rst). QEMU_SUITES is what that boot runs,
# MAIN_SUITES what the main boot runs.
QEMU_SUITES= MAIN_SUITES= want=${VM_SUITES:-}
for want in ${want//,/ }; do
	case $want in
	qemu | qemu/*) QEMU_SUITES="$QEMU_SUITES $want" ;;
	*) MAIN_SUITES="$MAIN_SUITES $want" ;;
	esac
done

run_main() { # <release> <tee|log>
	if [ -n "${VM_SUITES:-}" ] && [ -z "$MAIN_SUITES" ]; then
		return
	fi
	VM_SUITES=${MAIN_SUITES# } run_kernel "$1" "$2"
}

report_main() {
	[ -n "${VM_SUITES:-}" ] && [ -z "$MAIN_SUITES" ] || report_kernel "$1"
}

run_qemu() { # <release> <tee|log>
	[ -n "$QEMU_SUITES" ] || return 0
	echo "== the qemu suite on $1, on a test VM with one CPU"
	VM_SUITES=${QEMU_SUITES# } VM_SMP=1 run_kernel "$1" "$2" -qemu
}

report_qemu() {
	[ -z "$QEMU_SUITES" ] || report_kernel "$1" -qemu
}

# VM_JOBS kernels boot at once (default 1). Their consoles then go to
# their logs only, printed whole when all are done.
if [ "${VM_JOBS:-1}" -gt 1 ]; then
	running=0
	for rel in $KVERS; do
		echo "== VM suites on $rel (console: $logs/vm-$rel.log)"
		if [ "$running" -ge "$VM_JOBS" ]; then
			wait -n
			running=$((running - 1))
		fi
		{
			run_main "$rel" log
			run_qemu "$rel" log
			! tickless_wanted || run_tickless "$rel" log
		} &
		running=$((running + 1))
	done
	wait
	for rel in $KVERS; do
		echo "== console of the VM on $rel"
		cat "$logs/vm-$rel.log" 2>/dev/null
		report_main "$rel"
		if [ -n "$QEMU_SUITES" ]; then
			cat "$logs/vm-$rel-qemu.log"
			report_qemu "$rel"
		fi
		if tickless_wanted; then
			cat "$logs/vm-$rel-tickless.log"
			report_kernel "$rel" -tickless
		fi
	done
else
	for rel in $KVERS; do
		echo "== VM suites on $rel"
		run_main "$rel" tee
		report_main "$rel"
		run_qemu "$rel" tee
		report_qemu "$rel"
		if tickless_wanted; then
			run_tickless "$rel" tee
			report_kernel "$rel" -tickless
		fi
	done
fi

echo "== $(($(date +%s) - start)) s; logs in $logs"
if [ -s "$logs/failures" ]; then
	echo "== failures:"
	sed 's/^FAIL /  /' "$logs/failures"
fi
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ] && [ $((total_p + total_s)) -gt 0 ]
