#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: builds the trace engine benchmark and the convergence
# benchmark (bench_converge.c), boots the test VM on every installed
# kernel (or KVERS="<release> ...") with kvm-amd and loosetrace.ko
# loaded, runs them there and prints their tables.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD

make -s -C "$TOP/bench/engine" BUILD="$BUILD/bench/engine"

kvers=${KVERS:-$(cd /lib/modules && for d in */build; do echo "${d%/build}"; done)}
script=$(mktemp "${TMPDIR:-/tmp}/lt-bench.XXXXXX")
trap 'rm -f "$script"' EXIT
cat > "$script" <<'SCRIPT'
lt-bench-engine && lt-bench-converge
SCRIPT

status=0
for k in $kvers; do
	echo "== kernel $k"
	out=$(VM_SUITES=none VM_EXTRA_BIN="$BUILD/bench/engine/bin" VM_TIMEOUT=1800 \
		"$TOP/selftests/vm/run-vm.sh" "$k" "$script") || status=1
	# The table and the script's status; not the VM's own chatter.
	printf '%s\n' "$out" | sed -n '/^Trace engine benchmark/,/^LTVM-SCRIPT-RC/p' |
		grep -v -e '^LTVM-' -e '^bench: '
	rc=$(printf '%s\n' "$out" | sed -n 's/^LTVM-SCRIPT-RC //p')
	if [ "$rc" != 0 ]; then
		printf '%s\n' "$out" | grep -E '^bench:|LTVM-CHECK not ok' >&2 || true
		echo "benchmark failed on $k (rc=${rc:-none})" >&2
		status=1
	fi
done
exit $status
