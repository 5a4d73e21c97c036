// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink transport to loosetrace.ko (libnl-genl-3). The only
 * file of the agent that knows about netlink: callers pass and receive
 * the plain structs of ipc.h.
 *
 * libnl 3.7 neither asks for nor parses extended acks, so this file turns
 * on NETLINK_EXT_ACK itself and reads NLMSGERR_ATTR_MSG out of error and
 * NLMSG_DONE messages: the kernel's reason is what the user must see.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "ipc.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Per-request state shared by the receive callbacks. */
struct req {
	struct ipc *ipc;
	int done;
	int err;			/* -errno */
	int (*parse)(struct nlattr **tb, void *arg);
	void *arg;
};

/* libnl's NLE_* codes back to a negative errno */
static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_PERM:		return -EPERM;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_INVAL:		return -EINVAL;
	case NLE_RANGE:		return -ERANGE;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	case NLE_BUSY:		return -EBUSY;
	case NLE_NODEV:		return -ENODEV;
	case NLE_EXIST:		return -EEXIST;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	default:		return -EIO;
	}
}

/*
 * Copies NLMSGERR_ATTR_MSG from the TLVs that follow an nlmsgerr (or the
 * errno of an NLMSG_DONE) when the kernel set NLM_F_ACK_TLVS.
 */
static void save_extack(struct ipc *ipc, struct nlmsghdr *nlh, size_t hdrlen)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nlattr *attrs;
	int len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + hdrlen)
		return;
	attrs = (struct nlattr *)((char *)nlmsg_data(nlh) + hdrlen);
	len = nlh->nlmsg_len - NLMSG_HDRLEN - hdrlen;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG] && nla_len(tb[NLMSGERR_ATTR_MSG]) > 0) {
		snprintf(ipc->err_msg, sizeof(ipc->err_msg), "%.*s",
			 nla_len(tb[NLMSGERR_ATTR_MSG]),
			 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
		/* the kernel's string carries its NUL */
		ipc->err_msg[strcspn(ipc->err_msg, "\n")] = '\0';
	}
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct req *r = arg;
	size_t hdrlen = sizeof(*e);

	/* without NLM_F_CAPPED the request we sent is echoed after it */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hdrlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
	save_extack(r->ipc, nlh, hdrlen);
	r->err = e->error;
	r->done = 1;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct req *r = arg;

	r->done = 1;
	return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct req *r = arg;
	int err = 0;

	/* a dump that failed part-way reports its errno in NLMSG_DONE */
	if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
		memcpy(&err, nlmsg_data(nlh), sizeof(int));
	if (err < 0) {
		save_extack(r->ipc, nlh, sizeof(int));
		r->err = err;
	}
	r->done = 1;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];
	struct req *r = arg;
	int err;

	err = genlmsg_parse(nlmsg_hdr(msg), 0, tb, LOOSETRACE_A_MAX, NULL);
	if (err < 0) {
		r->err = -EBADMSG;
		return NL_SKIP;
	}
	if (r->parse) {
		err = r->parse(tb, r->arg);
		if (err < 0 && !r->err)
			r->err = err;
	}
	return NL_OK;
}

static struct nl_msg *req_new(struct ipc *ipc, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, ipc->family, 0,
			 flags, cmd, LOOSETRACE_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * Sends @msg (consumed) and receives until its ack, NLMSG_DONE or error;
 * each reply goes to @handler. Returns 0 or -errno.
 */
static int req_exchange(struct ipc *ipc, struct nl_msg *msg, struct req *r,
			nl_recvmsg_msg_cb_t handler, void *harg)
{
	struct nl_cb *cb;
	int err;

	ipc->err_msg[0] = '\0';
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, handler, harg);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);

	err = nl_send_auto(ipc->sk, msg);
	nlmsg_free(msg);
	if (err < 0) {
		nl_cb_put(cb);
		return nle_to_errno(err);
	}
	while (!r->done) {
		err = nl_recvmsgs(ipc->sk, cb);
		if (err < 0 && !r->done) {
			r->err = nle_to_errno(err);
			/* libnl's own word for what went wrong */
			if (!ipc->err_msg[0])
				snprintf(ipc->err_msg, sizeof(ipc->err_msg),
					 "netlink: %s", nl_geterror(err));
			break;
		}
	}
	nl_cb_put(cb);
	return r->err;
}

/*
 * Sends @msg (consumed) and receives until its ack, NLMSG_DONE or error.
 * Replies go to @parse. Returns 0 or -errno.
 */
static int req_run(struct ipc *ipc, struct nl_msg *msg,
		   int (*parse)(struct nlattr **tb, void *arg), void *arg)
{
	struct req r = { .ipc = ipc, .parse = parse, .arg = arg };

	return req_exchange(ipc, msg, &r, on_valid, &r);
}

int ipc_open(struct ipc *ipc)
{
	int one = 1, err;

	memset(ipc, 0, sizeof(*ipc));
	ipc->events_grp = -1;
	ipc->sk = nl_socket_alloc();
	if (!ipc->sk)
		return -ENOMEM;
	err = genl_connect(ipc->sk);
	if (err < 0) {
		snprintf(ipc->err_msg, sizeof(ipc->err_msg),
			 "cannot open a generic netlink socket: %s",
			 nl_geterror(err));
		goto err_free;
	}
	/* harvest dumps can be large: peek at each message's real size */
	nl_socket_enable_msg_peek(ipc->sk);
	nl_socket_set_buffer_size(ipc->sk, 1 << 20, 1 << 20);
	setsockopt(nl_socket_get_fd(ipc->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(ipc->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));

	ipc->family = genl_ctrl_resolve(ipc->sk, LOOSETRACE_GENL_NAME);
	if (ipc->family < 0) {
		err = ipc->family;
		snprintf(ipc->err_msg, sizeof(ipc->err_msg),
			 "generic netlink family \"%s\" not found: is the module loaded? (modprobe loosetrace)",
			 LOOSETRACE_GENL_NAME);
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(ipc->sk);
	ipc->sk = NULL;
	return nle_to_errno(err);
}

void ipc_close(struct ipc *ipc)
{
	if (ipc->ev)
		nl_socket_free(ipc->ev);
	if (ipc->sk)
		nl_socket_free(ipc->sk);
	ipc->ev = NULL;
	ipc->sk = NULL;
}

/* Attribute readers that check the length the kernel sent. */
static uint32_t get_u32(struct nlattr *a)
{
	return a && nla_len(a) >= 4 ? nla_get_u32(a) : 0;
}

static uint64_t get_u64(struct nlattr *a)
{
	return a && nla_len(a) >= 8 ? nla_get_u64(a) : 0;
}

static void get_str(struct nlattr *a, char *dst, size_t size)
{
	dst[0] = '\0';
	if (a && nla_len(a) > 0)
		snprintf(dst, size, "%.*s", nla_len(a), (char *)nla_data(a));
}

static int parse_status(struct nlattr **tb, void *arg)
{
	struct ipc_status *st = arg;

	get_str(tb[LOOSETRACE_A_MODULE_VERSION], st->module_version,
		sizeof(st->module_version));
	get_str(tb[LOOSETRACE_A_KERNEL_RELEASE], st->kernel_release,
		sizeof(st->kernel_release));
	st->proto_version = get_u32(tb[LOOSETRACE_A_PROTO_VERSION]);
	st->bitmap_version = get_u32(tb[LOOSETRACE_A_BITMAP_VERSION]);
	st->vm_count = get_u32(tb[LOOSETRACE_A_VM_COUNT]);
	return 0;
}

int ipc_status(struct ipc *ipc, struct ipc_status *st)
{
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_STATUS_GET, 0);

	memset(st, 0, sizeof(*st));
	if (!msg)
		return -ENOMEM;
	return req_run(ipc, msg, parse_status, st);
}

static int parse_vm_id(struct nlattr **tb, void *arg)
{
	uint32_t *id = arg;

	if (!tb[LOOSETRACE_A_VM_ID])
		return -EBADMSG;
	*id = get_u32(tb[LOOSETRACE_A_VM_ID]);
	return 0;
}

int ipc_attach(struct ipc *ipc, int vm_fd, uint32_t *vm_id)
{
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_ATTACH, 0);

	if (!msg)
		return -ENOMEM;
	*vm_id = 0;
	if (nla_put_s32(msg, LOOSETRACE_A_VM_FD, vm_fd) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return req_run(ipc, msg, parse_vm_id, vm_id) ?: (*vm_id ? 0 : -EBADMSG);
}

/* Commands whose only argument is a VM id and whose reply is an ack. */
static int vm_cmd(struct ipc *ipc, uint8_t cmd, uint32_t vm_id,
		  int (*parse)(struct nlattr **tb, void *arg), void *arg)
{
	struct nl_msg *msg = req_new(ipc, cmd, 0);

	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm_id) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return req_run(ipc, msg, parse, arg);
}

int ipc_detach(struct ipc *ipc, uint32_t vm_id)
{
	return vm_cmd(ipc, LOOSETRACE_CMD_DETACH, vm_id, NULL, NULL);
}

static void parse_memslot(struct nlattr *nest, struct ipc_memslot *s)
{
	struct nlattr *tb[LOOSETRACE_MEMSLOT_A_MAX + 1];

	memset(s, 0, sizeof(*s));
	if (nla_parse_nested(tb, LOOSETRACE_MEMSLOT_A_MAX, nest, NULL) < 0)
		return;
	s->id = get_u32(tb[LOOSETRACE_MEMSLOT_A_ID]);
	s->flags = get_u32(tb[LOOSETRACE_MEMSLOT_A_FLAGS]);
	s->base_gfn = get_u64(tb[LOOSETRACE_MEMSLOT_A_BASE_GFN]);
	s->npages = get_u64(tb[LOOSETRACE_MEMSLOT_A_NPAGES]);
	s->userspace_addr = get_u64(tb[LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR]);
}

static void parse_vm_into(struct nlattr **tb, struct ipc_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->id = get_u32(tb[LOOSETRACE_A_VM_ID]);
	vm->pid = get_u32(tb[LOOSETRACE_A_VM_PID]);
	vm->vcpus = get_u32(tb[LOOSETRACE_A_VCPU_COUNT]);
	vm->trace_state = get_u32(tb[LOOSETRACE_A_TRACE_STATE]);
	vm->mode = get_u32(tb[LOOSETRACE_A_MODE]);
	vm->epoch = get_u64(tb[LOOSETRACE_A_EPOCH]);
	vm->epoch_done = get_u64(tb[LOOSETRACE_A_EPOCH_DONE]);
	vm->memslot_gen = get_u64(tb[LOOSETRACE_A_MEMSLOT_GEN]);
}

struct vm_list_ctx {
	struct ipc_vm *vms;
	int max;
	int n;
};

/*
 * libnl's parser keeps only the last of repeated attributes, so the
 * memslot nests are walked by hand over the whole message.
 */
static int on_vm_msg(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];
	struct vm_list_ctx *ctx = arg;
	struct ipc_vm *vm;
	struct nlattr *a;
	int rem;

	if (genlmsg_parse(nlh, 0, tb, LOOSETRACE_A_MAX, NULL) < 0)
		return NL_SKIP;
	if (ctx->n >= ctx->max)
		return NL_SKIP;
	vm = &ctx->vms[ctx->n++];
	parse_vm_into(tb, vm);
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (nla_type(a) != LOOSETRACE_A_MEMSLOT)
			continue;
		if (vm->nslots >= IPC_MAX_SLOTS)
			break;
		parse_memslot(a, &vm->slots[vm->nslots++]);
	}
	return NL_OK;
}

/* Like req_run() but with a raw message handler (repeated attributes). */
static int req_run_raw(struct ipc *ipc, struct nl_msg *msg,
		       nl_recvmsg_msg_cb_t handler, void *arg)
{
	struct req r = { .ipc = ipc };

	return req_exchange(ipc, msg, &r, handler, arg);
}

int ipc_vm_get(struct ipc *ipc, uint32_t vm_id, struct ipc_vm *vm)
{
	struct vm_list_ctx ctx = { .vms = vm, .max = 1 };
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_VM_GET, 0);
	int err;

	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm_id) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	err = req_run_raw(ipc, msg, on_vm_msg, &ctx);
	if (!err && ctx.n != 1)
		err = -EBADMSG;
	return err;
}

int ipc_vm_list(struct ipc *ipc, struct ipc_vm *vms, int max)
{
	struct vm_list_ctx ctx = { .vms = vms, .max = max };
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_VM_GET, NLM_F_DUMP);
	int err;

	if (!msg)
		return -ENOMEM;
	err = req_run_raw(ipc, msg, on_vm_msg, &ctx);
	return err < 0 ? err : ctx.n;
}

int ipc_trace_start(struct ipc *ipc, uint32_t vm_id, uint32_t mode,
		    uint32_t deadline_us)
{
	return ipc_trace_start_ranges(ipc, vm_id, mode, deadline_us, NULL, 0);
}

static int put_range(struct nl_msg *msg, const struct ipc_range *r)
{
	struct nlattr *nest = nla_nest_start(msg, LOOSETRACE_A_HVA_RANGE);

	if (!nest ||
	    nla_put_u64(msg, LOOSETRACE_HVA_RANGE_A_START, r->start) < 0 ||
	    nla_put_u64(msg, LOOSETRACE_HVA_RANGE_A_LEN, r->len) < 0)
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

int ipc_trace_start_ranges(struct ipc *ipc, uint32_t vm_id, uint32_t mode,
			   uint32_t deadline_us, const struct ipc_range *r,
			   unsigned int n)
{
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_TRACE_START, 0);
	unsigned int i;
	int err = 0;

	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm_id) < 0 ||
	    nla_put_u32(msg, LOOSETRACE_A_MODE, mode) < 0 ||
	    (deadline_us &&
	     nla_put_u32(msg, LOOSETRACE_A_DEADLINE_US, deadline_us) < 0))
		err = -EMSGSIZE;
	for (i = 0; !err && i < n; i++)
		err = put_range(msg, &r[i]);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return req_run(ipc, msg, NULL, NULL);
}

int ipc_trace_stop(struct ipc *ipc, uint32_t vm_id)
{
	return vm_cmd(ipc, LOOSETRACE_CMD_TRACE_STOP, vm_id, NULL, NULL);
}

/* Bound on one slot's compacted bitmap: worst case is a little over raw. */
static uint64_t harvest_size_limit(uint64_t npages)
{
	return npages / 8 + npages / 512 + 4096;
}

struct harvest_ctx {
	struct ipc_harvest *h;
	int err;
};

static struct ipc_harvest_slot *harvest_slot(struct ipc_harvest *h,
					     struct ipc_memslot *ms)
{
	uint32_t i;

	for (i = 0; i < h->nslots; i++)
		if (h->slots[i].slot_id == ms->id &&
		    h->slots[i].base_gfn == ms->base_gfn)
			return &h->slots[i];
	if (h->nslots >= IPC_MAX_SLOTS)
		return NULL;
	h->slots[h->nslots].slot_id = ms->id;
	h->slots[h->nslots].base_gfn = ms->base_gfn;
	h->slots[h->nslots].npages = ms->npages;
	h->slots[h->nslots].userspace_addr = ms->userspace_addr;
	return &h->slots[h->nslots++];
}

/* Reassembles each slot's compacted bitmap from its chunks. */
static int parse_harvest(struct nlattr **tb, void *arg)
{
	struct harvest_ctx *ctx = arg;
	struct ipc_harvest *h = ctx->h;
	struct ipc_harvest_slot *s;
	struct ipc_memslot ms;
	uint64_t size, off, len;
	struct nlattr *data;

	if (!tb[LOOSETRACE_A_MEMSLOT] || !tb[LOOSETRACE_A_BITMAP_SIZE])
		return -EBADMSG;
	parse_memslot(tb[LOOSETRACE_A_MEMSLOT], &ms);
	h->vm_id = get_u32(tb[LOOSETRACE_A_VM_ID]);
	if (h->epoch && h->epoch != get_u64(tb[LOOSETRACE_A_EPOCH]))
		return -EBADMSG;	/* one harvest, one epoch */
	h->epoch = get_u64(tb[LOOSETRACE_A_EPOCH]);
	h->memslot_gen = get_u64(tb[LOOSETRACE_A_MEMSLOT_GEN]);
	s = harvest_slot(h, &ms);
	if (!s)
		return -E2BIG;
	size = get_u64(tb[LOOSETRACE_A_BITMAP_SIZE]);
	off = get_u64(tb[LOOSETRACE_A_BITMAP_OFFSET]);
	data = tb[LOOSETRACE_A_BITMAP_DATA];
	len = data ? nla_len(data) : 0;
	if (size > harvest_size_limit(s->npages))
		return -EBADMSG;
	if (!s->data) {
		s->data = calloc(1, size ? size : 1);
		if (!s->data)
			return -ENOMEM;
		s->size = size;
	}
	if (size != s->size || off > size || len > size - off)
		return -EBADMSG;
	if (len)
		memcpy(s->data + off, nla_data(data), len);
	return 0;
}

int ipc_harvest(struct ipc *ipc, uint32_t vm_id, uint64_t gfn_start,
		uint64_t gfn_count, struct ipc_harvest *h)
{
	struct nl_msg *msg = req_new(ipc, LOOSETRACE_CMD_HARVEST, NLM_F_DUMP);
	struct harvest_ctx ctx = { .h = h };
	int err;

	memset(h, 0, sizeof(*h));
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm_id) < 0 ||
	    (gfn_count &&
	     (nla_put_u64(msg, LOOSETRACE_A_GFN_START, gfn_start) < 0 ||
	      nla_put_u64(msg, LOOSETRACE_A_GFN_COUNT, gfn_count) < 0))) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	err = req_run(ipc, msg, parse_harvest, &ctx);
	if (!err && !h->epoch)
		err = -EBADMSG;
	if (err)
		ipc_harvest_free(h);
	return err;
}

void ipc_harvest_free(struct ipc_harvest *h)
{
	uint32_t i;

	for (i = 0; i < h->nslots; i++) {
		free(h->slots[i].data);
		h->slots[i].data = NULL;
	}
	h->nslots = 0;
}

static int parse_epoch(struct nlattr **tb, void *arg)
{
	struct ipc_epoch *ep = arg;

	ep->started = get_u64(tb[LOOSETRACE_A_EPOCH]);
	ep->done = get_u64(tb[LOOSETRACE_A_EPOCH_DONE]);
	ep->vcpus_pending = get_u32(tb[LOOSETRACE_A_VCPUS_PENDING]);
	return 0;
}

int ipc_epoch_get(struct ipc *ipc, uint32_t vm_id, struct ipc_epoch *ep)
{
	memset(ep, 0, sizeof(*ep));
	return vm_cmd(ipc, LOOSETRACE_CMD_EPOCH_GET, vm_id, parse_epoch, ep);
}

static int parse_stats(struct nlattr **tb, void *arg)
{
	struct nlattr *st[LOOSETRACE_STAT_MAX + 1];
	struct ipc_stats *stats = arg;
	int i;

	if (!tb[LOOSETRACE_A_STATS])
		return -EBADMSG;
	if (nla_parse_nested(st, LOOSETRACE_STAT_MAX, tb[LOOSETRACE_A_STATS],
			     NULL) < 0)
		return -EBADMSG;
	for (i = LOOSETRACE_STAT_PAD + 1; i <= LOOSETRACE_STAT_MAX; i++) {
		if (!st[i])
			continue;
		stats->present[i] = 1;
		stats->v[i] = get_u64(st[i]);
	}
	return 0;
}

int ipc_stats(struct ipc *ipc, uint32_t vm_id, struct ipc_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	return vm_cmd(ipc, LOOSETRACE_CMD_STATS_GET, vm_id, parse_stats, stats);
}

/* ---- events ---- */

struct ev_ctx {
	struct ipc_event *ev;
	int got;
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];
	struct ev_ctx *ctx = arg;
	struct ipc_event *ev = ctx->ev;

	if (genlmsg_parse(nlh, 0, tb, LOOSETRACE_A_MAX, NULL) < 0)
		return NL_SKIP;
	memset(ev, 0, sizeof(*ev));
	ev->vm_id = get_u32(tb[LOOSETRACE_A_VM_ID]);
	switch (gh->cmd) {
	case LOOSETRACE_CMD_EPOCH_DONE:
		ev->type = IPC_EVENT_EPOCH_DONE;
		ev->epoch = get_u64(tb[LOOSETRACE_A_EPOCH]);
		ev->install_ns = get_u64(tb[LOOSETRACE_A_INSTALL_NS]);
		break;
	case LOOSETRACE_CMD_VM_DETACHED:
		ev->type = IPC_EVENT_VM_DETACHED;
		ev->detach_reason = get_u32(tb[LOOSETRACE_A_DETACH_REASON]);
		break;
	default:
		return NL_SKIP;
	}
	ctx->got = 1;
	return NL_STOP;
}

int ipc_events_subscribe(struct ipc *ipc)
{
	int err;

	if (ipc->ev)
		return 0;
	ipc->events_grp = genl_ctrl_resolve_grp(ipc->sk, LOOSETRACE_GENL_NAME,
						LOOSETRACE_MCGRP_EVENTS);
	if (ipc->events_grp < 0)
		return nle_to_errno(ipc->events_grp);
	ipc->ev = nl_socket_alloc();
	if (!ipc->ev)
		return -ENOMEM;
	nl_socket_disable_seq_check(ipc->ev);
	err = genl_connect(ipc->ev);
	if (!err)
		err = nl_socket_add_membership(ipc->ev, ipc->events_grp);
	if (!err)
		err = nl_socket_set_nonblocking(ipc->ev);
	if (err < 0) {
		nl_socket_free(ipc->ev);
		ipc->ev = NULL;
		return nle_to_errno(err);
	}
	nl_socket_set_buffer_size(ipc->ev, 1 << 20, 0);
	return 0;
}

int ipc_event_fd(struct ipc *ipc)
{
	return ipc->ev ? nl_socket_get_fd(ipc->ev) : -1;
}

int ipc_event_read(struct ipc *ipc, struct ipc_event *ev)
{
	struct ev_ctx ctx = { .ev = ev };
	struct nl_cb *cb;
	int err;

	if (!ipc->ev)
		return -ENOTCONN;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &ctx);
	err = nl_recvmsgs(ipc->ev, cb);
	nl_cb_put(cb);
	if (ctx.got)
		return 1;
	if (err == -NLE_AGAIN || err == 0)
		return 0;
	if (err == -NLE_NOMEM) {
		/* ENOBUFS: the socket overflowed and events were lost */
		memset(ev, 0, sizeof(*ev));
		ev->type = IPC_EVENT_LOST;
		return 1;
	}
	return nle_to_errno(err);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ipc_epoch_wait(struct ipc *ipc, uint32_t vm_id, uint64_t epoch,
		   int timeout_ms, uint64_t *install_ns)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct ipc_event ev;
	struct ipc_epoch ep;
	struct pollfd pfd;
	int err;

	if (install_ns)
		*install_ns = 0;
	/* without events (none subscribed, or broken) EPOCH_GET suffices */
	if (!ipc->ev)
		ipc_events_subscribe(ipc);
	for (;;) {
		/*
		 * Ask after subscribing, so an event sent in between is
		 * never missed; events only shorten the wait.
		 */
		err = ipc_epoch_get(ipc, vm_id, &ep);
		if (err)
			return err;
		if (ep.done >= epoch)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		if (!ipc->ev) {
			/* events broke: asking is enough, only slower */
			poll(NULL, 0, 5);
			continue;
		}
		pfd.fd = ipc_event_fd(ipc);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		while ((err = ipc_event_read(ipc, &ev)) > 0) {
			if (ev.vm_id != vm_id)
				continue;
			if (ev.type == IPC_EVENT_VM_DETACHED)
				return -ENODEV;
			if (ev.type == IPC_EVENT_EPOCH_DONE &&
			    ev.epoch >= epoch) {
				if (install_ns && ev.epoch == epoch)
					*install_ns = ev.install_ns;
				return 0;
			}
		}
		if (err < 0) {
			nl_socket_free(ipc->ev);
			ipc->ev = NULL;
		}
	}
}

const char *ipc_stat_name(int stat)
{
	static const char * const names[LOOSETRACE_STAT_MAX + 1] = {
		[LOOSETRACE_STAT_TRACE_INSTALL_NS] = "trace_install_ns",
		[LOOSETRACE_STAT_EPOCHS] = "epochs",
		[LOOSETRACE_STAT_EPOCHS_DONE] = "epochs_done",
		[LOOSETRACE_STAT_FLUSH_NS_MIN] = "flush_ns_min",
		[LOOSETRACE_STAT_FLUSH_NS_MEDIAN] = "flush_ns_median",
		[LOOSETRACE_STAT_FLUSH_NS_MAX] = "flush_ns_max",
		[LOOSETRACE_STAT_DEADLINE_KICKS] = "deadline_kicks",
		[LOOSETRACE_STAT_SYNC_FLUSHES] = "sync_flushes",
		[LOOSETRACE_STAT_PAGES_HARVESTED] = "pages_harvested",
		[LOOSETRACE_STAT_BYTES_ENCODED] = "bytes_encoded",
		[LOOSETRACE_STAT_BYTES_RAW] = "bytes_raw",
		[LOOSETRACE_STAT_HARVESTS] = "harvests",
		[LOOSETRACE_STAT_HARVEST_NS] = "harvest_ns",
	};

	if (stat < 0 || stat > LOOSETRACE_STAT_MAX || !names[stat])
		return NULL;
	return names[stat];
}

const char *ipc_mode_name(uint32_t mode)
{
	return mode == LOOSETRACE_MODE_SYNC ? "sync" : "loose";
}

const char *ipc_detach_reason_name(uint32_t reason)
{
	switch (reason) {
	case LOOSETRACE_DETACH_REQUESTED:	return "requested";
	case LOOSETRACE_DETACH_SOCKET_CLOSED:	return "socket closed";
	case LOOSETRACE_DETACH_VM_EXITED:	return "VM exited";
	case LOOSETRACE_DETACH_UNLOAD:		return "module unloaded";
	default:				return "unknown";
	}
}
