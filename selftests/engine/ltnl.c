// SPDX-License-Identifier: GPL-2.0
/*
 * A small client of the "loosetrace" family for tests and benchmarks.
 * See ltnl.h. Extended-ack messages are read from the kernel's error
 * acknowledgments (and from a dump's NLMSG_DONE) by hand: libnl does not
 * expose them.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/msg.h>

#include "bitmap_codec.h"
#include "ltnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct ltnl_req {
	struct ltnl *nl;
	int error;
	int done;
	void (*parse)(struct ltnl_req *r, struct nlattr **tb,
		      struct nlmsghdr *nlh);
	void *out;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void save_extack(struct ltnl *nl, struct nlmsghdr *nlh, void *tlvs,
			int len)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len <= 0)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, tlvs, len, NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(nl->err, sizeof(nl->err), "%s",
			 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
}

static int err_cb(struct sockaddr_nl *sa, struct nlmsgerr *e, void *arg)
{
	struct ltnl_req *r = arg;
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	int off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	save_extack(r->nl, nlh, (char *)e + off,
		    (int)nlh->nlmsg_len - NLMSG_HDRLEN - off);
	r->error = e->error;
	r->done = 1;
	return NL_STOP;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	struct ltnl_req *r = arg;

	r->done = 1;
	return NL_STOP;
}

static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct ltnl_req *r = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int *err = nlmsg_data(nlh);

	if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int) && *err < 0) {
		r->error = *err;
		save_extack(r->nl, nlh, err + 1,
			    (int)nlh->nlmsg_len - NLMSG_HDRLEN - sizeof(int));
	}
	r->done = 1;
	return NL_STOP;
}

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct ltnl_req *r = arg;
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, LOOSETRACE_A_MAX, NULL))
		return NL_SKIP;
	if (r->parse)
		r->parse(r, tb, nlmsg_hdr(msg));
	return NL_OK;
}

int ltnl_open(struct ltnl *nl)
{
	int one = 1, fd;

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	if (genl_connect(nl->sk)) {
		nl_socket_free(nl->sk);
		return -ECONNREFUSED;
	}
	fd = nl_socket_get_fd(nl->sk);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_enable_msg_peek(nl->sk);
	nl_socket_set_buffer_size(nl->sk, 1 << 20, 1 << 20);
	nl->family = genl_ctrl_resolve(nl->sk, LOOSETRACE_GENL_NAME);
	if (nl->family < 0) {
		nl_socket_free(nl->sk);
		return -ENOENT;
	}
	nl->events_grp = genl_ctrl_resolve_grp(nl->sk, LOOSETRACE_GENL_NAME,
					       LOOSETRACE_MCGRP_EVENTS);
	return 0;
}

void ltnl_close(struct ltnl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

static int put_attrs(struct nl_msg *msg, const struct ltnl_attr *a, int n)
{
	int i, ret = 0;

	for (i = 0; i < n && !ret; i++) {
		switch (a[i].kind) {
		case LTNL_U8:
			ret = nla_put_u8(msg, a[i].type, a[i].val);
			break;
		case LTNL_U32:
			ret = nla_put_u32(msg, a[i].type, a[i].val);
			break;
		case LTNL_S32:
			ret = nla_put_s32(msg, a[i].type, (int32_t)a[i].val);
			break;
		case LTNL_U64:
			ret = nla_put_u64(msg, a[i].type, a[i].val);
			break;
		case LTNL_FLAG:
			ret = nla_put_flag(msg, a[i].type);
			break;
		case LTNL_HVA_RANGE: {
			struct nlattr *nest = nla_nest_start(msg, a[i].type);

			ret = !nest ||
			      nla_put_u64(msg, LOOSETRACE_HVA_RANGE_A_START,
					  a[i].val) ||
			      nla_put_u64(msg, LOOSETRACE_HVA_RANGE_A_LEN,
					  a[i].val2);
			if (!ret)
				nla_nest_end(msg, nest);
			break;
		}
		}
	}
	return ret;
}

static int request(struct ltnl *nl, uint8_t cmd, int flags,
		   const struct ltnl_attr *a, int n,
		   void (*parse)(struct ltnl_req *, struct nlattr **,
				 struct nlmsghdr *), void *out)
{
	struct ltnl_req r = { .nl = nl, .parse = parse, .out = out };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int ret;

	nl->err[0] = 0;
	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, LOOSETRACE_GENL_VERSION) ||
	    put_attrs(msg, a, n)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, &r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, &r);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, &r);

	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return -EIO;
	}
	while (!r.done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !r.done) {
			r.error = -EIO;
			break;
		}
	}
	nl_cb_put(cb);
	return r.error;
}

int ltnl_raw(struct ltnl *nl, uint8_t cmd, const struct ltnl_attr *a, int n)
{
	return request(nl, cmd, 0, a, n, NULL, NULL);
}

static void parse_vm_id(struct ltnl_req *r, struct nlattr **tb,
			struct nlmsghdr *nlh)
{
	if (tb[LOOSETRACE_A_VM_ID])
		*(uint32_t *)r->out = nla_get_u32(tb[LOOSETRACE_A_VM_ID]);
}

int ltnl_attach(struct ltnl *nl, int fd, uint32_t *id)
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_FD, LTNL_S32, (uint32_t)fd };

	*id = 0;
	return request(nl, LOOSETRACE_CMD_ATTACH, 0, &a, 1, parse_vm_id, id);
}

int ltnl_detach(struct ltnl *nl, uint32_t id)
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_ID, LTNL_U32, id };

	return ltnl_raw(nl, LOOSETRACE_CMD_DETACH, &a, 1);
}

int ltnl_trace_start(struct ltnl *nl, uint32_t id, uint32_t mode,
		     uint32_t deadline_us)
{
	return ltnl_trace_start_chunk(nl, id, mode, deadline_us, 0);
}

int ltnl_trace_start_chunk(struct ltnl *nl, uint32_t id, uint32_t mode,
			   uint32_t deadline_us, uint32_t chunk_pages)
{
	struct ltnl_attr a[] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, id },
		{ LOOSETRACE_A_MODE, LTNL_U32, mode },
		{ LOOSETRACE_A_DEADLINE_US, LTNL_U32, deadline_us },
		{ LOOSETRACE_A_CHUNK_PAGES, LTNL_U32, chunk_pages },
	};

	/* No chunk attribute at all means the module's default. */
	return ltnl_raw(nl, LOOSETRACE_CMD_TRACE_START, a, chunk_pages ? 4 : 3);
}

int ltnl_trace_stop(struct ltnl *nl, uint32_t id)
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_ID, LTNL_U32, id };

	return ltnl_raw(nl, LOOSETRACE_CMD_TRACE_STOP, &a, 1);
}

static void parse_epoch(struct ltnl_req *r, struct nlattr **tb,
			struct nlmsghdr *nlh)
{
	uint64_t *o = r->out;

	if (tb[LOOSETRACE_A_EPOCH])
		o[0] = nla_get_u64(tb[LOOSETRACE_A_EPOCH]);
	if (tb[LOOSETRACE_A_EPOCH_DONE])
		o[1] = nla_get_u64(tb[LOOSETRACE_A_EPOCH_DONE]);
	if (tb[LOOSETRACE_A_VCPUS_PENDING])
		o[2] = nla_get_u32(tb[LOOSETRACE_A_VCPUS_PENDING]);
}

int ltnl_epoch_get(struct ltnl *nl, uint32_t id, uint64_t *started,
		   uint64_t *done, uint32_t *pending)
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_ID, LTNL_U32, id };
	uint64_t o[3] = { 0, 0, 0 };
	int ret;

	ret = request(nl, LOOSETRACE_CMD_EPOCH_GET, 0, &a, 1, parse_epoch, o);
	if (started)
		*started = o[0];
	if (done)
		*done = o[1];
	if (pending)
		*pending = o[2];
	return ret;
}

int ltnl_epoch_wait(struct ltnl *nl, uint32_t id, uint64_t epoch,
		    unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms, done;
	int ret;

	for (;;) {
		ret = ltnl_epoch_get(nl, id, NULL, &done, NULL);
		if (ret)
			return ret;
		if (done >= epoch)
			return 0;
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

static void parse_stats(struct ltnl_req *r, struct nlattr **tb,
			struct nlmsghdr *nlh)
{
	struct nlattr *st[LOOSETRACE_STAT_MAX + 1];
	uint64_t *o = r->out;
	int i;

	if (!tb[LOOSETRACE_A_STATS] ||
	    nla_parse_nested(st, LOOSETRACE_STAT_MAX, tb[LOOSETRACE_A_STATS],
			     NULL))
		return;
	for (i = 0; i <= LOOSETRACE_STAT_MAX; i++)
		if (st[i] && i != LOOSETRACE_STAT_PAD)
			o[i] = nla_get_u64(st[i]);
}

int ltnl_stats(struct ltnl *nl, uint32_t id,
	       uint64_t stats[LOOSETRACE_STAT_MAX + 1])
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_ID, LTNL_U32, id };

	memset(stats, 0, sizeof(uint64_t) * (LOOSETRACE_STAT_MAX + 1));
	return request(nl, LOOSETRACE_CMD_STATS_GET, 0, &a, 1, parse_stats,
		       stats);
}

static uint64_t get_u(struct nlattr *a)
{
	if (!a)
		return 0;
	if (nla_len(a) == 1)
		return nla_get_u8(a);
	return nla_len(a) == 8 ? nla_get_u64(a) : nla_get_u32(a);
}

static void parse_vm(struct ltnl_req *r, struct nlattr **tb,
		     struct nlmsghdr *nlh)
{
	struct nlattr *ms[LOOSETRACE_MEMSLOT_A_MAX + 1], *pos;
	struct ltnl_vm_info *vi = r->out;
	int rem;

	if (!vi) {
		/* Counting dumped VMs. */
		r->error++;
		return;
	}
	vi->id = get_u(tb[LOOSETRACE_A_VM_ID]);
	vi->pid = get_u(tb[LOOSETRACE_A_VM_PID]);
	vi->vcpus = get_u(tb[LOOSETRACE_A_VCPU_COUNT]);
	vi->trace_state = get_u(tb[LOOSETRACE_A_TRACE_STATE]);
	vi->mode = get_u(tb[LOOSETRACE_A_MODE]);
	vi->deadline_us = get_u(tb[LOOSETRACE_A_DEADLINE_US]);
	vi->chunk_pages = get_u(tb[LOOSETRACE_A_CHUNK_PAGES]);
	vi->pending = get_u(tb[LOOSETRACE_A_VCPUS_PENDING]);
	vi->epoch = get_u(tb[LOOSETRACE_A_EPOCH]);
	vi->epoch_done = get_u(tb[LOOSETRACE_A_EPOCH_DONE]);
	vi->memslot_gen = get_u(tb[LOOSETRACE_A_MEMSLOT_GEN]);
	vi->nr_slots = 0;
	/* tb[] holds only the last memslot: walk them all. */
	nla_for_each_attr(pos, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (nla_type(pos) != LOOSETRACE_A_MEMSLOT ||
		    vi->nr_slots >= LTNL_MAX_SLOTS ||
		    nla_parse_nested(ms, LOOSETRACE_MEMSLOT_A_MAX, pos, NULL))
			continue;
		vi->slots[vi->nr_slots].id = get_u(ms[LOOSETRACE_MEMSLOT_A_ID]);
		vi->slots[vi->nr_slots].flags =
			get_u(ms[LOOSETRACE_MEMSLOT_A_FLAGS]);
		vi->slots[vi->nr_slots].base_gfn =
			get_u(ms[LOOSETRACE_MEMSLOT_A_BASE_GFN]);
		vi->slots[vi->nr_slots].npages =
			get_u(ms[LOOSETRACE_MEMSLOT_A_NPAGES]);
		vi->slots[vi->nr_slots].userspace_addr =
			get_u(ms[LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR]);
		vi->slots[vi->nr_slots].traced =
			get_u(ms[LOOSETRACE_MEMSLOT_A_TRACED]);
		vi->nr_slots++;
	}
}

int ltnl_vm_get(struct ltnl *nl, uint32_t id, struct ltnl_vm_info *vi)
{
	struct ltnl_attr a = { LOOSETRACE_A_VM_ID, LTNL_U32, id };

	memset(vi, 0, sizeof(*vi));
	return request(nl, LOOSETRACE_CMD_VM_GET, 0, &a, 1, parse_vm, vi);
}

int ltnl_vm_count(struct ltnl *nl)
{
	/* parse_vm() counts the messages in the error field. */
	return request(nl, LOOSETRACE_CMD_VM_GET, NLM_F_DUMP, NULL, 0,
		       parse_vm, NULL);
}

static void parse_harvest(struct ltnl_req *r, struct nlattr **tb,
			  struct nlmsghdr *nlh)
{
	struct nlattr *ms[LOOSETRACE_MEMSLOT_A_MAX + 1];
	struct ltnl_harvest *h = r->out;
	struct ltnl_hslot *hs = NULL;
	uint64_t size, off, len;
	uint32_t slot;
	unsigned int i;

	if (!tb[LOOSETRACE_A_MEMSLOT] || !tb[LOOSETRACE_A_BITMAP_DATA] ||
	    !tb[LOOSETRACE_A_BITMAP_SIZE] || !tb[LOOSETRACE_A_BITMAP_OFFSET] ||
	    nla_parse_nested(ms, LOOSETRACE_MEMSLOT_A_MAX,
			     tb[LOOSETRACE_A_MEMSLOT], NULL))
		goto bad;
	h->epoch = get_u(tb[LOOSETRACE_A_EPOCH]);
	h->memslot_gen = get_u(tb[LOOSETRACE_A_MEMSLOT_GEN]);
	slot = get_u(ms[LOOSETRACE_MEMSLOT_A_ID]);
	for (i = 0; i < h->nr; i++)
		if (h->slots[i].slot == slot)
			hs = &h->slots[i];
	size = get_u(tb[LOOSETRACE_A_BITMAP_SIZE]);
	off = get_u(tb[LOOSETRACE_A_BITMAP_OFFSET]);
	len = nla_len(tb[LOOSETRACE_A_BITMAP_DATA]);
	if (!hs) {
		if (h->nr >= LTNL_MAX_SLOTS)
			goto bad;
		hs = &h->slots[h->nr++];
		hs->slot = slot;
		hs->base_gfn = get_u(ms[LOOSETRACE_MEMSLOT_A_BASE_GFN]);
		hs->npages = get_u(ms[LOOSETRACE_MEMSLOT_A_NPAGES]);
		hs->userspace_addr =
			get_u(ms[LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR]);
		hs->encoded = size;
		hs->enc = calloc(1, size ? size : 1);
		if (!hs->enc)
			goto bad;
	}
	if (size != hs->encoded || off != hs->enc_got || off + len > size)
		goto bad;
	memcpy(hs->enc + off, nla_data(tb[LOOSETRACE_A_BITMAP_DATA]), len);
	hs->enc_got += len;
	return;
bad:
	r->error = -EBADMSG;
}

int ltnl_harvest(struct ltnl *nl, uint32_t id, uint64_t gfn_start,
		 uint64_t gfn_count, struct ltnl_harvest *h)
{
	struct ltnl_attr a[] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, id },
		{ LOOSETRACE_A_GFN_START, LTNL_U64, gfn_start },
		{ LOOSETRACE_A_GFN_COUNT, LTNL_U64, gfn_count },
	};
	struct ltnl_hslot *hs;
	unsigned int i;
	uint64_t w;
	long got;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = request(nl, LOOSETRACE_CMD_HARVEST, NLM_F_DUMP, a,
		      gfn_count ? 3 : 1, parse_harvest, h);
	if (ret)
		goto err;
	for (i = 0; i < h->nr; i++) {
		hs = &h->slots[i];
		ret = -EBADMSG;
		if (hs->enc_got != hs->encoded || hs->npages > UINT32_MAX)
			goto err;
		hs->bitmap = calloc(lt_bm_words(hs->npages) + 1, 8);
		if (!hs->bitmap)
			goto err;
		got = lt_bm_decode(hs->enc, hs->encoded, (u64 *)hs->bitmap,
				   hs->npages);
		if (got != (long)hs->npages) {
			ret = got < 0 ? (int)got : -EBADMSG;
			goto err;
		}
		for (w = 0; w < lt_bm_words(hs->npages); w++)
			hs->dirty += __builtin_popcountll(hs->bitmap[w]);
	}
	return 0;
err:
	ltnl_harvest_free(h);
	return ret;
}

void ltnl_harvest_free(struct ltnl_harvest *h)
{
	unsigned int i;

	for (i = 0; i < h->nr; i++) {
		free(h->slots[i].bitmap);
		free(h->slots[i].enc);
		h->slots[i].bitmap = NULL;
		h->slots[i].enc = NULL;
	}
	h->nr = 0;
}

int ltnl_harvest_test(const struct ltnl_harvest *h, uint64_t gfn)
{
	const struct ltnl_hslot *hs;
	unsigned int i;
	uint64_t bit;

	for (i = 0; i < h->nr; i++) {
		hs = &h->slots[i];
		if (gfn < hs->base_gfn || gfn >= hs->base_gfn + hs->npages)
			continue;
		bit = gfn - hs->base_gfn;
		return (hs->bitmap[bit / 64] >> (bit % 64)) & 1;
	}
	return 0;
}

int ltnl_events_join(struct ltnl *nl)
{
	if (nl->events_grp < 0)
		return -ENOENT;
	nl_socket_disable_seq_check(nl->sk);
	return nl_socket_add_membership(nl->sk, nl->events_grp) ? -EIO : 0;
}

struct ltnl_event {
	uint8_t cmd;
	uint32_t id;
	uint64_t *val;
	int found;
};

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[LOOSETRACE_A_MAX + 1];
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(msg));
	struct ltnl_event *ev = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, LOOSETRACE_A_MAX, NULL) ||
	    g->cmd != ev->cmd || get_u(tb[LOOSETRACE_A_VM_ID]) != ev->id)
		return NL_SKIP;
	if (ev->cmd == LOOSETRACE_CMD_VM_DETACHED) {
		*ev->val = get_u(tb[LOOSETRACE_A_DETACH_REASON]);
	} else if (ev->cmd == LOOSETRACE_CMD_LAYOUT_CHANGED) {
		struct nlattr *ms[LOOSETRACE_MEMSLOT_A_MAX + 1] = { NULL };

		if (tb[LOOSETRACE_A_MEMSLOT])
			nla_parse_nested(ms, LOOSETRACE_MEMSLOT_A_MAX,
					 tb[LOOSETRACE_A_MEMSLOT], NULL);
		*ev->val = get_u(ms[LOOSETRACE_MEMSLOT_A_ID]) << 8 |
			   get_u(tb[LOOSETRACE_A_LAYOUT_EVENT]);
	} else {
		*ev->val = get_u(tb[LOOSETRACE_A_EPOCH]);
	}
	ev->found = 1;
	return NL_OK;
}

static int no_seq_check(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int ltnl_event_wait(struct ltnl *nl, uint8_t cmd, uint32_t id,
		    uint64_t *val, unsigned int timeout_ms)
{
	struct ltnl_event ev = { .cmd = cmd, .id = id, .val = val };
	uint64_t end = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = nl_socket_get_fd(nl->sk), .events = POLLIN };
	struct nl_cb *cb;
	int64_t left;

	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_cb, &ev);
	/* Events are unsolicited: sequence number 0. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	while (!ev.found) {
		left = (int64_t)(end - now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		nl_recvmsgs(nl->sk, cb);
	}
	nl_cb_put(cb);
	return ev.found ? 0 : -ETIMEDOUT;
}
