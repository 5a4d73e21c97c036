// SPDX-License-Identifier: GPL-2.0
/*
 * Load-time checks: the running kernel is of the line the module was built
 * for, and the KVM functions that KVM does not export can be found.
 *
 * KVM internals are not a stable interface, so the module refuses to load
 * anywhere else rather than call into code whose contract it has not read.
 * Unexported functions are found through a kprobe on the name (the kprobe
 * is removed at once: it only serves as a name-to-address lookup).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/utsname.h>
#include <linux/string.h>

#include "compat.h"
#include "loosetrace.h"

struct lt_symbols lt_sym;

/*
 * With indirect branch tracking (6.12 on Debian), a kprobe's address is
 * moved past the ENDBR64 at the start of the function; calling that
 * address indirectly would fault. sprint_symbol() tells the offset into
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

/* The address of an unexported kvm.ko function, or 0 and a message. */
static unsigned long lt_resolve(const char *name)
{
	unsigned long addr = lt_lookup(name);

	if (!addr)
		pr_err("cannot resolve %s in kvm.ko: refusing to load\n", name);
	return addr;
}

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
	int ret;

	ret = lt_check_kernel_line();
	if (ret)
		return ret;

	lt_sym.enable_log_dirty = (lt_enable_log_dirty_fn)
		lt_resolve("kvm_arch_mmu_enable_log_dirty_pt_masked");
	lt_sym.flush_memslot = (lt_flush_memslot_fn)
		lt_resolve(LT_SYM_FLUSH_MEMSLOT);
	lt_sym.cpu_dirty_log_size = (lt_cpu_dirty_log_size_fn)
		lt_resolve("kvm_cpu_dirty_log_size");
	if (!lt_sym.enable_log_dirty || !lt_sym.flush_memslot ||
	    !lt_sym.cpu_dirty_log_size)
		return -ENOENT;
	return 0;
}
