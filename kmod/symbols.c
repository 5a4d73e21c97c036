// SPDX-License-Identifier: GPL-2.0
/*
 * Load-time checks: the running kernel is of the line the module was built
 * for, the KVM functions that KVM does not export can be found, and they
 * can be called indirectly on this CPU.
 *
 * KVM internals are not a stable interface, so the module refuses to load
 * anywhere else rather than call into code whose contract it has not read.
 * Unexported functions (kvm_symbols.h) are found through a kprobe on the
 * name (the kprobe is removed at once: it only serves as a name-to-address
 * lookup).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/string.h>
#include <asm/cpufeature.h>

#include "compat.h"
#include "loosetrace.h"

struct lt_symbols lt_sym;

/*
 * With CONFIG_X86_KERNEL_IBT (6.12 on Debian), a kprobe's address is moved
 * past the ENDBR64 at the start of the function (or past the NOP that
 * replaced it, see lt_check_ibt()). sprint_symbol() tells the offset into
 * the symbol, so the function's real start is recovered and the name the
 * address belongs to is checked again.
 */
static unsigned long lt_symbol_start(const char *name, unsigned long addr)
{
	char buf[KSYM_SYMBOL_LEN];
	unsigned long offset;
	size_t len = strlen(name);
	char *plus;

	sprint_symbol(buf, addr);
	if (strncmp(buf, name, len) || buf[len] != '+')
		return 0;
	plus = buf + len + 1;
	if (sscanf(plus, "0x%lx/", &offset) != 1 || offset > 16)
		return 0;
	return addr - offset;
}

static unsigned long lt_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	return addr ? lt_symbol_start(name, addr) : 0;
}

/* ENDBR64 (f3 0f 1e fa) as a little-endian u32. */
#define LT_ENDBR64	0xfa1e0ff3U

/*
 * The module calls these functions through pointers. On a CPU that
 * enforces indirect branch tracking (Intel Tiger Lake and later, with
 * CONFIG_X86_KERNEL_IBT) an indirect call must land on an ENDBR64, or the
 * kernel BUG()s with "Missing ENDBR". objtool "seals" the ENDBR of every
 * function whose address is never taken in its own module, and the kernel
 * overwrites a sealed ENDBR with a 4-byte NOP when it loads the module:
 * Debian's 6.12 kvm.ko seals all three functions of kvm_symbols.h
 * (selftests/kmod-host checks that). No call through a pointer can reach
 * them then, and patching kvm.ko's text is not an option, so the module
 * refuses to load on such a CPU instead of crashing in TRACE_START with
 * the VM's lock held. Where IBT is not enforced (AMD, older Intel, 6.1,
 * ibt=off) an indirect call needs no ENDBR and the NOP is harmless.
 */
static int lt_check_ibt(const char *name, unsigned long addr)
{
	u32 insn;

	if (!cpu_feature_enabled(X86_FEATURE_IBT))
		return 0;
	if (copy_from_kernel_nofault(&insn, (void *)addr, sizeof(insn)))
		insn = 0;
	if (insn == LT_ENDBR64)
		return 0;
	pr_err("%s in kvm.ko has no ENDBR64 (kvm.ko sealed it) and this CPU enforces indirect branch tracking: calling it would crash the kernel, refusing to load (booting with ibt=off lifts this)\n",
	       name);
	return -EOPNOTSUPP;
}

/* Finds an unexported kvm.ko function, or fails with a message. */
static int lt_resolve(const char *name, unsigned long *addr)
{
	*addr = lt_lookup(name);
	if (!*addr) {
		pr_err("cannot resolve %s in kvm.ko: refusing to load\n", name);
		return -ENOENT;
	}
	return lt_check_ibt(name, *addr);
}

/* Every function of kvm_symbols.h, and where it goes in lt_sym. */
static const struct {
	const char *name;
	size_t offset;
} lt_kvm_symbols[] = {
	{ LT_SYM_ENABLE_LOG_DIRTY,
	  offsetof(struct lt_symbols, enable_log_dirty) },
	{ LT_SYM_FLUSH_MEMSLOT, offsetof(struct lt_symbols, flush_memslot) },
	{ LT_SYM_CPU_DIRTY_LOG_SIZE,
	  offsetof(struct lt_symbols, cpu_dirty_log_size) },
};

static int lt_check_kernel_line(void)
{
	unsigned int major, minor;
	const char *release = init_utsname()->release;

	if (sscanf(release, "%u.%u", &major, &minor) != 2 ||
	    major != LT_KERNEL_MAJOR || minor != LT_KERNEL_MINOR) {
		pr_err("built for the %s kernel line, running %s: refusing to load\n",
		       LT_KERNEL_LINE, release);
		return -ENODEV;
	}
	return 0;
}

int lt_symbols_init(void)
{
	unsigned long addr;
	int i, ret;

	/* Each member of lt_sym is a function pointer, stored as its address. */
	BUILD_BUG_ON(sizeof(struct lt_symbols) !=
		     ARRAY_SIZE(lt_kvm_symbols) * sizeof(addr));

	ret = lt_check_kernel_line();
	if (ret)
		return ret;

	for (i = 0; i < ARRAY_SIZE(lt_kvm_symbols); i++) {
		ret = lt_resolve(lt_kvm_symbols[i].name, &addr);
		if (ret)
			return ret;
		memcpy((char *)&lt_sym + lt_kvm_symbols[i].offset, &addr,
		       sizeof(addr));
	}
	return 0;
}
