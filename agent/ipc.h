/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's view of loosetrace.ko: plain structs and calls. ipc.c is
 * the only file that speaks generic netlink (libnl-genl-3); everything
 * else sees these types. Errors come back as -errno with the kernel's
 * extended-ack text, if any, in ipc->err_msg.
 */
#ifndef LT_AGENT_IPC_H
#define LT_AGENT_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <linux/loosetrace.h>

#define IPC_MAX_SLOTS	64
#define IPC_ERRMSG_LEN	256

struct nl_sock;

struct ipc {
	struct nl_sock *sk;		/* requests and dumps */
	struct nl_sock *ev;		/* "events" group, opened on demand */
	int family;
	int events_grp;
	char err_msg[IPC_ERRMSG_LEN];	/* last extended-ack message */
};

struct ipc_status {
	char module_version[64];
	char kernel_release[65];
	uint32_t proto_version;
	uint32_t bitmap_version;
	uint32_t vm_count;
};

struct ipc_memslot {
	uint32_t id;
	uint32_t flags;
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t userspace_addr;
};

struct ipc_vm {
	uint32_t id;
	uint32_t pid;
	uint32_t vcpus;
	uint32_t trace_state;
	uint32_t mode;
	uint64_t epoch;
	uint64_t epoch_done;
	uint64_t memslot_gen;	/* KVM's: moves with every memslot change */
	uint32_t nslots;
	struct ipc_memslot slots[IPC_MAX_SLOTS];
};

struct ipc_epoch {
	uint64_t started;
	uint64_t done;
	uint32_t vcpus_pending;
};

struct ipc_stats {
	/* indexed by enum loosetrace_stat; present[] says which came back */
	uint64_t v[LOOSETRACE_STAT_MAX + 1];
	uint8_t present[LOOSETRACE_STAT_MAX + 1];
};

/* One memslot's compacted bitmap from a harvest, reassembled. */
struct ipc_harvest_slot {
	uint32_t slot_id;
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t userspace_addr;	/* the VMM's address of base_gfn */
	uint8_t *data;			/* compacted bitmap, malloc'd */
	uint64_t size;
};

struct ipc_harvest {
	uint32_t vm_id;
	uint64_t epoch;
	uint64_t memslot_gen;
	uint32_t nslots;
	struct ipc_harvest_slot slots[IPC_MAX_SLOTS];
};

enum ipc_event_type {
	IPC_EVENT_NONE,
	IPC_EVENT_EPOCH_DONE,
	IPC_EVENT_VM_DETACHED,
	IPC_EVENT_LOST,			/* ENOBUFS: events were dropped */
};

struct ipc_event {
	enum ipc_event_type type;
	uint32_t vm_id;
	uint64_t epoch;
	uint64_t install_ns;
	uint32_t detach_reason;
};

int ipc_open(struct ipc *ipc);
void ipc_close(struct ipc *ipc);

int ipc_status(struct ipc *ipc, struct ipc_status *st);
int ipc_attach(struct ipc *ipc, int vm_fd, uint32_t *vm_id);
int ipc_detach(struct ipc *ipc, uint32_t vm_id);
int ipc_vm_get(struct ipc *ipc, uint32_t vm_id, struct ipc_vm *vm);
/* Lists attached VMs into vms[max]; returns how many, or -errno. */
int ipc_vm_list(struct ipc *ipc, struct ipc_vm *vms, int max);
int ipc_trace_start(struct ipc *ipc, uint32_t vm_id, uint32_t mode,
		    uint32_t deadline_us);
/* A range of the VMM's addresses a trace is limited to. */
struct ipc_range {
	uint64_t start;
	uint64_t len;
};

/* TRACE_START with an allow-list of @n ranges (LOOSETRACE_A_HVA_RANGE). */
int ipc_trace_start_ranges(struct ipc *ipc, uint32_t vm_id, uint32_t mode,
			   uint32_t deadline_us, const struct ipc_range *r,
			   unsigned int n);
int ipc_trace_stop(struct ipc *ipc, uint32_t vm_id);
/* gfn_count == 0 harvests every memslot. Free with ipc_harvest_free(). */
int ipc_harvest(struct ipc *ipc, uint32_t vm_id, uint64_t gfn_start,
		uint64_t gfn_count, struct ipc_harvest *h);
void ipc_harvest_free(struct ipc_harvest *h);
int ipc_epoch_get(struct ipc *ipc, uint32_t vm_id, struct ipc_epoch *ep);
int ipc_stats(struct ipc *ipc, uint32_t vm_id, struct ipc_stats *stats);

/*
 * Waits until @epoch of @vm_id is complete (traces installed on every
 * vCPU), using EPOCH_DONE events and EPOCH_GET as a fallback. Returns 0,
 * -ETIMEDOUT after @timeout_ms, or -ENODEV if the VM got detached.
 */
int ipc_epoch_wait(struct ipc *ipc, uint32_t vm_id, uint64_t epoch,
		   int timeout_ms, uint64_t *install_ns);

/* Events: subscribe, then poll ipc_event_fd() and call ipc_event_read(). */
int ipc_events_subscribe(struct ipc *ipc);
int ipc_event_fd(struct ipc *ipc);
/* Reads one event; returns 1 with @ev filled, 0 if none is pending. */
int ipc_event_read(struct ipc *ipc, struct ipc_event *ev);

const char *ipc_stat_name(int stat);
const char *ipc_mode_name(uint32_t mode);
const char *ipc_detach_reason_name(uint32_t reason);

#endif /* LT_AGENT_IPC_H */
