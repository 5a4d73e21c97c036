// SPDX-License-Identifier: GPL-2.0
/*
 * The "loosetrace" generic netlink family: policies, operations and the
 * events multicast group. The protocol is described in
 * uapi/linux/loosetrace.h and Documentation/netlink.rst.
 */

#include <linux/module.h>
#include <linux/utsname.h>
#include <net/genetlink.h>
#include <linux/loosetrace.h>

#include "loosetrace.h"

static const struct nla_policy loosetrace_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_FD]		= { .type = NLA_S32 },
	[LOOSETRACE_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LOOSETRACE_A_MODE]		= NLA_POLICY_MAX(NLA_U32,
							 LOOSETRACE_MODE_SYNC),
	[LOOSETRACE_A_DEADLINE_US]	= { .type = NLA_U32 },
	[LOOSETRACE_A_EPOCH]		= { .type = NLA_U64 },
	[LOOSETRACE_A_GFN_START]	= { .type = NLA_U64 },
	[LOOSETRACE_A_GFN_COUNT]	= { .type = NLA_U64 },
};

static struct genl_family loosetrace_family;

static int loosetrace_status_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &loosetrace_family, 0,
				LOOSETRACE_CMD_STATUS_GET);
	if (!hdr)
		goto err_free;

	if (nla_put_string(msg, LOOSETRACE_A_MODULE_VERSION,
			   LOOSETRACE_VERSION) ||
	    nla_put_u32(msg, LOOSETRACE_A_PROTO_VERSION,
			LOOSETRACE_GENL_VERSION) ||
	    nla_put_string(msg, LOOSETRACE_A_KERNEL_RELEASE,
			   init_utsname()->release) ||
	    nla_put_u32(msg, LOOSETRACE_A_VM_COUNT, 0))
		goto err_cancel;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_cancel:
	genlmsg_cancel(msg, hdr);
err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_ops loosetrace_ops[] = {
	{
		.cmd = LOOSETRACE_CMD_STATUS_GET,
		.doit = loosetrace_status_get,
	},
};

static const struct genl_multicast_group loosetrace_mcgrps[] = {
	{ .name = LOOSETRACE_MCGRP_EVENTS },
};

static struct genl_family loosetrace_family __ro_after_init = {
	.name		= LOOSETRACE_GENL_NAME,
	.version	= LOOSETRACE_GENL_VERSION,
	.maxattr	= LOOSETRACE_A_MAX,
	.policy		= loosetrace_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.ops		= loosetrace_ops,
	.n_ops		= ARRAY_SIZE(loosetrace_ops),
	.resv_start_op	= LOOSETRACE_CMD_MAX + 1,
	.mcgrps		= loosetrace_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(loosetrace_mcgrps),
};

int __init loosetrace_genl_init(void)
{
	return genl_register_family(&loosetrace_family);
}

void loosetrace_genl_exit(void)
{
	genl_unregister_family(&loosetrace_family);
}
