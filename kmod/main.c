// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace: loose write-protect page tracing for KVM live migration.
 *
 * Module entry points: load-time checks, the VM registry and the generic
 * netlink family, set up and torn down in that order.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>
#include <linux/loosetrace.h>

#include "loosetrace.h"

static int __init loosetrace_init(void)
{
	int ret;

	ret = lt_symbols_init();
	if (ret)
		return ret;

	ret = lt_hook_init();
	if (ret)
		return ret;

	ret = lt_vm_init();
	if (ret) {
		pr_err("cannot register the netlink notifier: %d\n", ret);
		lt_hook_exit();
		return ret;
	}

	ret = loosetrace_genl_init();
	if (ret) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		lt_vm_exit();
		lt_hook_exit();
		return ret;
	}
	pr_info("version %s loaded (kernel line %s)\n", LOOSETRACE_VERSION,
		LT_KERNEL_LINE);
	return 0;
}

/*
 * Every VM is detached (and told so on the events group) while the family
 * still exists; attaching is refused from then on.
 */
static void __exit loosetrace_exit(void)
{
	lt_vm_exit();
	loosetrace_genl_exit();
	lt_hook_exit();
	pr_info("unloaded\n");
}

module_init(loosetrace_init);
module_exit(loosetrace_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Loose write-protect page tracing for KVM live migration");
MODULE_VERSION(LOOSETRACE_VERSION);
MODULE_ALIAS_GENL_FAMILY(LOOSETRACE_GENL_NAME);
