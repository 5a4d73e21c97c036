// SPDX-License-Identifier: GPL-2.0
/*
 * Running the vCPUs: one thread per vCPU around KVM_RUN, the I/O ports
 * the guest reports through, host-side pause/resume (vCPUs out of
 * KVM_RUN), and guest-side commands (park, verify) through the control
 * block and a doorbell interrupt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "vmm_internal.h"

static void deadline_in(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void handle_io(struct vmm_vcpu *v, bool *fatal)
{
	struct kvm_run *run = v->run;
	struct vmm *vm = v->vm;
	uint32_t val = 0;

	v->io_exits++;
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4) {
		vmm_fail(vm, "vCPU %u: unexpected I/O %s port %#x size %u",
			 v->id, run->io.direction ? "out" : "in",
			 run->io.port, run->io.size);
		*fatal = true;
		return;
	}
	memcpy(&val, (char *)run + run->io.data_offset, sizeof(val));
	switch (run->io.port) {
	case LTG_PORT_BOOTED:
		v->booted = true;
		break;
	case LTG_PORT_PROGRESS:
		v->progress_exits++;
		break;
	case LTG_PORT_PARKED:
	case LTG_PORT_VERDICT:
		pthread_mutex_lock(&vm->lock);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		break;
	case LTG_PORT_EXCEPTION: {
		struct ltg_vcpu_status *st = &vmm_ctl(vm)->st[v->id];

		vmm_fail(vm, "vCPU %u: guest exception vector %u at rip %#llx",
			 v->id, val, (unsigned long long)st->fault_rip);
		*fatal = true;
		break;
	}
	default:
		vmm_fail(vm, "vCPU %u: write to unknown port %#x", v->id,
			 run->io.port);
		*fatal = true;
	}
}

/* Returns true when the thread must end. */
static bool park_or_stop(struct vmm_vcpu *v)
{
	struct vmm *vm = v->vm;
	bool stop;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_req && !vm->stop_req) {
		v->parked = true;
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_req && !vm->stop_req)
			pthread_cond_wait(&vm->cond, &vm->lock);
		v->parked = false;
	}
	stop = vm->stop_req;
	pthread_mutex_unlock(&vm->lock);
	return stop;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_SHUTDOWN: return "shutdown (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "entry failure";
	case KVM_EXIT_INTERNAL_ERROR: return "internal error";
	case KVM_EXIT_MMIO: return "MMIO outside guest memory";
	case KVM_EXIT_HLT: return "HLT in userspace";
	default: return "unexpected exit";
	}
}

/*
 * KVM_RUN is always re-entered, even with a pause pending: with
 * immediate_exit set it completes a pending port write and returns EINTR
 * at once, so that a parked vCPU's saved state never has an unfinished
 * instruction.
 */
void *vmm_vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	struct vmm *vm = v->vm;
	bool fatal = false;

	pthread_mutex_lock(&vm->lock);
	v->tid = syscall(SYS_gettid);
	pthread_mutex_unlock(&vm->lock);
	while (!fatal) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				vmm_fail(vm, "vCPU %u: KVM_RUN: %s", v->id,
					 strerror(errno));
				break;
			}
			if (park_or_stop(v))
				break;
			continue;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v, &fatal);
			break;
		case KVM_EXIT_INTR:
			if (park_or_stop(v))
				fatal = true;
			break;
		default:
			vmm_fail(vm, "vCPU %u: %s (exit reason %u)", v->id,
				 exit_name(v->run->exit_reason),
				 v->run->exit_reason);
			fatal = true;
		}
	}
	pthread_mutex_lock(&vm->lock);
	v->exited = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vmm_start(struct vmm *vm)
{
	unsigned int i;
	int ret;

	if (vm->started)
		return -EALREADY;
	if (vm->incoming) {
		vmm_set_error(vm, "incoming VM: restore its vCPU state first");
		return -EINVAL;
	}
	vm->started = true;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vm->vcpus[i];

		ret = pthread_create(&v->thread, NULL, vmm_vcpu_thread, v);
		if (ret) {
			vmm_fail(vm, "vCPU %u thread: %s", i, strerror(ret));
			return -ret;
		}
		v->thread_started = true;
	}
	return 0;
}

int vmm_vcpu_pin(struct vmm *vm, unsigned int vcpu, int cpu)
{
	cpu_set_t set;

	if (vcpu >= vm->nr_vcpus || !vm->vcpus[vcpu].thread_started ||
	    cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(vm->vcpus[vcpu].thread, sizeof(set),
				       &set);
}

static unsigned int count_out_of_guest(struct vmm *vm)
{
	unsigned int i, n = 0;

	for (i = 0; i < vm->nr_vcpus; i++)
		n += vm->vcpus[i].parked || vm->vcpus[i].exited ||
		     !vm->vcpus[i].thread_started;
	return n;
}

int vmm_pause(struct vmm *vm, unsigned int timeout_ms)
{
	struct timespec ts;
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGUSR1);
	}
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&vm->lock);
	while (count_out_of_guest(vm) < vm->nr_vcpus && !ret)
		ret = pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	pthread_mutex_unlock(&vm->lock);
	if (ret) {
		vmm_set_error(vm, "pause: vCPUs still running after %u ms",
			      timeout_ms);
		return -ETIMEDOUT;
	}
	return 0;
}

int vmm_resume(struct vmm *vm)
{
	unsigned int i;

	if (vm->incoming) {
		vmm_set_error(vm, "incoming VM: restore its vCPU state first");
		return -EINVAL;
	}
	if (!vm->started)
		return vmm_start(vm);
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		__atomic_store_n(&vm->vcpus[i].run->immediate_exit, 0,
				 __ATOMIC_SEQ_CST);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

bool vmm_paused(struct vmm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->lock);
	p = vm->pause_req || !vm->started;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

/* An MSI to each vCPU's x2APIC: ends a HLT so the guest re-reads ctl. */
void vmm_ring_doorbells(struct vmm *vm)
{
	struct kvm_msi msi;
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		memset(&msi, 0, sizeof(msi));
		msi.address_lo = 0xfee00000u | (i << 12);
		msi.data = LTG_VEC_DOORBELL;
		ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	}
}

/* cmd_seq before cmd: a guest that sees the new cmd sees its seq. */
static uint32_t set_cmd(struct vmm *vm, uint32_t cmd)
{
	struct ltg_ctl *ctl = vmm_ctl(vm);
	uint32_t seq = __atomic_load_n(&ctl->cmd_seq, __ATOMIC_SEQ_CST) + 1;

	__atomic_store_n(&ctl->cmd_seq, seq, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ctl->cmd, cmd, __ATOMIC_SEQ_CST);
	vmm_ring_doorbells(vm);
	return seq;
}

static bool guest_all_parked(struct vmm *vm, uint32_t seq)
{
	struct ltg_ctl *ctl = vmm_ctl(vm);
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (__atomic_load_n(&ctl->st[i].state, __ATOMIC_SEQ_CST) !=
		    LTG_STATE_PARKED ||
		    __atomic_load_n(&ctl->st[i].parked_seq,
				    __ATOMIC_SEQ_CST) != seq)
			return false;
	return true;
}

/* Waits, on the vCPU threads' port exits, until done(vm, seq) holds. */
static int check_running(struct vmm *vm)
{
	if (vm->incoming || !vm->started || vmm_paused(vm)) {
		vmm_set_error(vm, "the guest is not running");
		return -EINVAL;
	}
	return 0;
}

static int wait_guest(struct vmm *vm, uint32_t seq, unsigned int timeout_ms,
		      bool (*done)(struct vmm *vm, uint32_t seq))
{
	struct timespec ts;
	int ret = 0;

	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&vm->lock);
	while (!done(vm, seq) && !vm->failed && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	pthread_mutex_unlock(&vm->lock);
	if (done(vm, seq))
		return 0;
	if (vm->failed)
		return -EIO;
	vmm_set_error(vm, "guest did not answer within %u ms", timeout_ms);
	return -ETIMEDOUT;
}

int vmm_guest_park(struct vmm *vm, unsigned int timeout_ms)
{
	if (check_running(vm))
		return -EINVAL;
	return wait_guest(vm, set_cmd(vm, LTG_CMD_PARK), timeout_ms,
			  guest_all_parked);
}

int vmm_guest_run(struct vmm *vm)
{
	set_cmd(vm, LTG_CMD_RUN);
	return 0;
}

static bool verdict_ready(struct vmm *vm, uint32_t seq)
{
	return __atomic_load_n(&vmm_ctl(vm)->verify_seq, __ATOMIC_SEQ_CST) ==
	       seq;
}

/*
 * Every vCPU finishes its current write and parks; vCPU 0 checks every
 * data page against the generation table. The guest stays parked: call
 * vmm_guest_run() to let it write again.
 */
int vmm_verify(struct vmm *vm, struct vmm_verdict *v, unsigned int timeout_ms)
{
	struct ltg_ctl *ctl = vmm_ctl(vm);
	int ret;

	if (check_running(vm))
		return -EINVAL;
	ret = wait_guest(vm, set_cmd(vm, LTG_CMD_VERIFY), timeout_ms,
			 verdict_ready);
	if (ret)
		return ret;
	memset(v, 0, sizeof(*v));
	v->pages = ctl->verify_pages;
	v->written = ctl->verify_written;
	v->bad = ctl->verify_bad;
	v->first_bad_gfn = ctl->verify_first_bad;
	v->bad_gen = ctl->verify_bad_gen;
	v->want_gen = ctl->verify_want_gen;
	v->pass = !v->bad && v->pages;
	return 0;
}

int vmm_vcpu_info(struct vmm *vm, unsigned int vcpu,
		  struct vmm_vcpu_info *info)
{
	struct vmm_vcpu *v;

	if (vcpu >= vm->nr_vcpus)
		return -EINVAL;
	v = &vm->vcpus[vcpu];
	memset(info, 0, sizeof(*info));
	memcpy(&info->guest, &vmm_ctl(vm)->st[vcpu], sizeof(info->guest));
	pthread_mutex_lock(&vm->lock);
	info->io_exits = v->io_exits;
	info->progress_exits = v->progress_exits;
	info->booted = v->booted;
	info->exited = v->exited;
	info->tid = v->tid;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

uint64_t vmm_writes(struct vmm *vm, unsigned int vcpu)
{
	if (vcpu >= vm->nr_vcpus)
		return 0;
	return __atomic_load_n(&vmm_ctl(vm)->st[vcpu].writes,
			       __ATOMIC_SEQ_CST);
}

uint64_t vmm_total_writes(struct vmm *vm)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		n += vmm_writes(vm, i);
	return n;
}

int vmm_wait_writes(struct vmm *vm, uint64_t n, unsigned int timeout_ms)
{
	return vmm_wait_vcpu_writes(vm, -1, n, timeout_ms);
}

int vmm_wait_vcpu_writes(struct vmm *vm, int vcpu, uint64_t n,
			 unsigned int timeout_ms)
{
	struct timespec start, now, nap = { 0, 1000000 };
	unsigned int i, lo = vcpu < 0 ? 0 : vcpu;
	unsigned int hi = vcpu < 0 ? vm->nr_vcpus : lo + 1;

	if (vcpu >= (int)vm->nr_vcpus)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		for (i = lo; i < hi; i++)
			if (vmm_writes(vm, i) < n)
				break;
		if (i == hi)
			return 0;
		if (vmm_failed(vm))
			return -EIO;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 >= timeout_ms) {
			vmm_set_error(vm, "vCPU %u: %llu writes after %u ms, wanted %llu",
				      i, (unsigned long long)vmm_writes(vm, i),
				      timeout_ms, (unsigned long long)n);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
}
