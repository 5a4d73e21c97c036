#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What kmod/symbols.c assumes about Debian's 6.12 kvm.ko, checked on the
# installed binary (TAP).
#
# The module calls three unexported kvm.ko functions (kmod/kvm_symbols.h)
# through pointers. 6.12 is built with CONFIG_X86_KERNEL_IBT: objtool
# lists in .ibt_endbr_seal every function-entry ENDBR64 whose address
# kvm.ko never takes, and the kernel overwrites those with a NOP when it
# loads kvm.ko, so an indirect call there faults on a CPU that enforces
# IBT. The module therefore refuses to load on such a CPU when a target's
# first bytes are not ENDBR64 (lt_check_ibt()), and the documentation
# says it does on 6.12. This test fails if that premise is wrong for the
# shipped kvm.ko: a target missing from the seal list (or not starting
# with ENDBR64 before sealing), a kernel without IBT, or a seal list that
# the check could not tell apart from an ordinary address-taken function.
# It skips only when no 6.12 kvm.ko is installed.
set -u

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
ENDBR64="f3 0f 1e fa"
# Exported, so its address is taken (__ksymtab): it must keep its ENDBR64.
CONTROL=kvm_vcpu_kick

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1"; }
check() { # <description> <command...>
	local what=$1

	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

echo "TAP version 13"
mapfile -t kos < <(ls /lib/modules/6.12.*/kernel/arch/x86/kvm/kvm.ko* 2>/dev/null)
if [ ${#kos[@]} -eq 0 ]; then
	echo "1..0 # SKIP no 6.12 kvm.ko installed (/lib/modules/6.12.*/kernel/arch/x86/kvm/)"
	exit 4
fi

# The names symbols.c resolves on 6.12: every LT_SYM_* of the header but
# those of another line (a _<major>_<minor> suffix other than _6_12).
mapfile -t names < <(sed -n 's/^#define[[:space:]]\{1,\}\(LT_SYM_[A-Z0-9_]*\)[[:space:]]\{1,\}"\([^"]*\)"$/\1 \2/p' \
	"$TOP/kmod/kvm_symbols.h" | awk '$1 !~ /_[0-9]+_[0-9]+$/ || $1 ~ /_6_12$/ { print $2 }')
per_ko=$((3 + ${#names[@]}))
echo "1..$((1 + ${#kos[@]} * per_ko))"
check "kmod/kvm_symbols.h names the 6.12 functions (${names[*]})" \
	test ${#names[@]} -ge 3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unpack() { # <kvm.ko*> <out>
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac > "$2"
}

# "<section index> <value>" of a defined function symbol, or nothing.
func_sym() { # <ko> <name>
	readelf -sW "$1" | awk -v s="$2" '$8 == s && $4 == "FUNC" && $7 ~ /^[0-9]+$/ { print $7, $2; exit }'
}

# Name and file offset of section <index>.
section() { # <ko> <index>
	readelf -SW "$1" | sed 's/^ *\[ *\([0-9]*\)\]/\1/' |
		awk -v i="$2" '$1 == i { print $2, $5; exit }'
}

# The first four bytes of a function in the file, as "f3 0f 1e fa".
first_bytes() { # <ko> <section index> <value>
	local sec off

	read -r sec off < <(section "$1" "$2")
	od -An -tx1 -j $((0x$off + 0x$3)) -N4 "$1" | xargs
}

# Every sealed location, as "<section name> <offset>" (hex, no 0x). The
# relocations name a section symbol and an addend: the ENDBR is there.
seals() { # <ko>
	readelf -rW "$1" |
		awk '/^Relocation section/ { f = index($0, "\047.rela.ibt_endbr_seal\047") > 0; next }
		     f && $3 == "R_X86_64_PC32" && $6 == "+" { print $5, $7 }'
}

# Hex without leading zeros ("0" for zero), for comparing offsets.
hexnorm() {
	awk '{ sub(/^0+/, ""); print ($0 == "" ? "0" : $0) }'
}

sealed() { # <seals file> <section name> <value>
	grep -qxF "$2 $(echo "$3" | hexnorm)" "$1"
}

for ko in "${kos[@]}"; do
	rel=${ko#/lib/modules/}
	rel=${rel%%/*}
	obj=$work/kvm.ko
	unpack "$ko" "$obj"
	seals "$obj" | while read -r sec off; do
		echo "$sec $(echo "$off" | hexnorm)"
	done > "$work/seals"
	nseals=$(wc -l < "$work/seals")

	# The kernel this kvm.ko belongs to seals at all.
	check "$rel: built with CONFIG_X86_KERNEL_IBT=y" \
		grep -qx 'CONFIG_X86_KERNEL_IBT=y' "/boot/config-$rel" \
		"/lib/modules/$rel/build/.config"
	check "$rel: kvm.ko has an .ibt_endbr_seal list ($nseals entries)" \
		test "$nseals" -gt 0

	# The check tells sealed functions from callable ones: an
	# address-taken function keeps its ENDBR64 and is not listed.
	read -r idx val < <(func_sym "$obj" "$CONTROL")
	bytes=
	[ -n "${idx:-}" ] && bytes=$(first_bytes "$obj" "$idx" "$val")
	read -r secname _ < <(section "$obj" "${idx:-x}")
	if [ -n "${idx:-}" ] && [ "$bytes" = "$ENDBR64" ] &&
	   ! sealed "$work/seals" "$secname" "$val"; then
		ok "$rel: $CONTROL (address taken) starts with ENDBR64 and is not sealed"
	else
		not_ok "$rel: $CONTROL (address taken) starts with ENDBR64 and is not sealed (symbol ${idx:-missing} ${val:-}, bytes '$bytes')"
	fi

	for name in "${names[@]}"; do
		idx= val=
		read -r idx val < <(func_sym "$obj" "$name")
		if [ -z "$idx" ]; then
			not_ok "$rel: $name is a function of kvm.ko"
			continue
		fi
		bytes=$(first_bytes "$obj" "$idx" "$val")
		read -r secname _ < <(section "$obj" "$idx")
		val=$(echo "$val" | hexnorm)
		if [ "$bytes" != "$ENDBR64" ]; then
			not_ok "$rel: $name starts with ENDBR64 before sealing (found '$bytes')"
		elif ! sealed "$work/seals" "$secname" "$val"; then
			not_ok "$rel: $name is sealed ($secname+0x$val not in .ibt_endbr_seal: symbols.c's refusal on IBT CPUs and engine.rst are out of date)"
		else
			ok "$rel: $name is sealed ($secname+0x$val): on an IBT CPU the module must refuse to load"
		fi
	done
done
exit $failed
