// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side of a QEMU guest's migration: the target of the
 * dest_session state machine is a QEMU started with -incoming defer -S.
 * The source's wire slots are its shared RAM backends, in QEMU's order
 * (query-memdev), each one slot (source.c); the pages go straight into
 * the destination QEMU's own mappings of its backends, found the same
 * way. The digest is over those mappings, before QEMU loads anything (its
 * device load may write guest RAM); then QEMU gets the device state and
 * the agent's cont runs the guest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dest.h"
#include "guestmem.h"
#include "qemu_hook.h"
#include "qemu_vm.h"
#include "wire.h"

#define QMP_TIMEOUT_MS	10000

struct dest_qemu {
	const char *sock;
	struct qemu_vm vm;
	uint8_t *mem[QEMU_MAX_REGIONS];
	uint64_t gfn[QEMU_MAX_REGIONS];		/* wire base of each region */
	uint64_t pages[QEMU_MAX_REGIONS];
	uint32_t nslots;
};

static int count_vcpus(struct qmp *q, unsigned int *n, char *why,
		       size_t why_len)
{
	json_object *r = qmp_cmd(q, QMP_TIMEOUT_MS, "query-cpus-fast", NULL);

	if (!r) {
		snprintf(why, why_len, "QMP %s", q->err);
		return -EIO;
	}
	*n = json_object_is_type(r, json_type_array) ?
	     json_object_array_length(r) : 0;
	json_object_put(r);
	return 0;
}

static int dq_layout(void *ctx, const struct wire_layout *l, char *why,
		     size_t why_len)
{
	struct dest_qemu *d = ctx;
	struct qemu_region *r;
	unsigned int vcpus = 0;
	struct qmp q;
	uint32_t i;
	int err;

	if (qmp_open(&q, d->sock, QMP_TIMEOUT_MS)) {
		snprintf(why, why_len, "QMP socket %s: %s", d->sock, q.err);
		return -EIO;
	}
	err = qemu_inspect(&q, 0, &d->vm, why, why_len);
	if (!err)
		err = count_vcpus(&q, &vcpus, why, why_len);
	qmp_close(&q);
	if (err)
		return err;
	if (strcmp(d->vm.status, "inmigrate")) {
		snprintf(why, why_len,
			 "destination QEMU is %s, not waiting for an incoming guest (start it with -incoming defer -S)",
			 d->vm.status);
		return -EBUSY;
	}
	if (l->nslots != d->vm.nregions) {
		snprintf(why, why_len,
			 "the source has %u RAM backends, the destination QEMU %u",
			 l->nslots, d->vm.nregions);
		return -EINVAL;
	}
	if (l->vcpus != vcpus) {
		snprintf(why, why_len,
			 "vCPU count differs: source %u, destination %u",
			 l->vcpus, vcpus);
		return -EINVAL;
	}
	for (i = 0; i < l->nslots; i++) {
		r = &d->vm.regions[i];
		if (l->slots[i].npages * WIRE_PAGE_SIZE != r->size) {
			snprintf(why, why_len,
				 "memory size differs: source RAM backend %u has %llu MiB, destination %s %llu MiB",
				 i, (unsigned long long)(l->slots[i].npages *
						WIRE_PAGE_SIZE >> 20),
				 r->id, (unsigned long long)(r->size >> 20));
			return -EINVAL;
		}
	}
	for (i = 0; i < l->nslots; i++) {
		r = &d->vm.regions[i];
		err = guestmem_map_pid(d->vm.pid, r->hva, r->size, 1,
				       (void **)&d->mem[i], why, why_len);
		if (err)
			return err;
		d->gfn[i] = l->slots[i].base_gfn;
		d->pages[i] = l->slots[i].npages;
		d->nslots = i + 1;
	}
	return 0;
}

static int dq_write(void *ctx, uint32_t slot, uint64_t gfn, uint32_t count,
		    const uint8_t *data)
{
	struct dest_qemu *d = ctx;
	uint8_t *p;

	/* the session checked gfn and count against the slot's bounds */
	if (slot >= d->nslots)
		return -EINVAL;
	p = d->mem[slot] + (gfn - d->gfn[slot]) * WIRE_PAGE_SIZE;
	if (data)
		memcpy(p, data, (size_t)count * WIRE_PAGE_SIZE);
	else
		memset(p, 0, (size_t)count * WIRE_PAGE_SIZE);
	return 0;
}

static uint64_t dq_digest(void *ctx)
{
	struct dest_qemu *d = ctx;
	uint64_t x = 0;
	uint32_t i;

	/* the source's fold, over the same regions */
	for (i = 0; i < d->nslots; i++)
		x ^= wire_mem_digest(d->mem[i], d->pages[i]) +
		     i * 0x9e3779b97f4a7c15ULL;
	return x;
}

static int dq_resume(void *ctx, const uint8_t *state, size_t len, char *why,
		     size_t why_len)
{
	struct dest_qemu *d = ctx;

	fprintf(stderr, "loosetrace-agent: RESUME: QEMU %s loads the device state (%zu bytes)\n",
		d->sock, len);
	return qemu_hook_load_devices(d->sock, state, len, why, why_len);
}

int dest_serve_qemu(int fd, const char *qmp_sock, int timeout_ms,
		    const struct dest_hooks *hk, struct dest_result *res)
{
	struct dest_qemu d = { .sock = qmp_sock };
	const struct dest_target target = {
		.ctx = &d, .layout = dq_layout, .write = dq_write,
		.digest = dq_digest, .resume = dq_resume,
	};
	uint32_t i;
	int err;

	err = dest_run(fd, &target, timeout_ms, hk, res);
	for (i = 0; i < d.nslots; i++)
		guestmem_unmap(d.mem[i], d.vm.regions[i].size);
	return err;
}
