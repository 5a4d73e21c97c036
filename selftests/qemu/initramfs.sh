# SPDX-License-Identifier: GPL-2.0
#
# Sourced by selftests/vm/mkinitramfs.sh when a program of this suite
# goes into the test VM ($root, $rel, $BUILD and copy_host_program come
# from there): Debian's QEMU with its shared libraries, the firmware the
# suite's command lines load (SeaBIOS, the std VGA BIOS, the option ROMs
# QEMU adds for KVM and -kernel), and the guest: this kernel's own image
# and the busybox initramfs of tools/qemu-guest. About 60 MiB unpacked,
# so only for this suite.

copy_host_program qemu-system-x86_64
for fw in /usr/share/seabios/bios-256k.bin \
	/usr/share/seabios/vgabios-stdvga.bin \
	/usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot_dma.bin; do
	[ -r "$fw" ] || { echo "no $fw: apt-get install qemu-system-x86" >&2; exit 1; }
	cp -L --parents "$fw" "$root/"
done
l2=$BUILD/selftests/qemu/l2/l2-initrd.cpio.gz
[ -r "$l2" ] || { echo "no $l2: run make selftests" >&2; exit 1; }
mkdir -p "$root/lib/qemu-guest"
cp "${KROOT:-}/boot/vmlinuz-$rel" "$root/lib/qemu-guest/vmlinuz"
cp "$l2" "$root/lib/qemu-guest/initrd.cpio.gz"
