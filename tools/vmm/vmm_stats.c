// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's binary statistics (KVM_GET_STATS_FD) of the VM or of one vCPU:
 * exits, halt wakeups, remote TLB flushes... counted by KVM itself, so a
 * test can tell what the guest did without trusting the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm_internal.h"

static int read_stat(int stats_fd, const char *name, uint64_t *val)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsize;
	uint32_t i;
	int ret = -ENOENT;
	char *descs;

	if (pread(stats_fd, &h, sizeof(h), 0) != sizeof(h))
		return -EIO;
	dsize = sizeof(*d) + h.name_size;
	descs = calloc(h.num_desc, dsize);
	if (!descs)
		return -ENOMEM;
	if (pread(stats_fd, descs, h.num_desc * dsize, h.desc_offset) !=
	    (ssize_t)(h.num_desc * dsize)) {
		free(descs);
		return -EIO;
	}
	for (i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsize);
		if (strncmp(d->name, name, h.name_size))
			continue;
		/* Counters are one u64; histograms are not asked for here. */
		ret = pread(stats_fd, val, sizeof(*val),
			    h.data_offset + d->offset) == sizeof(*val) ?
		      0 : -EIO;
		break;
	}
	free(descs);
	return ret;
}

/*
 * KVM_GET_STATS_FD on a vCPU takes the vCPU mutex, which KVM_RUN holds
 * for as long as the guest runs: open every stats fd before the vCPUs
 * start, and only read them later.
 */
int vmm_open_stats(struct vmm *vm)
{
	unsigned int i;

	vm->vm_stats_fd = ioctl(vm->vm_fd, KVM_GET_STATS_FD, NULL);
	for (i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].stats_fd = ioctl(vm->vcpus[i].fd,
					      KVM_GET_STATS_FD, NULL);
	return 0;
}

int vmm_kvm_stat(struct vmm *vm, int vcpu, const char *name, uint64_t *val)
{
	int sfd, ret;

	if (vcpu >= (int)vm->nr_vcpus)
		return -EINVAL;
	sfd = vcpu < 0 ? vm->vm_stats_fd : vm->vcpus[vcpu].stats_fd;
	if (sfd < 0) {
		vmm_set_error(vm, "KVM_GET_STATS_FD failed: no KVM statistics");
		return -EOPNOTSUPP;
	}
	ret = read_stat(sfd, name, val);
	if (ret)
		vmm_set_error(vm, "KVM statistic %s: %s", name, strerror(-ret));
	return ret;
}
