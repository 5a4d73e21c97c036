#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the debug kernel of `make check-debug` from Debian's linux-source
# package, once, into a cache outside the source tree:
#   build-debug-kernel.sh [line]      line: 6.12 (default) or 6.1
# and prints the directory that holds it, laid out like a root file
# system: boot/vmlinuz-<release> and lib/modules/<release>/ with the
# modules and a "build" link to the built tree that out-of-tree modules
# build against. The kernel's release is in that directory's "release".
#
# The configuration is allnoconfig plus selftests/vm/debug-kernel.config
# (KASAN, lockdep, kmemleak, debug objects...). A build is kept under a
# key made of that fragment, the recipe below (bump it when a change to
# this script changes what gets built), the linux-source package's
# version and the compiler's: it is rebuilt only when one changes, and an
# interrupted build resumes.
#
# Environment:
#   LT_DEBUG_KERNEL_CACHE  cache directory (default:
#                          ${XDG_CACHE_HOME:-~/.cache}/loosetrace/debug-kernel)
#   LT_DEBUG_KERNEL_JOBS   make -j (default: the number of CPUs)
# Missing build dependencies are installed (install-deps.sh --debug-kernel)
# when run as root.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
line=${1:-6.12}
fragment=$TOP/selftests/vm/debug-kernel.config
cache=${LT_DEBUG_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loosetrace/debug-kernel}
jobs=${LT_DEBUG_KERNEL_JOBS:-$(nproc)}
pkg=linux-source-$line
tarball=/usr/src/$pkg.tar.xz

recipe=1

say() { echo "build-debug-kernel.sh: $*" >&2; }

# What a kernel build needs beyond make check's packages: the source
# and the tools of its build (install-deps.sh --debug-kernel has them).
have_deps() {
	[ -r "$tarball" ] && command -v bc && command -v bison &&
		command -v flex && [ -f /usr/include/libelf.h ] &&
		[ -f /usr/include/openssl/ssl.h ]
} > /dev/null
if ! have_deps; then
	if [ "$(id -u)" != 0 ]; then
		say "missing build dependencies: run scripts/install-deps.sh --debug-kernel as root"
		exit 1
	fi
	say "installing the build dependencies"
	"$TOP/scripts/install-deps.sh" --debug-kernel >&2
fi
[ -r "$tarball" ] || { say "no $tarball (package $pkg)"; exit 1; }

key=$({
	cat "$fragment"
	echo "recipe $recipe"
	dpkg-query -W -f '${Version}\n' "$pkg"
	gcc --version | head -n 1
} | sha256sum | cut -c 1-16)
dir=$cache/$line-$key
mkdir -p "$dir"

# One build per key at a time; a second caller waits and reuses it.
exec 9> "$dir/lock"
flock 9
if [ -f "$dir/complete" ]; then
	echo "$dir"
	exit 0
fi

src=$dir/src obj=$dir/obj
if [ ! -f "$dir/extracted" ]; then
	say "extracting $tarball into $src"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
	touch "$dir/extracted"
fi

kmake() { nice -n 10 make -C "$src" O="$obj" -j"$jobs" "$@"; }

mkdir -p "$obj"
say "configuring (allnoconfig + $(basename "$fragment"))"
KCONFIG_ALLCONFIG=$fragment kmake allnoconfig > "$dir/config.log" 2>&1 ||
	{ cat "$dir/config.log" >&2; exit 1; }
# Every option the fragment names must have come out as written: Kconfig
# drops silently what a dependency does not allow.
bad=0
while read -r l; do
	case $l in
	CONFIG_*=*)
		grep -qxF "$l" "$obj/.config" || {
			say "wanted $l, got: $(grep "^${l%%=*}=" "$obj/.config" || echo unset)"
			bad=1
		}
		;;
	"# CONFIG_"*" is not set")
		opt=${l#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$obj/.config"; then
			say "wanted $opt unset, got: $(grep "^$opt=" "$obj/.config")"
			bad=1
		fi
		;;
	esac
done < "$fragment"
[ "$bad" = 0 ] || { say "the configuration lacks options it needs"; exit 1; }

say "building in $obj (log: $dir/build.log)"
t0=$(date +%s)
kmake bzImage modules > "$dir/build.log" 2>&1 ||
	{ tail -n 40 "$dir/build.log" >&2; exit 1; }
rel=$(cat "$obj/include/config/kernel.release")
rm -rf "$dir/lib" "$dir/boot"
kmake INSTALL_MOD_PATH="$dir" modules_install >> "$dir/build.log" 2>&1 ||
	{ tail -n 40 "$dir/build.log" >&2; exit 1; }
install -D -m 644 "$obj/arch/x86/boot/bzImage" "$dir/boot/vmlinuz-$rel"
# modules_install links "build" to the object tree: out-of-tree modules
# (loosetrace.ko) build against it.
ln -sfn "$obj" "$dir/lib/modules/$rel/build"
echo "$rel" > "$dir/release"
echo "$(($(date +%s) - t0))" > "$dir/build.seconds"
touch "$dir/complete"
say "built $rel in $(cat "$dir/build.seconds") s"
echo "$dir"
