/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernel lines loosetrace is built and tested for
 * (Debian 12: 6.1 and 6.12). Every version check of the module lives here;
 * the other sources use only the names defined below.
 */
#ifndef _LOOSETRACE_COMPAT_H
#define _LOOSETRACE_COMPAT_H

#include <linux/version.h>
#include <linux/kvm_host.h>
#include <net/genetlink.h>

#include "kvm_symbols.h"

#if LINUX_VERSION_MAJOR == 6 && LINUX_VERSION_PATCHLEVEL == 1
#define LT_KERNEL_LINE			"6.1"
#define LT_KERNEL_MAJOR			6
#define LT_KERNEL_MINOR			1

/* The memslot description kvm_set_memory_region() takes. */
#define lt_memregion			kvm_userspace_memory_region

/* Remote flush of one memslot, as KVM_CLEAR_DIRTY_LOG does it. */
#define LT_SYM_FLUSH_MEMSLOT		LT_SYM_FLUSH_MEMSLOT_6_1
typedef void (*lt_flush_memslot_fn)(struct kvm *kvm,
				    const struct kvm_memory_slot *slot);

static inline int lt_nr_address_spaces(struct kvm *kvm)
{
	return KVM_ADDRESS_SPACE_NUM;
}

/* Memslot flags whose slots cannot be dirty-logged. */
#define LT_UNTRACEABLE_SLOT_FLAGS	KVM_MEM_READONLY

static inline struct nlattr **lt_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->attrs;
}

/* What a family's pre_doit is given (6.2 split the ops). */
#define lt_genl_split_ops		genl_ops

#elif LINUX_VERSION_MAJOR == 6 && LINUX_VERSION_PATCHLEVEL == 12
#define LT_KERNEL_LINE			"6.12"
#define LT_KERNEL_MAJOR			6
#define LT_KERNEL_MINOR			12

#define lt_memregion			kvm_userspace_memory_region2

#define LT_SYM_FLUSH_MEMSLOT		LT_SYM_FLUSH_MEMSLOT_6_12
typedef void (*lt_flush_memslot_fn)(struct kvm *kvm,
				    const struct kvm_memory_slot *slot);

/* SMM address space exists only for VMs without private memory. */
static inline int lt_nr_address_spaces(struct kvm *kvm)
{
	return kvm_arch_nr_memslot_as_ids(kvm);
}

/* guest_memfd slots reject KVM_MEM_LOG_DIRTY_PAGES. */
#define LT_UNTRACEABLE_SLOT_FLAGS	(KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD)

static inline struct nlattr **lt_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->info.attrs;
}

#define lt_genl_split_ops		genl_split_ops

#else
#error "loosetrace supports the 6.1 and 6.12 kernel lines only"
#endif

/* A kernel function the module calls but KVM does not export. */
typedef void (*lt_enable_log_dirty_fn)(struct kvm *kvm,
				       struct kvm_memory_slot *slot,
				       gfn_t gfn_offset, unsigned long mask);
typedef int (*lt_cpu_dirty_log_size_fn)(void);

#endif /* _LOOSETRACE_COMPAT_H */
