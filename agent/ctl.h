/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agentctl <-> loosetrace-agent: fixed-size request and reply structs on
 * a local SOCK_SEQPACKET Unix socket (one struct per packet). Both ends
 * are built from this tree, so the structs are the protocol; magic and
 * version catch a stale binary on the other end. Only root may connect:
 * the socket is 0600 and the daemon checks SO_PEERCRED.
 */
#ifndef LT_AGENT_CTL_H
#define LT_AGENT_CTL_H

#include <stdint.h>

#include "ipc.h"

#define CTL_MAGIC		0x4c544331U	/* "1CTL" */
#define CTL_VERSION		3
#define CTL_SOCKET_PATH		"/run/loosetrace/agent.sock"
#define CTL_TARGET_LEN		128
#define CTL_PATH_LEN		108
#define CTL_MSG_LEN		256
#define CTL_MAX_VMS		16
#define CTL_ROUND_LOG		32	/* rounds a migration summary lists */
#define CTL_REASON_LEN		160

enum ctl_op {
	CTL_STATUS = 1,
	CTL_ATTACH,
	CTL_DETACH,
	CTL_TRACE_START,
	CTL_TRACE_STOP,
	CTL_HARVEST,
	CTL_STATS,
	CTL_MIGRATE,
};

/* migrate flags */
#define CTL_MIG_SYNC		0x1	/* trace in sync mode */
#define CTL_MIG_PROGRESS	0x2	/* stream progress replies */
/* no reconcile pass: a test knob that shows what it catches */
#define CTL_MIG_NO_RECONCILE	0x4
/* vmm_sock is a QEMU's QMP socket, not the test VMM's control socket */
#define CTL_MIG_QMP		0x8

struct ctl_req {
	uint32_t magic;
	uint32_t version;
	uint32_t op;
	uint32_t vm_pid;		/* the VMM process */
	uint32_t mode;			/* enum loosetrace_mode */
	uint32_t deadline_us;
	uint32_t downtime_ms;		/* migrate: downtime target */
	uint32_t max_rounds;		/* migrate: pre-copy round limit */
	uint32_t flags;
	uint32_t bandwidth_mbps;	/* migrate: assumed link speed, 0 measured */
	char target[CTL_TARGET_LEN];	/* migrate: HOST:PORT */
	char vmm_sock[CTL_PATH_LEN];	/* migrate: the VMM's control socket */
	uint32_t throttle;		/* migrate: enum ctl_throttle_mode */
	uint32_t throttle_max_pct;	/* migrate: 0 for the default */
};

/* The pre-copy throttle (agent/converge.h). */
enum ctl_throttle_mode {
	CTL_THROTTLE_OFF,
	CTL_THROTTLE_AUTO,
};

/* Where the throttle's per-vCPU dirty rates came from. */
enum ctl_throttle_rates {
	CTL_THR_RATES_NONE,
	CTL_THR_RATES_BPF,		/* write faults per vCPU (BPF) */
	CTL_THR_RATES_EVEN,		/* the harvest's count split evenly */
};

/* What the daemon knows about one VM it has attached. */
struct ctl_vm {
	uint32_t pid;
	uint32_t vm_id;
	uint32_t trace_state;
	uint32_t mode;
	uint32_t vcpus;
	uint32_t nslots;
	uint64_t pages;
	uint64_t epoch;
	uint64_t epoch_done;
	uint32_t migrating;
	uint32_t pad;
};

struct ctl_status {
	struct ipc_status module;
	uint32_t nvms;
	uint32_t peer_port;
	uint32_t migrations_in;		/* served as destination */
	uint32_t migrations_out;
	struct ctl_vm vms[CTL_MAX_VMS];
};

struct ctl_harvest {
	uint64_t epoch;
	uint64_t pages;
	uint64_t dirty;
	uint64_t runs;			/* runs of consecutive dirty pages */
	uint64_t compact_bytes;
	uint64_t raw_bytes;
	uint64_t harvest_ns;		/* HARVEST dump round trip */
	uint64_t install_ns;		/* until the epoch completed */
	uint32_t nslots;
	uint32_t pad;
};

enum mig_phase {
	MIG_CONNECT,
	MIG_PRECOPY,
	MIG_SWITCHOVER,
	MIG_DONE,
};

/* One round of a migration, as the summary lists it. */
struct ctl_round {
	uint64_t dirty_pages;		/* harvested and sent */
	uint64_t dirty_rate;		/* pages/s since the previous harvest */
	uint64_t bytes;			/* on the wire */
	uint32_t ms;			/* harvest to the destination's ack */
	uint32_t final;			/* the round with the VM paused */
	uint32_t throttle_pct;		/* the most any vCPU was throttled */
	uint32_t pad;
};

/*
 * Guest impact windows of a migration: before the trace, pre-copy (trace
 * start to the pause), switchover (the pause to the destination's DONE)
 * and, where the source VM runs on after a failure, after it.
 */
enum ctl_impact_window {
	CTL_IMPACT_BEFORE,
	CTL_IMPACT_PRECOPY,
	CTL_IMPACT_SWITCHOVER,
	CTL_IMPACT_AFTER,
	CTL_IMPACT_WINDOWS,
};

#define CTL_IMPACT_VCPUS	16
#define CTL_IMPACT_TOP		4	/* exit reasons per window */

struct ctl_impact_win {
	uint64_t exits;
	uint64_t irq_exits;
	uint64_t write_faults;
	uint64_t new_gfns;		/* distinct pages written */
	uint64_t out_ns;		/* outside guest mode */
	uint32_t ntop;
	uint32_t top_reason[CTL_IMPACT_TOP];
	uint32_t pad;
	uint64_t top_count[CTL_IMPACT_TOP];
};

struct ctl_impact_vcpu {
	uint32_t vcpu_id;
	uint32_t tid;
	struct ctl_impact_win w[CTL_IMPACT_WINDOWS];
};

/* How long and how hard one vCPU was throttled. */
struct ctl_throttle_vcpu {
	uint32_t vcpu_id;
	uint32_t tid;
	uint32_t max_pct;		/* the most CPU time taken away */
	uint32_t mean_pct;		/* over throttled_ms */
	uint32_t steps;			/* quota changes */
	uint32_t pad;
	uint64_t throttled_ms;		/* first throttle to release */
	uint64_t cpu_ms;		/* CPU time it used while throttled */
	uint64_t cfs_throttled_ms;	/* cpu.stat: time CFS held it back */
	uint64_t cfs_periods;		/* cpu.stat: periods held back */
};

/* Progress of a migration and, in the final reply, its summary. */
struct ctl_migrate {
	uint32_t phase;			/* enum mig_phase */
	uint32_t round;
	uint32_t mode;
	uint32_t vcpus;
	uint64_t guest_pages;
	uint64_t dirty_pages;		/* this round */
	uint64_t dirty_rate;		/* pages per second, this round */
	uint64_t pages_sent;		/* total */
	uint64_t zero_pages;		/* of which sent as zero runs */
	uint64_t bytes_sent;		/* on the wire, all frames */
	uint64_t bitmap_compact_bytes;	/* total */
	uint64_t bitmap_raw_bytes;
	uint64_t rate_bps;		/* measured send rate, bytes/s */
	uint64_t eta_ms;		/* estimate to switchover */
	uint64_t elapsed_ms;
	uint64_t final_dirty_pages;
	uint64_t switchover_ms;		/* pause to destination resumed */
	uint64_t state_bytes;
	uint64_t trace_install_ns;	/* module figures */
	uint64_t flush_ns_median;
	uint64_t flush_ns_max;
	uint64_t deadline_kicks;
	uint64_t sync_flushes;
	uint64_t epochs;
	uint64_t retraces;		/* trace restarted: memslots changed */
	uint64_t reconcile_pages;	/* resent: changed unlogged */
	uint64_t reconcile_ms;		/* the scan, during the downtime */
	uint32_t reconcile_threads;	/* 0: the pass was off */
	uint32_t reconcile_pad;
	uint64_t est_final_pages;	/* final round, estimated at the stop */
	uint64_t est_final_ms;
	char stop_reason[CTL_REASON_LEN];	/* why pre-copy ended */
	char dest_message[CTL_MSG_LEN];
	uint32_t nlog;			/* entries in log[] */
	/* failed after RESUME went out: the source VM was not resumed */
	uint32_t source_left_paused;
	struct ctl_round log[CTL_ROUND_LOG];
	/* guest impact (mig_impact.h): per vCPU, per window */
	uint32_t impact_windows;	/* bit w: window w was measured */
	uint32_t impact_isa;		/* GI_ISA_SVM, GI_ISA_VMX */
	uint32_t impact_nvcpus;
	uint32_t impact_pad;
	uint64_t impact_ns[CTL_IMPACT_WINDOWS];	/* each window's length */
	char impact_error[CTL_REASON_LEN];	/* why there are no figures */
	struct ctl_impact_vcpu impact[CTL_IMPACT_VCPUS];
	/* the pre-copy throttle (converge.h) */
	uint32_t throttle_mode;		/* enum ctl_throttle_mode */
	uint32_t throttle_max_pct;
	uint32_t throttle_rates;	/* enum ctl_throttle_rates */
	uint32_t throttle_nvcpus;	/* entries in throttle[] */
	uint32_t throttle_released;	/* every throttle undone */
	uint32_t throttle_pad;
	char throttle_error[CTL_REASON_LEN];	/* why it could not act */
	struct ctl_throttle_vcpu throttle[CTL_IMPACT_VCPUS];
};

enum ctl_reply_kind {
	CTL_R_FINAL = 1,
	CTL_R_PROGRESS,
	CTL_R_DENIED,		/* final: the caller is not root */
};

struct ctl_reply {
	uint32_t magic;
	uint32_t kind;			/* enum ctl_reply_kind */
	int32_t err;			/* 0 or -errno */
	uint32_t vm_id;
	char msg[CTL_MSG_LEN];		/* reason when err != 0 */
	union {
		struct ctl_status status;
		struct ctl_harvest harvest;
		struct ipc_stats stats;
		struct ctl_migrate migrate;
	} u;
};

#endif /* LT_AGENT_CTL_H */
