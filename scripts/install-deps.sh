#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs, with apt, everything loosetrace needs on Debian 12 to build,
# run the demo and run the tests. Run as root. The package list lives only
# here: the README's commands and .ci/run both call this script.
#   install-deps.sh                  what make check needs
#   install-deps.sh --debug-kernel   and what make check-debug needs to
#                                    build its kernels (both lines' source)
set -euo pipefail

packages=(
	# build: C toolchain, the module's kernel headers (both Debian 12
	# kernel lines), libnl for the agent and the tests
	build-essential pkg-config kmod
	linux-headers-amd64 linux-headers-6.12-amd64
	libnl-3-dev libnl-genl-3-dev libbpf-dev
	# the agent's reconcile pass hashes pages with XXH3
	libxxhash-dev
	# guest impact: a BPF program (clang below) on KVM's tracepoints,
	# its skeleton from bpftool, libbpf linked static (libelf, zlib)
	bpftool libelf-dev zlib1g-dev
	# the QEMU selftests' QMP client (static archive)
	libjson-c-dev
	# the test VM: QEMU, the kernel images it boots, its initramfs
	qemu-system-x86 linux-image-amd64 linux-image-6.12-amd64
	busybox-static cpio xz-utils gzip iproute2
	# kselftest headers and checkpatch.pl come from the kernel source
	linux-source
	# codec fuzzing and benchmark baselines
	clang libclang-rt-14-dev libzstd-dev liblz4-dev libroaring-dev
)
# make check-debug builds debug kernels (scripts/build-debug-kernel.sh)
debug_kernel_packages=(
	linux-source-6.12 linux-source-6.1
	bc bison flex libelf-dev libssl-dev
)
case ${1:-} in
"") ;;
--debug-kernel) packages+=("${debug_kernel_packages[@]}") ;;
*)
	echo "usage: install-deps.sh [--debug-kernel]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (apt-get needs it)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A mirror that hiccups (or syncs under us) gets three more chances.
apt_opts=(-o Acquire::Retries=5)
for try in 1 2 3 4; do
	if apt-get "${apt_opts[@]}" update &&
	   apt-get "${apt_opts[@]}" install -y --no-install-recommends \
		"${packages[@]}"; then
		exit 0
	fi
	[ "$try" = 4 ] && break
	echo "install-deps.sh: apt-get failed (attempt $try of 4), again in $((try * 15)) s" >&2
	sleep $((try * 15))
done
echo "install-deps.sh: could not install the packages" >&2
exit 1
