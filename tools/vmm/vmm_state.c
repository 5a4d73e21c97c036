// SPDX-License-Identifier: GPL-2.0
/*
 * Saving and restoring the vCPUs' architectural state: what the guest
 * needs to continue on another VM that has the same memory. The guest
 * keeps everything else (its stack, its workload cursors, the control
 * block) in guest memory, which the migration carries.
 *
 * Blob: struct vmm_state_hdr, then nr_vcpus struct vmm_vcpu_state. The
 * layout is this build's struct kvm_* layout: both ends of a migration
 * run the same lt-vmm on x86-64.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm_internal.h"

#define STATE_MAGIC	"LTVMMST1"
#define STATE_VERSION	1

struct vmm_state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t nr_vcpus;
	uint64_t mem_bytes;
	uint32_t vcpu_size;	/* sizeof(struct vmm_vcpu_state) */
	uint32_t hdr_size;
	uint64_t checksum;	/* FNV-1a 64 of the vCPU records */
};

struct vmm_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_xcrs xcrs;
	uint32_t has_xcrs;
	uint32_t pad;
};

static uint64_t fnv1a(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int save_vcpu(struct vmm *vm, struct vmm_vcpu *v,
		     struct vmm_vcpu_state *s)
{
	const char *what;

	memset(s, 0, sizeof(*s));
	what = "KVM_GET_REGS";
	if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0)
		goto err;
	what = "KVM_GET_SREGS";
	if (ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0)
		goto err;
	what = "KVM_GET_FPU";
	if (ioctl(v->fd, KVM_GET_FPU, &s->fpu) < 0)
		goto err;
	what = "KVM_GET_LAPIC";
	if (ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0)
		goto err;
	what = "KVM_GET_MP_STATE";
	if (ioctl(v->fd, KVM_GET_MP_STATE, &s->mp_state) < 0)
		goto err;
	what = "KVM_GET_VCPU_EVENTS";
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		goto err;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		what = "KVM_GET_XCRS";
		if (ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) < 0)
			goto err;
		s->has_xcrs = 1;
	}
	return 0;
err:
	vmm_set_error(vm, "vCPU %u: %s: %s", v->id, what, strerror(errno));
	return -errno;
}

/* Order matters: sregs carry the APIC base, which the LAPIC state needs. */
static int restore_vcpu(struct vmm *vm, struct vmm_vcpu *v,
			const struct vmm_vcpu_state *s)
{
	const char *what;

	what = "KVM_SET_SREGS";
	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0)
		goto err;
	what = "KVM_SET_LAPIC";
	if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		goto err;
	what = "KVM_SET_FPU";
	if (ioctl(v->fd, KVM_SET_FPU, &s->fpu) < 0)
		goto err;
	what = "KVM_SET_XCRS";
	if (s->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0)
		goto err;
	what = "KVM_SET_VCPU_EVENTS";
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		goto err;
	what = "KVM_SET_MP_STATE";
	if (ioctl(v->fd, KVM_SET_MP_STATE, &s->mp_state) < 0)
		goto err;
	what = "KVM_SET_REGS";
	if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
		goto err;
	return 0;
err:
	vmm_set_error(vm, "vCPU %u: %s: %s", v->id, what, strerror(errno));
	return -errno;
}

int vmm_save_state(struct vmm *vm, void **blob, size_t *len)
{
	struct vmm_vcpu_state *vs;
	struct vmm_state_hdr *h;
	size_t size;
	unsigned int i;
	int ret;

	if (vm->started && !vmm_paused(vm)) {
		vmm_set_error(vm, "save state: pause the VM first");
		return -EBUSY;
	}
	size = sizeof(*h) + vm->nr_vcpus * sizeof(*vs);
	h = calloc(1, size);
	if (!h)
		return -ENOMEM;
	vs = (struct vmm_vcpu_state *)(h + 1);
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = save_vcpu(vm, &vm->vcpus[i], &vs[i]);
		if (ret) {
			free(h);
			return ret;
		}
	}
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->version = STATE_VERSION;
	h->nr_vcpus = vm->nr_vcpus;
	h->mem_bytes = vm->mem_bytes;
	h->vcpu_size = sizeof(*vs);
	h->hdr_size = sizeof(*h);
	h->checksum = fnv1a(vs, vm->nr_vcpus * sizeof(*vs));
	*blob = h;
	*len = size;
	return 0;
}

static int check_hdr(const struct vmm_state_hdr *h, size_t len,
		     char *err, size_t errlen)
{
	if (len < sizeof(*h) || memcmp(h->magic, STATE_MAGIC, 8)) {
		snprintf(err, errlen, "not an lt-vmm state blob");
		return -EINVAL;
	}
	if (h->version != STATE_VERSION || h->hdr_size != sizeof(*h) ||
	    h->vcpu_size != sizeof(struct vmm_vcpu_state)) {
		snprintf(err, errlen,
			 "state blob v%u (%u-byte records) is not this lt-vmm's (v%u, %zu)",
			 h->version, h->vcpu_size, STATE_VERSION,
			 sizeof(struct vmm_vcpu_state));
		return -EINVAL;
	}
	if (h->nr_vcpus < 1 || h->nr_vcpus > LTG_MAX_VCPUS) {
		snprintf(err, errlen, "state blob has %u vCPUs", h->nr_vcpus);
		return -EINVAL;
	}
	if (len < sizeof(*h) + (size_t)h->nr_vcpus * h->vcpu_size) {
		snprintf(err, errlen, "state blob truncated: %zu bytes", len);
		return -EINVAL;
	}
	if (fnv1a(h + 1, (size_t)h->nr_vcpus * h->vcpu_size) != h->checksum) {
		snprintf(err, errlen, "state blob checksum mismatch");
		return -EINVAL;
	}
	return 0;
}

int vmm_restore_state(struct vmm *vm, const void *blob, size_t len)
{
	const struct vmm_state_hdr *h = blob;
	const struct vmm_vcpu_state *vs;
	char err[200];
	unsigned int i;
	int ret;

	if (!vm->incoming || vm->started) {
		vmm_set_error(vm, "restore: VM not created as incoming");
		return -EINVAL;
	}
	ret = check_hdr(h, len, err, sizeof(err));
	if (ret) {
		vmm_set_error(vm, "restore: %s", err);
		return ret;
	}
	if (h->nr_vcpus != vm->nr_vcpus || h->mem_bytes != vm->mem_bytes) {
		vmm_set_error(vm, "restore: blob for %u vCPUs, %llu bytes; VM: %u, %llu",
			      h->nr_vcpus, (unsigned long long)h->mem_bytes,
			      vm->nr_vcpus, (unsigned long long)vm->mem_bytes);
		return -EINVAL;
	}
	if (vmm_ctl(vm)->magic != LTG_CTL_MAGIC) {
		vmm_set_error(vm, "restore: no lt-vmm guest in this memory (no control block)");
		return -EINVAL;
	}
	vs = (const struct vmm_vcpu_state *)(h + 1);
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = restore_vcpu(vm, &vm->vcpus[i], &vs[i]);
		if (ret)
			return ret;
	}
	vm->incoming = false;
	return 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *b = p;
	ssize_t n;

	while (len) {
		n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= n;
	}
	return 0;
}

int vmm_save_state_file(struct vmm *vm, const char *path)
{
	size_t len;
	void *blob;
	int fd, ret;

	ret = vmm_save_state(vm, &blob, &len);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, blob, len) || fsync(fd)) {
		ret = -errno;
		vmm_set_error(vm, "state file %s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(blob);
	return ret;
}

static void *read_file(const char *path, size_t *len, char *err,
		       size_t errlen)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf)
		goto fail;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (!r)
			break;
		n += r;
		if (n > (1 << 24)) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	*len = n;
	return buf;
fail:
	snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int vmm_restore_state_file(struct vmm *vm, const char *path)
{
	char err[300];
	size_t len;
	void *blob;
	int ret;

	blob = read_file(path, &len, err, sizeof(err));
	if (!blob) {
		vmm_set_error(vm, "%s", err);
		return -EIO;
	}
	ret = vmm_restore_state(vm, blob, len);
	free(blob);
	return ret;
}

int vmm_state_file_info(const char *path, unsigned int *nr_vcpus,
			uint64_t *mem_bytes, char *err, size_t errlen)
{
	struct vmm_state_hdr *h;
	size_t len;
	int ret;

	h = read_file(path, &len, err, errlen);
	if (!h)
		return -EIO;
	ret = check_hdr(h, len, err, errlen);
	if (!ret) {
		*nr_vcpus = h->nr_vcpus;
		*mem_bytes = h->mem_bytes;
	}
	free(h);
	return ret;
}
