#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: boots the test VM on the newest installed kernel, loads
# kvm, kvm-amd and loosetrace.ko there, and shows what the module reports
# about itself over its generic netlink family.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD
# loosetrace-status is built with the module selftests.
export VM_EXTRA_BIN="${VM_EXTRA_BIN:-} $BUILD/selftests/module/bin"

script=$(mktemp "${TMPDIR:-/tmp}/loosetrace-demo.XXXXXX")
trap 'rm -f "$script"' EXIT
cat > "$script" <<'SCRIPT'
set -e
echo "== KVM next to loosetrace"
flags=$(grep -m 1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -e svm -e npt | tr '\n' ' ')
echo "CPU flags: $flags; $(ls /dev/kvm)"
lsmod | grep -E '^(loosetrace|kvm_amd|kvm) '
echo "== loosetrace status (generic netlink family \"loosetrace\")"
loosetrace-status
SCRIPT
exec "$TOP/selftests/vm/run-in-vm.sh" "${DEMO_KERNEL:-newest}" "$script"
