#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the QEMU test guest's initramfs: busybox (busybox-static), the
# init of this directory and lt-qguest.
#   mkinitrd.sh <output .cpio.gz> <lt-qguest binary>
set -euo pipefail

out=${1:?usage: mkinitrd.sh <output> <lt-qguest>}
prog=${2:?usage: mkinitrd.sh <output> <lt-qguest>}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "no $busybox: apt-get install busybox-static" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/lt-qguest-initrd.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
cp "$prog" "$root/bin/lt-qguest"
cp "$(dirname "$0")/init" "$root/init"
chmod 755 "$root/init" "$root/bin/lt-qguest"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
