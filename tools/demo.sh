#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: boots the test VM on the newest installed kernel (kvm,
# kvm-amd and loosetrace.ko loaded there), shows the module's status,
# then live-migrates a 2-vCPU guest of 64 MiB that keeps writing, in
# loose mode, from one network namespace to another through two
# loosetrace-agents, and prints the migration summary (every round, why
# pre-copy stopped, the switchover time) and the destination guest's
# verification verdict.
#
# The guest writes the way a migration that converges sees it: a hot set
# and a write rate limit (lt-agent-demo's default workload).
#
# DEMO_KERNEL=<release> picks the kernel; DEMO_MIB the guest size;
# DEMO_MODE loose (default) or sync; DEMO_WORKLOAD another workload
# ("mode all" arguments of lt-vmm), e.g. "random delay=20000" (a guest
# that never converges).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD
# loosetrace-status (module selftests) and lt-agent-demo (agent suite).
export VM_EXTRA_BIN="${VM_EXTRA_BIN:-} $BUILD/selftests/module/bin $BUILD/selftests/agent/bin"

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
echo "== live migration"
lt-agent-demo "$@"
SCRIPT
exec "$TOP/selftests/vm/run-in-vm.sh" "${DEMO_KERNEL:-newest}" "$script" \
	"${DEMO_MIB:-64}" "${DEMO_MODE:-loose}" ${DEMO_WORKLOAD:-}
