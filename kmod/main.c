// SPDX-License-Identifier: GPL-2.0
/*
 * loosetrace: loose write-protect page tracing for KVM live migration.
 *
 * Module entry points: registration of the generic netlink family.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>
#include <linux/loosetrace.h>

#include "loosetrace.h"

static int __init loosetrace_init(void)
{
	int ret;

	ret = loosetrace_genl_init();
	if (ret) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		return ret;
	}
	pr_info("version %s loaded\n", LOOSETRACE_VERSION);
	return 0;
}

static void __exit loosetrace_exit(void)
{
	loosetrace_genl_exit();
	pr_info("unloaded\n");
}

module_init(loosetrace_init);
module_exit(loosetrace_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Loose write-protect page tracing for KVM live migration");
MODULE_VERSION(LOOSETRACE_VERSION);
MODULE_ALIAS_GENL_FAMILY(LOOSETRACE_GENL_NAME);
