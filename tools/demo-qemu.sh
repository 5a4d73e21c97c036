#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo-qemu`: boots the test VM on the newest installed kernel
# (kvm, kvm-amd and loosetrace.ko loaded there) with Debian's unmodified
# QEMU inside it, boots a Linux guest in that QEMU (Debian's kernel, a
# busybox initramfs and lt-qguest, which writes its memory and checks
# it), and live-migrates it to a second QEMU through two
# loosetrace-agents: loosetrace moves the RAM, QEMU's own migration the
# devices. Prints the QEMU command lines, agentctl check's verdict,
# agentctl migrate's summary and the destination guest's verification of
# every page (selftests/qemu/demo.c).
#
# DEMO_KERNEL=<release> picks the kernel.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
export BUILD
# QEMU, its firmware and the guest come with the qemu suite's files.
export VM_SUITES=qemu
export VM_EXTRA_BIN="${VM_EXTRA_BIN:-} $BUILD/selftests/qemu/bin"
# One CPU: on two, the emulator delivers some of the nested guest's
# interrupts twice and most of its boots hang (Documentation/qemu.rst).
export VM_SMP=${VM_SMP:-1}

script=$(mktemp "${TMPDIR:-/tmp}/loosetrace-demo-qemu.XXXXXX")
trap 'rm -f "$script"' EXIT
cat > "$script" <<'SCRIPT'
set -e
echo "== $(qemu-system-x86_64 --version | head -n 1), KVM nested in the test VM"
lsmod | grep -E '^(loosetrace|kvm_amd|kvm) '
lt-qemu-demo
SCRIPT
exec "$TOP/selftests/vm/run-in-vm.sh" "${DEMO_KERNEL:-newest}" "$script"
