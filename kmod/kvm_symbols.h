/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kvm.ko functions loosetrace calls although KVM does not export
 * them: symbols.c resolves each at load (compat.h picks a line's variant
 * as LT_SYM_FLUSH_MEMSLOT). Every such function is named here and nowhere
 * else, a name for one kernel line only ending in _<major>_<minor>:
 * selftests/kmod-host reads this file to check each 6.12 name against
 * Debian's kvm.ko.
 */
#ifndef _LOOSETRACE_KVM_SYMBOLS_H
#define _LOOSETRACE_KVM_SYMBOLS_H

#define LT_SYM_ENABLE_LOG_DIRTY		"kvm_arch_mmu_enable_log_dirty_pt_masked"
#define LT_SYM_CPU_DIRTY_LOG_SIZE	"kvm_cpu_dirty_log_size"

/*
 * Remote flush of one memslot, as KVM_CLEAR_DIRTY_LOG does it. 6.5 made
 * it generic and dropped the arch_ prefix.
 */
#define LT_SYM_FLUSH_MEMSLOT_6_1	"kvm_arch_flush_remote_tlbs_memslot"
#define LT_SYM_FLUSH_MEMSLOT_6_12	"kvm_flush_remote_tlbs_memslot"

#endif /* _LOOSETRACE_KVM_SYMBOLS_H */
