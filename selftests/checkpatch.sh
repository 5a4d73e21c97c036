#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make style`: the kernel's checkpatch.pl --strict over every C source
# and header of the tree. checkpatch.pl and its data files come from
# Debian's linux-source tarball, extracted once into build/checkpatch.
# Fails on any error, warning or check.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
dir=$BUILD/checkpatch

if [ ! -x "$dir/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	[ -n "$tarball" ] || { echo "no /usr/src/linux-source-*.tar.xz: apt-get install linux-source" >&2; exit 1; }
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -xJf "$tarball" -C "$dir.tmp" --wildcards --strip-components=2 \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi

cd "$TOP"
mapfile -t files < <(find kmod lib uapi agent tools selftests bench \
	-path '*/build' -prune -o -type f \( -name '*.c' -o -name '*.h' \) \
	-print 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || { echo "no C sources found" >&2; exit 1; }

# Userspace has no u32, BIT(), __printf() or strscpy(): its C types,
# <stdint.h>, plain attributes and libc's string functions are right
# there (6.12's checkpatch asks for strscpy). Kernel code (kmod/, lib/,
# uapi/) gets every check.
userspace_ignore=PREFER_KERNEL_TYPES,PREFER_DEFINED_ATTRIBUTE_MACRO,BIT_MACRO,STRCPY,STRNCPY

bad=0
for f in "${files[@]}"; do
	ignore=()
	case $f in
	agent/* | tools/* | selftests/* | bench/*)
		ignore=(--ignore "$userspace_ignore") ;;
	esac
	# Run from the build directory, where checkpatch.pl may leave its
	# CamelCase cache; GIT_DIR spares it a search of a kernel tree that
	# is not there. Paths are shown relative to the top.
	if ! out=$(cd "$dir" && GIT_DIR=$TOP/.git ./checkpatch.pl --strict --no-tree --quiet \
			--terse --show-types --no-summary "${ignore[@]}" \
			-f "$TOP/$f" 2>&1); then
		bad=1
	fi
	if [ -n "$out" ]; then
		echo "${out//$TOP\//}"
		bad=1
	fi
done
if [ "$bad" != 0 ]; then
	echo "checkpatch: problems found" >&2
	exit 1
fi
echo "checkpatch: ${#files[@]} files clean"
