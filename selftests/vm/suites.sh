# SPDX-License-Identifier: GPL-2.0
#
# Which suites exist and where they run; sourced by run_checks.sh and
# vm/mkinitramfs.sh. A suite is a directory selftests/<suite>/ with a
# Makefile. Host suites run on the build machine (make ... run), never in
# the VM: the codec suite, and every suite whose name ends in "-host".

# Prints every suite's name, one a line, sorted.
all_suites() {
	local mk

	for mk in "$TOP"/selftests/*/Makefile; do
		[ -f "$mk" ] && basename "$(dirname "$mk")"
	done
}

# Succeeds if suite $1 runs on the host.
is_host_suite() {
	case $1 in
	codec | *-host) return 0 ;;
	*) return 1 ;;
	esac
}

# Succeeds if suite $1 runs only when VM_SUITES names it: the qemu
# suite, which the emulator under the test VM does not yet run reliably
# (Documentation/qemu.rst: on two CPUs most of its guest's boots hang,
# on one the test VM itself now and then wedges). run_checks.sh runs it
# in a boot of its own with one CPU.
is_optin_suite() {
	case $1 in
	qemu) return 0 ;;
	*) return 1 ;;
	esac
}
