// SPDX-License-Identifier: GPL-2.0
/*
 * The "loosetrace" generic netlink family: policies, operations and the
 * events multicast group. The protocol is described in
 * uapi/linux/loosetrace.h and Documentation/netlink.rst.
 *
 * Every operation has its own policy (strict validation), every operation
 * but STATUS_GET needs CAP_NET_ADMIN in the initial user namespace (see
 * lt_pre_doit()), a caller sees only the VMs attached from its own network
 * namespace, and every error the module detects carries an extended-ack
 * message.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/utsname.h>
#include <linux/kvm_host.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <linux/loosetrace.h>
#include <linux/loosetrace_bitmap.h>

#include "loosetrace.h"

static struct genl_family loosetrace_family;

static const struct nla_policy lt_status_policy[LOOSETRACE_A_MAX + 1] = {
};

static const struct nla_policy lt_attach_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_FD]		= NLA_POLICY_MIN(NLA_S32, 0),
};

static const struct nla_policy lt_vm_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static struct netlink_range_validation lt_deadline_range __ro_after_init = {
	.max = LT_MAX_DEADLINE_US,
};

/* One chunk holds mmu_lock for write: keep it short (R5 of the review). */
static struct netlink_range_validation lt_chunk_range __ro_after_init = {
	.min = LT_MIN_CHUNK_PAGES,
	.max = LOOSETRACE_MAX_CHUNK_PAGES,
};

static const struct nla_policy lt_trace_start_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LOOSETRACE_A_MODE]		= NLA_POLICY_MAX(NLA_U32,
							 LOOSETRACE_MODE_SYNC),
	[LOOSETRACE_A_DEADLINE_US]	=
		NLA_POLICY_FULL_RANGE(NLA_U32, &lt_deadline_range),
	[LOOSETRACE_A_CHUNK_PAGES]	=
		NLA_POLICY_FULL_RANGE(NLA_U32, &lt_chunk_range),
	[LOOSETRACE_A_HVA_RANGE]	= { .type = NLA_NESTED },
};

static const struct nla_policy
lt_hva_range_policy[LOOSETRACE_HVA_RANGE_A_MAX + 1] = {
	[LOOSETRACE_HVA_RANGE_A_START]	= { .type = NLA_U64 },
	[LOOSETRACE_HVA_RANGE_A_LEN]	= { .type = NLA_U64 },
};

static const struct nla_policy lt_harvest_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LOOSETRACE_A_GFN_START]	= { .type = NLA_U64 },
	[LOOSETRACE_A_GFN_COUNT]	= { .type = NLA_U64 },
};

static const struct nla_policy lt_epoch_policy[LOOSETRACE_A_MAX + 1] = {
	[LOOSETRACE_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LOOSETRACE_A_EPOCH]		= { .type = NLA_U64 },
};

/*
 * Who may do what. What VM_GET, EPOCH_GET, STATS_GET and the events tell
 * (the VMM's pid, the guest's memory layout, its write rate) is as much
 * the host's business as what ATTACH or HARVEST do, so every command but
 * STATUS_GET needs CAP_NET_ADMIN, and in the initial user namespace, as
 * GENL_ADMIN_PERM checks it: a VM is a host resource, and the root of a
 * container's user namespace is not the host's. The module checks it
 * itself (lt_pre_doit() for every doit, VM_GET's dump) so that the
 * refusal carries a reason; HARVEST, a dump, keeps GENL_ADMIN_PERM.
 * Commands marked LT_OP_UNPRIVILEGED (genl_ops.internal_flags) are open.
 */
#define LT_OP_UNPRIVILEGED	BIT(0)

static int lt_require_admin(const struct sk_buff *skb,
			    struct netlink_ext_ack *extack)
{
	if (netlink_capable(skb, CAP_NET_ADMIN))
		return 0;
	NL_SET_ERR_MSG(extack,
		       "this command needs CAP_NET_ADMIN in the initial user namespace");
	return -EPERM;
}

static int lt_pre_doit(const struct lt_genl_split_ops *ops,
		       struct sk_buff *skb, struct genl_info *info)
{
	if (ops->internal_flags & LT_OP_UNPRIVILEGED)
		return 0;
	return lt_require_admin(skb, info->extack);
}

/* A VM is seen only from the network namespace it was attached from. */
static bool lt_vm_visible(struct lt_vm *vm, struct net *net)
{
	return net_eq(read_pnet(&vm->net), net);
}

/*
 * The VM named by LOOSETRACE_A_VM_ID and attached from @net, referenced,
 * or NULL and extack.
 */
static struct lt_vm *lt_vm_from_attrs(struct nlattr **attrs, struct net *net,
				      struct netlink_ext_ack *extack)
{
	struct lt_vm *vm;

	if (!attrs[LOOSETRACE_A_VM_ID]) {
		NL_SET_ERR_MSG(extack, "LOOSETRACE_A_VM_ID is required");
		return ERR_PTR(-EINVAL);
	}
	vm = lt_vm_get(nla_get_u32(attrs[LOOSETRACE_A_VM_ID]));
	/* Another namespace's VM answers like an id nobody attached. */
	if (vm && !lt_vm_visible(vm, net)) {
		lt_vm_put(vm);
		vm = NULL;
	}
	if (!vm) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[LOOSETRACE_A_VM_ID],
				    "no attached VM has this id");
		return ERR_PTR(-ENOENT);
	}
	return vm;
}

/* Takes vm->lock; fails if the VM was detached meanwhile. */
static int lt_vm_lock_attached(struct lt_vm *vm,
			       struct netlink_ext_ack *extack)
{
	mutex_lock(&vm->lock);
	if (vm->detached) {
		mutex_unlock(&vm->lock);
		NL_SET_ERR_MSG(extack, "the VM was detached");
		return -ENOENT;
	}
	return 0;
}

/*
 * The VM named by LOOSETRACE_A_VM_ID, referenced, attached and with
 * vm->lock held; or an ERR_PTR and extack. Undo with lt_vm_unlock_put().
 */
static struct lt_vm *lt_vm_lock_from_attrs(struct nlattr **attrs,
					   struct net *net,
					   struct netlink_ext_ack *extack)
{
	struct lt_vm *vm = lt_vm_from_attrs(attrs, net, extack);
	int ret;

	if (IS_ERR(vm))
		return vm;
	ret = lt_vm_lock_attached(vm, extack);
	if (ret) {
		lt_vm_put(vm);
		return ERR_PTR(ret);
	}
	return vm;
}

static void lt_vm_unlock_put(struct lt_vm *vm)
{
	mutex_unlock(&vm->lock);
	lt_vm_put(vm);
}

/* VMs attached from @net. */
static u32 lt_vm_count_net(struct net *net)
{
	struct lt_vm *vm;
	u32 id = 0, n = 0;

	while ((vm = lt_vm_get_next(&id))) {
		n += lt_vm_visible(vm, net);
		lt_vm_put(vm);
		id++;
	}
	return n;
}

/*
 * Open to every caller: versions only. The number of attached VMs is
 * told to callers with CAP_NET_ADMIN, and counts those of their network
 * namespace.
 */
static int lt_status_get(struct sk_buff *skb, struct genl_info *info)
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
	    nla_put_u32(msg, LOOSETRACE_A_BITMAP_VERSION,
			LOOSETRACE_BITMAP_VERSION) ||
	    (netlink_capable(skb, CAP_NET_ADMIN) &&
	     nla_put_u32(msg, LOOSETRACE_A_VM_COUNT,
			 lt_vm_count_net(genl_info_net(info)))))
		goto err_cancel;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_cancel:
	genlmsg_cancel(msg, hdr);
err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Undoes an ATTACH whose caller never learned the VM id. */
static void lt_detach_id(u32 id)
{
	struct lt_vm *vm = lt_vm_get(id);

	if (vm) {
		lt_vm_detach(vm, LOOSETRACE_DETACH_REQUESTED);
		lt_vm_put(vm);
	}
}

static int lt_attach(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	u32 id;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, LOOSETRACE_A_VM_FD)) {
		NL_SET_ERR_MSG(info->extack, "LOOSETRACE_A_VM_FD is required");
		return -EINVAL;
	}

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	ret = lt_vm_attach(nla_get_s32(info->attrs[LOOSETRACE_A_VM_FD]),
			   info->snd_portid, genl_info_net(info), &id,
			   info->extack);
	if (ret)
		goto err_free;

	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &loosetrace_family, 0,
				LOOSETRACE_CMD_ATTACH);
	if (!hdr || nla_put_u32(msg, LOOSETRACE_A_VM_ID, id)) {
		nlmsg_free(msg);
		lt_detach_id(id);
		return ret;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
	if (ret)
		lt_detach_id(id);
	return ret;

err_free:
	nlmsg_free(msg);
	return ret;
}

static int lt_detach(struct sk_buff *skb, struct genl_info *info)
{
	struct lt_vm *vm;
	int ret;

	vm = lt_vm_from_attrs(info->attrs, genl_info_net(info), info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = lt_vm_detach(vm, LOOSETRACE_DETACH_REQUESTED);
	if (ret)
		NL_SET_ERR_MSG(info->extack, "the VM was already detached");
	lt_vm_put(vm);
	return ret;
}

static int lt_put_memslots(struct sk_buff *skb, struct lt_vm *vm)
{
	struct kvm *kvm = vm->kvm;
	struct kvm_memory_slot *ms;
	struct nlattr *nest;
	int as, bkt, ret = 0;

	mutex_lock(&kvm->slots_lock);
	if (nla_put_u64_64bit(skb, LOOSETRACE_A_MEMSLOT_GEN,
			      lt_memslot_gen(kvm), LOOSETRACE_A_PAD))
		ret = -EMSGSIZE;
	for (as = 0; as < lt_nr_address_spaces(kvm) && !ret; as++) {
		kvm_for_each_memslot(ms, bkt, __kvm_memslots(kvm, as)) {
			if (ms->id >= KVM_USER_MEM_SLOTS)
				continue;
			nest = nla_nest_start(skb, LOOSETRACE_A_MEMSLOT);
			if (!nest ||
			    nla_put_u32(skb, LOOSETRACE_MEMSLOT_A_ID,
					(as << 16) | ms->id) ||
			    nla_put_u64_64bit(skb, LOOSETRACE_MEMSLOT_A_BASE_GFN,
					      ms->base_gfn,
					      LOOSETRACE_MEMSLOT_A_PAD) ||
			    nla_put_u64_64bit(skb, LOOSETRACE_MEMSLOT_A_NPAGES,
					      ms->npages,
					      LOOSETRACE_MEMSLOT_A_PAD) ||
			    nla_put_u32(skb, LOOSETRACE_MEMSLOT_A_FLAGS,
					ms->flags) ||
			    nla_put_u8(skb, LOOSETRACE_MEMSLOT_A_TRACED,
				       lt_trace_covers(vm, (as << 16) | ms->id)) ||
			    nla_put_u64_64bit(skb,
					      LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR,
					      ms->userspace_addr,
					      LOOSETRACE_MEMSLOT_A_PAD)) {
				ret = -EMSGSIZE;
				break;
			}
			nla_nest_end(skb, nest);
		}
	}
	mutex_unlock(&kvm->slots_lock);
	return ret;
}

/*
 * One VM_GET message. Only callers with CAP_NET_ADMIN get here: the VMM's
 * pid and its addresses of guest memory (which would defeat its ASLR)
 * are theirs to see.
 */
static int lt_fill_vm(struct sk_buff *skb, struct lt_vm *vm, u32 portid,
		      u32 seq, int flags)
{
	u64 started, done;
	u32 pending;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &loosetrace_family, flags,
			  LOOSETRACE_CMD_VM_GET);
	if (!hdr)
		return -EMSGSIZE;
	lt_epoch_read(vm, &started, &done, &pending);
	if (nla_put_u32(skb, LOOSETRACE_A_VM_ID, vm->id) ||
	    nla_put_u32(skb, LOOSETRACE_A_VM_PID,
			READ_ONCE(vm->kvm->userspace_pid)) ||
	    nla_put_u32(skb, LOOSETRACE_A_VCPU_COUNT,
			atomic_read(&vm->kvm->online_vcpus)) ||
	    nla_put_u32(skb, LOOSETRACE_A_TRACE_STATE, vm->trace_state) ||
	    nla_put_u32(skb, LOOSETRACE_A_MODE, vm->mode) ||
	    nla_put_u32(skb, LOOSETRACE_A_DEADLINE_US, vm->deadline_us) ||
	    nla_put_u32(skb, LOOSETRACE_A_CHUNK_PAGES, vm->chunk_pages) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_A_EPOCH, started,
			      LOOSETRACE_A_PAD) ||
	    nla_put_u64_64bit(skb, LOOSETRACE_A_EPOCH_DONE, done,
			      LOOSETRACE_A_PAD) ||
	    nla_put_u32(skb, LOOSETRACE_A_VCPUS_PENDING, pending) ||
	    lt_put_memslots(skb, vm)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int lt_vm_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	struct lt_vm *vm;
	int ret;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE * 4, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	vm = lt_vm_lock_from_attrs(info->attrs, genl_info_net(info),
				   info->extack);
	if (IS_ERR(vm)) {
		nlmsg_free(msg);
		return PTR_ERR(vm);
	}
	ret = lt_fill_vm(msg, vm, info->snd_portid, info->snd_seq, 0);
	lt_vm_unlock_put(vm);
	if (ret) {
		NL_SET_ERR_MSG(info->extack, "the VM's memslots do not fit a message");
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/*
 * cb->args[0]: next VM id to look at. Lists the VMs attached from the
 * caller's network namespace.
 */
static int lt_vm_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(cb->skb->sk);
	u32 id = cb->args[0];
	struct lt_vm *vm;
	int ret;

	/* No pre_doit for dumps: the same check, its reason in NLMSG_DONE. */
	ret = lt_require_admin(cb->skb, cb->extack);
	if (ret)
		return ret;
	if (!id)
		id = 1;
	while ((vm = lt_vm_get_next(&id))) {
		mutex_lock(&vm->lock);
		ret = vm->detached || !lt_vm_visible(vm, net) ? 0 :
		      lt_fill_vm(skb, vm, NETLINK_CB(cb->skb).portid,
				 cb->nlh->nlmsg_seq, NLM_F_MULTI);
		mutex_unlock(&vm->lock);
		lt_vm_put(vm);
		if (ret)
			break;
		id++;
	}
	cb->args[0] = id;
	/* A VM that does not fit an empty message can never be sent. */
	if (ret && !skb->len)
		return ret;
	return skb->len;
}

/* TRACE_START's allow-list: every LOOSETRACE_A_HVA_RANGE, checked. */
static int lt_parse_ranges(struct genl_info *info,
			   struct lt_hva_range **out, u32 *nr)
{
	struct nlattr *tb[LOOSETRACE_HVA_RANGE_A_MAX + 1];
	const struct nlattr *a;
	struct lt_hva_range *r;
	u64 start, len;
	int rem, n = 0, ret;

	*out = NULL;
	*nr = 0;
	nlmsg_for_each_attr(a, info->nlhdr, GENL_HDRLEN, rem)
		n += nla_type(a) == LOOSETRACE_A_HVA_RANGE;
	if (!n)
		return 0;
	if (n > LOOSETRACE_MAX_HVA_RANGES) {
		NL_SET_ERR_MSG(info->extack,
			       "more than LOOSETRACE_MAX_HVA_RANGES ranges");
		return -E2BIG;
	}
	r = kcalloc(n, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	n = 0;
	nlmsg_for_each_attr(a, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(a) != LOOSETRACE_A_HVA_RANGE)
			continue;
		ret = nla_parse_nested(tb, LOOSETRACE_HVA_RANGE_A_MAX, a,
				       lt_hva_range_policy, info->extack);
		if (ret)
			goto err;
		ret = -EINVAL;
		if (!tb[LOOSETRACE_HVA_RANGE_A_START] ||
		    !tb[LOOSETRACE_HVA_RANGE_A_LEN]) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "a range needs its start and length");
			goto err;
		}
		start = nla_get_u64(tb[LOOSETRACE_HVA_RANGE_A_START]);
		len = nla_get_u64(tb[LOOSETRACE_HVA_RANGE_A_LEN]);
		if (!len || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(len) ||
		    start + len < start) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "a range must be page aligned, not empty, and not wrap");
			goto err;
		}
		r[n].start = start;
		r[n].end = start + len;
		n++;
	}
	*out = r;
	*nr = n;
	return 0;
err:
	kfree(r);
	return ret;
}

static int lt_trace_start_doit(struct sk_buff *skb, struct genl_info *info)
{
	u32 mode = LOOSETRACE_MODE_LOOSE, deadline = LT_DEFAULT_DEADLINE_US;
	u32 chunk = LT_DEFAULT_CHUNK_PAGES, nr_ranges;
	struct lt_hva_range *ranges;
	struct lt_vm *vm;
	int ret;

	if (info->attrs[LOOSETRACE_A_MODE])
		mode = nla_get_u32(info->attrs[LOOSETRACE_A_MODE]);
	if (info->attrs[LOOSETRACE_A_DEADLINE_US] &&
	    nla_get_u32(info->attrs[LOOSETRACE_A_DEADLINE_US]))
		deadline = nla_get_u32(info->attrs[LOOSETRACE_A_DEADLINE_US]);
	if (info->attrs[LOOSETRACE_A_CHUNK_PAGES])
		chunk = nla_get_u32(info->attrs[LOOSETRACE_A_CHUNK_PAGES]);
	/* A chunk is whole dirty-bitmap words: the harvest takes words. */
	if (chunk % LT_MIN_CHUNK_PAGES) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[LOOSETRACE_A_CHUNK_PAGES],
				    "the chunk must be a multiple of 64 pages");
		return -EINVAL;
	}
	if (mode == LOOSETRACE_MODE_LOOSE) {
		ret = lt_epoch_loose_supported(info->extack);
		if (ret)
			return ret;
	}

	ret = lt_parse_ranges(info, &ranges, &nr_ranges);
	if (ret)
		return ret;

	vm = lt_vm_lock_from_attrs(info->attrs, genl_info_net(info),
				   info->extack);
	if (IS_ERR(vm)) {
		kfree(ranges);
		return PTR_ERR(vm);
	}
	ret = lt_trace_start(vm, mode, deadline, chunk, ranges, nr_ranges,
			     info->extack);
	lt_vm_unlock_put(vm);
	if (ret)
		kfree(ranges);
	return ret;
}

static int lt_trace_stop_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct lt_vm *vm;
	int ret;

	vm = lt_vm_lock_from_attrs(info->attrs, genl_info_net(info),
				   info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = 0;
	if (vm->trace_state != LOOSETRACE_TRACE_ON) {
		NL_SET_ERR_MSG(info->extack, "no trace is running");
		ret = -ENODATA;
	} else {
		lt_trace_stop(vm, true);
	}
	lt_vm_unlock_put(vm);
	return ret;
}

/*
 * HARVEST: .start takes the bits (under the VM's lock, so harvests of one
 * VM never interleave) and keeps the encoded bitmaps; .dumpit only copies
 * them out in pieces; .done frees them. The taken bits are never put back
 * once .start succeeded: a caller that stops reading loses the round, as
 * with KVM_GET_DIRTY_LOG.
 */
static int lt_harvest_begin(struct netlink_callback *cb,
			    struct netlink_ext_ack *extack)
{
	struct nlattr **attrs = lt_dump_attrs(cb);
	u64 gfn_start = 0, gfn_count = 0;
	struct lt_harvest *h;
	struct lt_vm *vm;
	int ret;

	if (attrs[LOOSETRACE_A_GFN_START])
		gfn_start = nla_get_u64(attrs[LOOSETRACE_A_GFN_START]);
	if (attrs[LOOSETRACE_A_GFN_COUNT]) {
		gfn_count = nla_get_u64(attrs[LOOSETRACE_A_GFN_COUNT]);
		if (!gfn_count) {
			NL_SET_ERR_MSG(extack, "LOOSETRACE_A_GFN_COUNT is 0");
			return -EINVAL;
		}
	}

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	vm = lt_vm_lock_from_attrs(attrs, sock_net(cb->skb->sk), extack);
	if (IS_ERR(vm)) {
		kfree(h);
		return PTR_ERR(vm);
	}
	/* h keeps the reference: lt_harvest_free() drops it */
	h->vm = vm;
	ret = lt_harvest_take(vm, gfn_start, gfn_count, h, extack);
	mutex_unlock(&vm->lock);
	if (ret) {
		lt_harvest_free(h);
		return ret;
	}
	cb->args[0] = (long)h;
	return 0;
}

/* cb->args[0]: the harvest; [1], [2]: an error kept for .dumpit, reason */
static int lt_harvest_start(struct netlink_callback *cb)
{
	struct netlink_ext_ack local = {};
	int ret;

	if (cb->extack)
		return lt_harvest_begin(cb, cb->extack);
	/*
	 * 6.1 gives .start no extended ack. An error found here then goes
	 * to the first .dumpit, whose NLMSG_DONE carries it with its reason.
	 */
	ret = lt_harvest_begin(cb, &local);
	if (!ret || !local._msg)
		return ret;
	cb->args[1] = ret;
	cb->args[2] = (long)local._msg;
	return 0;
}

/* Room kept in a message for everything but the bitmap data. */
#define LT_HARVEST_MSG_OVERHEAD	256

static int lt_harvest_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct lt_harvest *h = (struct lt_harvest *)cb->args[0];
	struct lt_harvest_slot *hs;
	struct nlattr *nest;
	size_t chunk;
	int room;
	void *hdr;

	if (!h) {
		/* the error lt_harvest_start() kept, string and all static */
		if (cb->extack)
			cb->extack->_msg = (const char *)cb->args[2];
		return (int)cb->args[1];
	}
	while (h->cur_slot < h->nr_slots) {
		hs = &h->slots[h->cur_slot];
		room = skb_tailroom(skb) - LT_HARVEST_MSG_OVERHEAD;
		if (room < 64)
			break;
		chunk = min_t(size_t, hs->size - h->cur_off, room & ~7);

		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &loosetrace_family,
				  NLM_F_MULTI, LOOSETRACE_CMD_HARVEST);
		if (!hdr)
			break;
		nest = NULL;
		if (nla_put_u32(skb, LOOSETRACE_A_VM_ID, h->vm->id) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_A_EPOCH, h->epoch,
				      LOOSETRACE_A_PAD) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_A_MEMSLOT_GEN,
				      h->memslot_gen, LOOSETRACE_A_PAD))
			goto cancel;
		nest = nla_nest_start(skb, LOOSETRACE_A_MEMSLOT);
		if (!nest ||
		    nla_put_u32(skb, LOOSETRACE_MEMSLOT_A_ID, hs->slot) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_MEMSLOT_A_BASE_GFN,
				      hs->base_gfn, LOOSETRACE_MEMSLOT_A_PAD) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_MEMSLOT_A_NPAGES,
				      hs->npages, LOOSETRACE_MEMSLOT_A_PAD) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_MEMSLOT_A_USERSPACE_ADDR,
				      hs->userspace_addr,
				      LOOSETRACE_MEMSLOT_A_PAD))
			goto cancel;
		nla_nest_end(skb, nest);
		if (nla_put_u64_64bit(skb, LOOSETRACE_A_BITMAP_SIZE, hs->size,
				      LOOSETRACE_A_PAD) ||
		    nla_put_u64_64bit(skb, LOOSETRACE_A_BITMAP_OFFSET,
				      h->cur_off, LOOSETRACE_A_PAD) ||
		    nla_put(skb, LOOSETRACE_A_BITMAP_DATA, chunk,
			    (u8 *)hs->data + h->cur_off))
			goto cancel;
		genlmsg_end(skb, hdr);

		h->cur_off += chunk;
		if (h->cur_off >= hs->size) {
			h->cur_slot++;
			h->cur_off = 0;
		}
	}
	return skb->len;

cancel:
	genlmsg_cancel(skb, hdr);
	/* Nothing fits even an empty message: give up rather than loop. */
	return skb->len ?: -EMSGSIZE;
}

static int lt_harvest_done(struct netlink_callback *cb)
{
	struct lt_harvest *h = (struct lt_harvest *)cb->args[0];

	if (h)
		lt_harvest_free(h);
	return 0;
}

static int lt_epoch_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u64 started, done;
	struct sk_buff *msg;
	struct lt_vm *vm;
	u32 pending;
	void *hdr;
	int ret;

	vm = lt_vm_from_attrs(info->attrs, genl_info_net(info), info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	lt_epoch_read(vm, &started, &done, &pending);
	lt_vm_put(vm);

	if (info->attrs[LOOSETRACE_A_EPOCH] &&
	    nla_get_u64(info->attrs[LOOSETRACE_A_EPOCH]) > started) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[LOOSETRACE_A_EPOCH],
				    "this epoch has not started");
		return -EINVAL;
	}

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &loosetrace_family, 0,
				LOOSETRACE_CMD_EPOCH_GET);
	if (!hdr ||
	    nla_put_u32(msg, LOOSETRACE_A_VM_ID,
			nla_get_u32(info->attrs[LOOSETRACE_A_VM_ID])) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_A_EPOCH, started,
			      LOOSETRACE_A_PAD) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_A_EPOCH_DONE, done,
			      LOOSETRACE_A_PAD) ||
	    nla_put_u32(msg, LOOSETRACE_A_VCPUS_PENDING, pending))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return ret;
}

static int lt_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	struct lt_vm *vm;
	void *hdr;
	int ret;

	vm = lt_vm_from_attrs(info->attrs, genl_info_net(info), info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out_put;
	}
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &loosetrace_family, 0,
				LOOSETRACE_CMD_STATS_GET);
	if (!hdr || nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm->id))
		goto err_free;
	ret = lt_stats_fill(msg, vm);
	if (ret)
		goto err_free;
	genlmsg_end(msg, hdr);
	lt_vm_put(vm);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
out_put:
	lt_vm_put(vm);
	return ret;
}

static const struct genl_ops loosetrace_ops[] = {
	{
		.cmd = LOOSETRACE_CMD_STATUS_GET,
		.doit = lt_status_get,
		.policy = lt_status_policy,
		.maxattr = LOOSETRACE_A_MAX,
		.internal_flags = LT_OP_UNPRIVILEGED,
	},
	{
		.cmd = LOOSETRACE_CMD_ATTACH,
		.doit = lt_attach,
		.policy = lt_attach_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_DETACH,
		.doit = lt_detach,
		.policy = lt_vm_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_VM_GET,
		.doit = lt_vm_get_doit,
		.dumpit = lt_vm_get_dumpit,
		.policy = lt_vm_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_TRACE_START,
		.doit = lt_trace_start_doit,
		.policy = lt_trace_start_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_TRACE_STOP,
		.doit = lt_trace_stop_doit,
		.policy = lt_vm_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_HARVEST,
		.start = lt_harvest_start,
		.dumpit = lt_harvest_dumpit,
		.done = lt_harvest_done,
		.policy = lt_harvest_policy,
		.maxattr = LOOSETRACE_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = LOOSETRACE_CMD_EPOCH_GET,
		.doit = lt_epoch_get_doit,
		.policy = lt_epoch_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
	{
		.cmd = LOOSETRACE_CMD_STATS_GET,
		.doit = lt_stats_get_doit,
		.policy = lt_vm_policy,
		.maxattr = LOOSETRACE_A_MAX,
	},
};

/*
 * Joining needs CAP_NET_ADMIN over the listener's network namespace (the
 * kernel checks the namespace's own user namespace), and each event goes
 * only to the namespace its VM was attached from (lt_multicast()).
 */
static const struct genl_multicast_group loosetrace_mcgrps[] = {
	{ .name = LOOSETRACE_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family loosetrace_family __ro_after_init = {
	.name		= LOOSETRACE_GENL_NAME,
	.version	= LOOSETRACE_GENL_VERSION,
	.maxattr	= LOOSETRACE_A_MAX,
	.netnsok	= true,
	/*
	 * A harvest of a large VM takes a while: without this it would hold
	 * genl_mutex, which every other such family (nl80211, ethtool...)
	 * waits on. The registry lock and each VM's lock order our ops.
	 */
	.parallel_ops	= true,
	.pre_doit	= lt_pre_doit,
	.module		= THIS_MODULE,
	.ops		= loosetrace_ops,
	.n_ops		= ARRAY_SIZE(loosetrace_ops),
	.resv_start_op	= LOOSETRACE_CMD_MAX + 1,
	.mcgrps		= loosetrace_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(loosetrace_mcgrps),
};

/* Events go to the network namespace of the socket that attached. */
static void lt_multicast(struct lt_vm *vm, struct sk_buff *msg)
{
	genlmsg_multicast_netns(&loosetrace_family, read_pnet(&vm->net), msg,
				0, 0, GFP_KERNEL);
}

void lt_notify_epoch_done(struct lt_vm *vm, u64 epoch, u64 install_ns)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &loosetrace_family, 0,
			  LOOSETRACE_CMD_EPOCH_DONE);
	if (!hdr ||
	    nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm->id) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_A_EPOCH, epoch,
			      LOOSETRACE_A_PAD) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_A_INSTALL_NS, install_ns,
			      LOOSETRACE_A_PAD)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	lt_multicast(vm, msg);
}

void lt_notify_detached(struct lt_vm *vm, u32 reason)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &loosetrace_family, 0,
			  LOOSETRACE_CMD_VM_DETACHED);
	if (!hdr ||
	    nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm->id) ||
	    nla_put_u32(msg, LOOSETRACE_A_DETACH_REASON, reason)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	lt_multicast(vm, msg);
}

void lt_notify_layout(struct lt_vm *vm, u32 event, const struct lt_slot *s,
		      u64 gen)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &loosetrace_family, 0,
			  LOOSETRACE_CMD_LAYOUT_CHANGED);
	if (!hdr ||
	    nla_put_u32(msg, LOOSETRACE_A_VM_ID, vm->id) ||
	    nla_put_u32(msg, LOOSETRACE_A_LAYOUT_EVENT, event) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_A_MEMSLOT_GEN, gen,
			      LOOSETRACE_A_PAD))
		goto fail;
	nest = nla_nest_start(msg, LOOSETRACE_A_MEMSLOT);
	if (!nest ||
	    nla_put_u32(msg, LOOSETRACE_MEMSLOT_A_ID, s->slot) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_MEMSLOT_A_BASE_GFN, s->base_gfn,
			      LOOSETRACE_MEMSLOT_A_PAD) ||
	    nla_put_u64_64bit(msg, LOOSETRACE_MEMSLOT_A_NPAGES, s->npages,
			      LOOSETRACE_MEMSLOT_A_PAD))
		goto fail;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	lt_multicast(vm, msg);
	return;
fail:
	nlmsg_free(msg);
}

int __init loosetrace_genl_init(void)
{
	return genl_register_family(&loosetrace_family);
}

void loosetrace_genl_exit(void)
{
	genl_unregister_family(&loosetrace_family);
}
