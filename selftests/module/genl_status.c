// SPDX-License-Identifier: GPL-2.0
/*
 * STATUS_GET through libnl-genl-3: resolve the family by name, send the
 * request, parse the single reply, wait for the acknowledgment.
 */
#include <errno.h>
#include <string.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <linux/loosetrace.h>

#include "genl_status.h"

struct lt_request {
	struct lt_status *st;
	int err;
	int done;
};

static struct nl_sock *lt_connect(int *family)
{
	struct nl_sock *sk;

	sk = nl_socket_alloc();
	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	*family = genl_ctrl_resolve(sk, LOOSETRACE_GENL_NAME);
	return sk;
}

int lt_family_id(void)
{
	struct nl_sock *sk;
	int family;

	sk = lt_connect(&family);
	if (!sk)
		return -ENOMEM;
	nl_socket_free(sk);
	/* libnl reports an unknown family as NLE_OBJ_NOTFOUND. */
	return family < 0 ? -ENOENT : family;
}

int lt_events_group_id(void)
{
	struct nl_sock *sk;
	int family, grp;

	sk = lt_connect(&family);
	if (!sk)
		return -ENOMEM;
	grp = genl_ctrl_resolve_grp(sk, LOOSETRACE_GENL_NAME,
				    LOOSETRACE_MCGRP_EVENTS);
	nl_socket_free(sk);
	return grp < 0 ? -ENOENT : grp;
}

static void copy_string(char *dst, size_t size, struct nlattr *nla)
{
	if (!nla) {
		dst[0] = '\0';
		return;
	}
	nla_strlcpy(dst, nla, size);
}

static int on_status(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gnlh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];
	struct lt_request *req = arg;
	struct lt_status *st = req->st;

	if (!st)
		return NL_OK;
	if (nla_parse(tb, LOOSETRACE_A_MAX, genlmsg_attrdata(gnlh, 0),
		      genlmsg_attrlen(gnlh, 0), NULL)) {
		req->err = -EBADMSG;
		return NL_SKIP;
	}
	copy_string(st->module_version, sizeof(st->module_version),
		    tb[LOOSETRACE_A_MODULE_VERSION]);
	copy_string(st->kernel_release, sizeof(st->kernel_release),
		    tb[LOOSETRACE_A_KERNEL_RELEASE]);
	st->has_proto_version = !!tb[LOOSETRACE_A_PROTO_VERSION];
	if (st->has_proto_version)
		st->proto_version = nla_get_u32(tb[LOOSETRACE_A_PROTO_VERSION]);
	st->has_vm_count = !!tb[LOOSETRACE_A_VM_COUNT];
	if (st->has_vm_count)
		st->vm_count = nla_get_u32(tb[LOOSETRACE_A_VM_COUNT]);
	st->has_bitmap_version = !!tb[LOOSETRACE_A_BITMAP_VERSION];
	if (st->has_bitmap_version)
		st->bitmap_version =
			nla_get_u32(tb[LOOSETRACE_A_BITMAP_VERSION]);
	return NL_OK;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct lt_request *req = arg;

	req->err = err->error;
	req->done = 1;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct lt_request *req = arg;

	req->done = 1;
	return NL_STOP;
}

static int lt_request(uint8_t cmd, struct lt_status *st)
{
	struct lt_request req = { .st = st };
	struct nl_msg *msg = NULL;
	struct nl_sock *sk;
	int family, ret;

	sk = lt_connect(&family);
	if (!sk)
		return -ENOMEM;
	if (family < 0) {
		ret = -ENOENT;
		goto out;
	}
	msg = nlmsg_alloc();
	if (!msg ||
	    !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd,
			 LOOSETRACE_GENL_VERSION)) {
		ret = -ENOMEM;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_status, &req);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &req);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, &req);
	/* nl_send_auto() asks for an acknowledgment (NLM_F_ACK). */
	ret = nl_send_auto(sk, msg);
	if (ret < 0) {
		ret = -EIO;
		goto out;
	}
	ret = 0;
	while (!req.done && ret >= 0)
		ret = nl_recvmsgs_default(sk);
	if (ret < 0 && !req.err)
		ret = -EIO;
	else
		ret = req.err;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

int lt_status_get(struct lt_status *st)
{
	memset(st, 0, sizeof(*st));
	return lt_request(LOOSETRACE_CMD_STATUS_GET, st);
}

int lt_send_cmd(uint8_t cmd)
{
	return lt_request(cmd, NULL);
}
