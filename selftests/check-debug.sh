#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: builds (once, cached: scripts/build-debug-kernel.sh)
# a debug kernel of each line in LT_DEBUG_LINES from Debian's source, with
# KASAN, lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP, debug objects and
# kmemleak, builds loosetrace.ko for it and runs every VM suite on it
# (selftests/run_checks.sh). The VM's init fails the check "kernel log
# clean" on any report of those checkers and, at the end, on any object
# kmemleak finds; the reports are printed again at the end.
#
# Environment:
#   LT_DEBUG_LINES    kernel lines (default "6.12"; "6.12 6.1" for both)
#   VM_TIMEOUT_SCALE  factor on the VM's timeouts (default 4)
#   VM_SUITES, VM_JOBS, VM_MEM...: as for run_checks.sh and run-vm.sh;
#   LT_DEBUG_KERNEL_CACHE: see scripts/build-debug-kernel.sh
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

# One root for all the debug kernels, made of links into the cache, so
# that run_checks.sh tests them all in one run.
kroot=$BUILD/debug-kernel
rm -rf "$kroot"
mkdir -p "$kroot/boot" "$kroot/lib/modules"
kvers=
for line in ${LT_DEBUG_LINES:-6.12}; do
	t0=$(date +%s)
	dir=$("$TOP/scripts/build-debug-kernel.sh" "$line")
	rel=$(cat "$dir/release")
	echo "== debug kernel $rel: $dir ($(($(date +%s) - t0)) s)"
	ln -s "$dir/boot/vmlinuz-$rel" "$kroot/boot/vmlinuz-$rel"
	ln -s "$dir/lib/modules/$rel" "$kroot/lib/modules/$rel"
	kvers="$kvers $rel"
done
make --no-print-directory -C "$TOP" module KROOT="$kroot" KVERS="$kvers"

# A KASAN kernel under the emulator runs several times slower; KASAN
# reports every bad access, not only the first.
rc=0
HOST_SUITES= KROOT=$kroot KVERS=$kvers \
	VM_TIMEOUT_SCALE=${VM_TIMEOUT_SCALE:-4} \
	VM_APPEND="kasan_multi_shot ${VM_APPEND:-}" \
	"$TOP/selftests/run_checks.sh" || rc=$?

# The checkers' reports once more, each with what it came after: the
# init prints a report before the check it fails ("kernel log clean after
# <program>", "kmemleak finds no leaked object").
for rel in $kvers; do
	for log in "$BUILD/check/vm-$rel.log" "$BUILD/check/vm-$rel.log.first"; do
		[ -f "$log" ] || continue
		awk -v file="$log" '
			function flush(what,   i) {
				for (i = 0; i < n; i++) {
					if (!shown++)
						printf "== checker reports in %s:\n", file
					printf "  %s: %s\n", what, line[i]
				}
				n = 0
			}
			/^# kmsg: .*(BUG:|WARNING:|inconsistent lock state|suspicious RCU usage|ODEBUG|corruption|kmemleak)/ ||
			/^# kmemleak: unreferenced object/ { line[n++] = $0 }
			/^LTVM-CHECK (ok|not ok) kernel log clean after / {
				sub(/^LTVM-CHECK (ok|not ok) kernel log clean /, "")
				flush($0)
			}
			/^LTVM-CHECK not ok kmemleak / { flush("final kmemleak scan") }
			END { flush("before the VM stopped") }' "$log"
	done
done
exit "$rc"
