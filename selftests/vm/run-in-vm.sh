#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs a shell script inside the test VM, after kvm, kvm-amd and
# loosetrace.ko are loaded, and prints its output as it comes:
#   run-in-vm.sh <kernel release | newest> <script> [args...]
# The script runs under busybox sh with the test environment
# (LOOSETRACE_KO, KVM_MODULE_DIR, PATH=/bin holding the static tools).
# Exits with the script's status; 1 if the VM failed to set up or the
# kernel log turned bad, 124 if the VM did not finish.
# Environment: see run-vm.sh and mkinitramfs.sh (VM_EXTRA_BIN, VM_MEM...).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

usage="usage: run-in-vm.sh <kernel release | newest> <script> [args...]"
rel=${1:?$usage}
script=${2:?$usage}
shift 2
[ -r "$script" ] || { echo "run-in-vm.sh: cannot read $script" >&2; exit 2; }

if [ "$rel" = newest ]; then
	# The newest kernel with both an image and a built module.
	rel=$(for ko in "$BUILD"/kmod/*/loosetrace.ko; do
		r=$(basename "$(dirname "$ko")")
		# no image (make check-debug's kernel): not a candidate, and
		# not the loop's status either (pipefail)
		if [ -r "${KROOT:-}/boot/vmlinuz-$r" ]; then
			echo "$r"
		fi
	done | sort -V | tail -n 1)
	[ -n "$rel" ] || { echo "run-in-vm.sh: no kernel with a built module: run make" >&2; exit 2; }
fi

# Shows the script's output only; reports the VM's own checks that failed.
"$TOP/selftests/vm/run-vm.sh" "$rel" "$script" "$@" | awk -v rel="$rel" '
	/^LTVM-SCRIPT-BEGIN/ { printf "[loosetrace test VM, kernel %s]\n", rel; inside = 1; fflush(); next }
	/^LTVM-SCRIPT-RC / { rc = $2; inside = 0; next }
	/^LTVM-CHECK not ok / { sub(/^LTVM-CHECK /, ""); print "run-in-vm.sh: " $0 > "/dev/stderr"; bad = 1; next }
	/^LTVM-DONE/ { done = 1; next }
	/^# kmsg: / { print > "/dev/stderr"; next }
	inside { print; fflush(); next }
	{ tail[n++ % 60] = $0 }
	END {
		if (!done) {
			print "run-in-vm.sh: the VM did not finish (panic or timeout); its console ended with:" > "/dev/stderr"
			for (i = (n > 60 ? n - 60 : 0); i < n; i++)
				print "  " tail[i % 60] > "/dev/stderr"
			exit 124
		}
		if (rc != "" && rc != 0)
			exit rc
		exit bad ? 1 : (rc == "" ? 1 : 0)
	}'
