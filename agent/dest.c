// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side of a migration: one peer connection feeding the
 * dest_session state machine, with the incoming VMM as its target. The
 * VMM's guest memory file is mapped only after the source's layout has
 * been compared with the VMM's, so a mismatch is refused before any page
 * is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dest.h"
#include "dest_session.h"
#include "guestmem.h"
#include "vmmhook.h"
#include "wire.h"

struct dest_vmm {
	const char *sock;
	struct vmmhook_status st;
	uint8_t *mem;
	uint64_t mem_bytes;
	uint64_t slot_off[WIRE_MAX_SLOTS];	/* page offset in the file */
	uint64_t slot_pages[WIRE_MAX_SLOTS];
	uint64_t slot_gfn[WIRE_MAX_SLOTS];
	uint32_t nslots;
};

static int dv_layout(void *ctx, const struct wire_layout *l, char *why,
		     size_t why_len)
{
	struct dest_vmm *v = ctx;
	uint64_t pages = 0;
	uint32_t i;
	int err;

	err = vmmhook_status(v->sock, &v->st, why, why_len);
	if (err)
		return err;
	for (i = 0; i < l->nslots; i++) {
		v->slot_off[i] = pages;
		v->slot_pages[i] = l->slots[i].npages;
		v->slot_gfn[i] = l->slots[i].base_gfn;
		pages += l->slots[i].npages;
	}
	/* guest memory is one file holding the slots in gfn order */
	if (pages * WIRE_PAGE_SIZE != v->st.mem_bytes) {
		snprintf(why, why_len,
			 "memory size differs: source guest has %llu MiB, destination VM %llu MiB",
			 (unsigned long long)(pages * WIRE_PAGE_SIZE >> 20),
			 (unsigned long long)(v->st.mem_bytes >> 20));
		return -EINVAL;
	}
	if (l->vcpus != v->st.nr_vcpus) {
		snprintf(why, why_len,
			 "vCPU count differs: source %u, destination %u",
			 l->vcpus, v->st.nr_vcpus);
		return -EINVAL;
	}
	/*
	 * lt-vmm reports an incoming VM as not running yet; its "restore"
	 * refuses a VM that was not started incoming.
	 */
	if (!strcmp(v->st.state, "failed") || !v->st.mem_path[0]) {
		snprintf(why, why_len,
			 "destination VM is %s, not waiting for an incoming guest",
			 v->st.state[0] ? v->st.state : "in an unknown state");
		return -EBUSY;
	}
	v->nslots = l->nslots;
	v->mem_bytes = v->st.mem_bytes;
	return guestmem_map_path(v->st.mem_path, v->mem_bytes, 1,
				 (void **)&v->mem, why, why_len);
}

static int dv_write(void *ctx, uint32_t slot, uint64_t gfn, uint32_t count,
		    const uint8_t *data)
{
	struct dest_vmm *v = ctx;
	uint64_t page;

	/* the session checked gfn and count against the slot's bounds */
	if (slot >= v->nslots || !v->mem)
		return -EINVAL;
	page = v->slot_off[slot] + gfn - v->slot_gfn[slot];
	if (data)
		memcpy(v->mem + page * WIRE_PAGE_SIZE, data,
		       (size_t)count * WIRE_PAGE_SIZE);
	else
		memset(v->mem + page * WIRE_PAGE_SIZE, 0,
		       (size_t)count * WIRE_PAGE_SIZE);
	return 0;
}

static uint64_t dv_digest(void *ctx)
{
	struct dest_vmm *v = ctx;
	uint64_t d = 0;
	uint32_t i;

	for (i = 0; i < v->nslots; i++)
		d ^= wire_mem_digest(v->mem + v->slot_off[i] * WIRE_PAGE_SIZE,
				     v->slot_pages[i]) +
		     i * 0x9e3779b97f4a7c15ULL;
	return d;
}

static int dv_resume(void *ctx, const uint8_t *state, size_t len, char *why,
		     size_t why_len)
{
	struct dest_vmm *v = ctx;

	/* from here on the source can no longer tell whether the guest runs */
	fprintf(stderr, "loosetrace-agent: RESUME: restoring the guest into %s\n",
		v->sock);
	return vmmhook_restore(v->sock, state, len, why, why_len);
}

/*
 * Tells the caller the outcome before the last frame goes out: a source
 * that reads our ERROR and dials again at once must find the agent free.
 */
static void dest_ended(const struct dest_hooks *hk, int err, int *told)
{
	if (!*told && hk && hk->ended)
		hk->ended(hk->arg, err);
	*told = 1;
}

int dest_serve(int fd, const char *vmm_sock, int timeout_ms,
	       const struct dest_hooks *hk, struct dest_result *res)
{
	struct dest_vmm v = { .sock = vmm_sock };
	const struct dest_target target = {
		.ctx = &v, .layout = dv_layout, .write = dv_write,
		.digest = dv_digest, .resume = dv_resume,
	};
	int err;

	err = dest_run(fd, &target, timeout_ms, hk, res);
	guestmem_unmap(v.mem, v.mem_bytes);
	return err;
}

int dest_run(int fd, const struct dest_target *target, int timeout_ms,
	     const struct dest_hooks *hk, struct dest_result *res)
{
	struct dest_session *s;
	struct dest_reply *r;
	struct wire_conn c;
	struct wire_hdr h;
	int err, told = 0;

	memset(res, 0, sizeof(*res));
	s = malloc(sizeof(*s));
	r = malloc(sizeof(*r));
	if (!s || !r || wire_conn_init(&c, fd, timeout_ms)) {
		free(s);
		free(r);
		snprintf(res->why, sizeof(res->why), "out of memory");
		dest_ended(hk, -ENOMEM, &told);
		return -ENOMEM;
	}
	dest_session_init(s, target);
	for (;;) {
		err = wire_recv(&c, &h);
		if (err == -ECONNRESET) {
			snprintf(s->why, sizeof(s->why),
				 "source closed the connection");
			break;
		}
		if (err == -EBADMSG || err == -EPROTO) {
			snprintf(s->why, sizeof(s->why),
				 "bad frame from the source (%s)",
				 err == -EBADMSG ? "malformed or checksum mismatch" :
				 "unsupported version or out of sequence");
			dest_ended(hk, err, &told);
			wire_send_error(&c, err, "%s", s->why);
			break;
		}
		if (err) {
			snprintf(s->why, sizeof(s->why),
				 "receiving from the source: %s", strerror(-err));
			break;
		}
		err = dest_session_frame(s, &h, c.buf, r);
		if (err) {
			dest_ended(hk, err, &told);
			if (h.type != WIRE_ERROR)
				wire_send_error(&c, err, "%s", s->why);
			break;
		}
		if (s->phase == DEST_DONE)
			dest_ended(hk, 0, &told);
		if (r->type) {
			err = wire_send(&c, r->type, 0, r->buf, r->len, NULL, 0);
			if (err) {
				snprintf(s->why, sizeof(s->why),
					 "sending %s: %s", wire_type_name(r->type),
					 strerror(-err));
				break;
			}
		}
		if (s->phase == DEST_DONE)
			break;
	}
	if (s->phase != DEST_DONE && !err)
		err = -EIO;
	if (s->phase != DEST_DONE)
		dest_ended(hk, err, &told);
	res->stats = s->stats;
	res->bytes_rx = c.bytes_rx;
	snprintf(res->why, sizeof(res->why), "%s", err ? s->why : "");
	dest_session_free(s);
	wire_conn_free(&c);
	free(s);
	free(r);
	return err;
}
