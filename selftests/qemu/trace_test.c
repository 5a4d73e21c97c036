// SPDX-License-Identifier: GPL-2.0
/*
 * The module on a guest of an unmodified QEMU 7.2, without migration
 * (case Q0 of Documentation/qemu.rst): QEMU with its RAM in a shared
 * file runs Debian's kernel and lt-qguest; the test takes QEMU's KVM VM
 * fd the way the agent does (pidfd_getfd), attaches, checks that the
 * writable memslots lie in the RAM file's mapping, traces in loose mode
 * while the guest writes, and checks every harvest against the RAM file
 * itself: a page whose content changed between two reads of the file
 * after an epoch completed must be in the next harvest. After
 * TRACE_STOP and DETACH the guest verifies all of its memory.
 *
 * With std VGA the module refuses TRACE_START today (QEMU dirty-logs
 * the VGA memory itself): that known limitation is tested as such.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "guest_abi.h"
#include "ltnl.h"
#include "qemu_test.h"
#include "vmfd.h"

#define ROUNDS		4
#define WRITE_WINDOW_US	1500000
#define EPOCH_MS	30000

/* The words a write of lt-qguest, or any other, is likely to change. */
#define SNAP_WORDS	4
static const unsigned int snap_word[SNAP_WORDS] = { 0, 1, 2, 511 };

FIXTURE(guest) {
	struct ltnl nl;
	struct l2vm vm;
	char ram[96];
	const uint64_t *mem;	/* the RAM file, read-only */
	uint64_t npages;
	uint32_t id;
	int pidfd, vmfd;
	int skipped;
};

FIXTURE_SETUP(guest)
{
	const char *missing = l2vm_missing();

	self->pidfd = -1;
	self->vmfd = -1;
	if (missing) {
		self->skipped = 1;
		SKIP(return, "%s", missing);
	}
	ASSERT_EQ(0, ltnl_open(&self->nl)) TH_LOG("loosetrace family missing");
}

/*
 * Boots the guest on @machine with @vga, maps its RAM file and takes
 * QEMU's VM fd the way the agent does (agent/vmfd.c).
 */
static void boot_guest(struct __test_metadata *_metadata,
		       FIXTURE_DATA(guest) *self, const char *machine,
		       const char *vga)
{
	struct l2vm_cfg cfg = L2_CFG(machine, vga);
	char why[256];
	int fd, num;

	cfg.name = "q0";
	l2_ram_path(self->ram, sizeof(self->ram), "q0");
	cfg.ram_path = self->ram;
	ASSERT_EQ(0, l2_boot(&self->vm, &cfg))
		TH_LOG("guest boot: %s", self->vm.err);
	self->npages = (uint64_t)L2_RAM_MIB << 20 >> 12;
	fd = open(self->ram, O_RDONLY);
	ASSERT_LE(0, fd);
	self->mem = mmap(NULL, self->npages << 12, PROT_READ, MAP_SHARED, fd,
			 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, self->mem);

	self->pidfd = vmfd_pidfd_open(self->vm.pid);
	ASSERT_LE(0, self->pidfd);
	num = vmfd_find(self->vm.pid, why, sizeof(why));
	ASSERT_LE(0, num) TH_LOG("%s", why);
	self->vmfd = vmfd_get(self->pidfd, num, why, sizeof(why));
	ASSERT_LE(0, self->vmfd) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(guest)
{
	if (self->skipped)
		return;
	if (self->id)
		ltnl_detach(&self->nl, self->id);
	if (!_metadata->passed)
		l2vm_dump(&self->vm);
	l2vm_stop(&self->vm);
	if (self->mem && self->mem != MAP_FAILED)
		munmap((void *)self->mem, self->npages << 12);
	if (self->ram[0])
		unlink(self->ram);
	if (self->vmfd >= 0)
		close(self->vmfd);
	if (self->pidfd >= 0)
		close(self->pidfd);
	ltnl_close(&self->nl);
}

/* Words of every page of the RAM file that a write changes. */
static void snapshot(const uint64_t *mem, uint64_t npages, uint64_t *snap)
{
	uint64_t p;
	int w;

	for (p = 0; p < npages; p++)
		for (w = 0; w < SNAP_WORDS; w++)
			snap[p * SNAP_WORDS + w] =
				__atomic_load_n(&mem[p * 512 + snap_word[w]],
						__ATOMIC_RELAXED);
}

/*
 * Marks the file pages of a harvest in @dirty (one byte a page), through
 * each slot's host address in QEMU's mapping of the file. Returns the
 * number of dirty pages, or -1 if a dirty page lies outside the file.
 */
static int64_t file_dirty(const struct ltnl_harvest *h,
			  const struct l2vm_map *m, uint64_t npages,
			  uint8_t *dirty)
{
	const struct ltnl_hslot *hs;
	uint64_t j, hva, page;
	int64_t n = 0;
	unsigned int i;

	memset(dirty, 0, npages);
	for (i = 0; i < h->nr; i++) {
		hs = &h->slots[i];
		for (j = 0; j < hs->npages; j++) {
			if (!((hs->bitmap[j / 64] >> (j % 64)) & 1))
				continue;
			n++;
			hva = hs->userspace_addr + j * 4096;
			if (hva < m->start || hva >= m->end)
				return -1;
			page = (hva - m->start + m->pgoff) / 4096;
			if (page >= npages)
				return -1;
			dirty[page] = 1;
		}
	}
	return n;
}

/* The VM_GET memslots, printed, and checked against the RAM mapping. */
static void check_slots(struct __test_metadata *_metadata,
			const struct ltnl_vm_info *vi,
			const struct l2vm_map *m, int *writable)
{
	unsigned int i;
	uint64_t end;

	*writable = 0;
	for (i = 0; i < vi->nr_slots; i++) {
		end = vi->slots[i].userspace_addr + vi->slots[i].npages * 4096;
		printf("# memslot %#x: gfn %#llx, %llu pages, flags %#x, hva %#llx%s\n",
		       vi->slots[i].id,
		       (unsigned long long)vi->slots[i].base_gfn,
		       (unsigned long long)vi->slots[i].npages,
		       vi->slots[i].flags,
		       (unsigned long long)vi->slots[i].userspace_addr,
		       vi->slots[i].userspace_addr >= m->start && end <= m->end ?
		       " (RAM file)" : "");
		if (vi->slots[i].flags & KVM_MEM_READONLY)
			continue;
		(*writable)++;
		EXPECT_LE(m->start, vi->slots[i].userspace_addr)
			TH_LOG("writable memslot %#x outside the RAM file",
			       vi->slots[i].id);
		EXPECT_GE(m->end, end)
			TH_LOG("writable memslot %#x outside the RAM file",
			       vi->slots[i].id);
	}
}

/*
 * Q0: attach, VM_GET, TRACE_START loose, harvests checked against the
 * RAM file while the guest writes, TRACE_STOP, DETACH; the guest then
 * verifies its memory.
 */
static void trace_cycle(struct __test_metadata *_metadata,
			FIXTURE_DATA(guest) *self, const char *machine)
{
	uint64_t *snap_a, *snap_b, p, before, after, changed, missed;
	struct ltnl_vm_info vi;
	struct ltnl_harvest h;
	struct l2vm_map map;
	char reply[512];
	uint8_t *dirty;
	int64_t ndirty;
	int writable, round, w, diff;
	unsigned int i;

	boot_guest(_metadata, self, machine, "none");
	ASSERT_EQ(0, l2vm_find_map(&self->vm, self->ram, &map))
		TH_LOG("%s", self->vm.err);
	EXPECT_EQ((uint64_t)L2_RAM_MIB << 20, map.end - map.start);
	ASSERT_EQ(0, map.pgoff);

	ASSERT_EQ(0, ltnl_attach(&self->nl, self->vmfd, &self->id))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ((uint32_t)self->vm.pid, vi.pid);
	EXPECT_EQ(1, vi.vcpus);
	ASSERT_GT(LTNL_MAX_SLOTS, vi.nr_slots)
		TH_LOG("more memslots than this test reads");
	check_slots(_metadata, &vi, &map, &writable);
	ASSERT_LT(0, writable);
	for (i = 0; i < vi.nr_slots; i++)
		EXPECT_FALSE(vi.slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES);

	ASSERT_EQ(0, ltnl_trace_start(&self->nl, self->id,
				      LOOSETRACE_MODE_LOOSE, 0))
		TH_LOG("%s", self->nl.err);
	/* Initially set: the first harvest reports every traced page. */
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h))
		TH_LOG("%s", self->nl.err);
	ASSERT_LT(0, h.nr);
	for (i = 0; i < h.nr; i++)
		EXPECT_EQ(h.slots[i].npages, h.slots[i].dirty);
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, 1, EPOCH_MS));

	snap_a = calloc(self->npages, SNAP_WORDS * sizeof(*snap_a));
	snap_b = calloc(self->npages, SNAP_WORDS * sizeof(*snap_b));
	dirty = calloc(self->npages, 1);
	ASSERT_TRUE(snap_a && snap_b && dirty);
	for (round = 0; round < ROUNDS; round++) {
		/*
		 * The previous epoch is done: every write made before now
		 * is in the file, every later one in the next harvest.
		 */
		snapshot(self->mem, self->npages, snap_a);
		usleep(WRITE_WINDOW_US);
		snapshot(self->mem, self->npages, snap_b);
		ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h))
			TH_LOG("%s", self->nl.err);
		EXPECT_EQ(round + 2, h.epoch);
		ndirty = file_dirty(&h, &map, self->npages, dirty);
		ltnl_harvest_free(&h);
		ASSERT_LE(0, ndirty) TH_LOG("a dirty page outside the RAM file");
		changed = 0;
		missed = 0;
		for (p = 0; p < self->npages; p++) {
			diff = 0;
			for (w = 0; w < SNAP_WORDS; w++)
				diff |= snap_a[p * SNAP_WORDS + w] !=
					snap_b[p * SNAP_WORDS + w];
			if (!diff)
				continue;
			changed++;
			if (dirty[p])
				continue;
			if (!missed++)
				printf("# page %#llx changed but not harvested (%s %#llx)\n",
				       (unsigned long long)p, "word 0 now",
				       (unsigned long long)snap_b[p * SNAP_WORDS]);
		}
		printf("# round %d: %lld pages dirty, %llu seen changed, %llu missed\n",
		       round, (long long)ndirty, (unsigned long long)changed,
		       (unsigned long long)missed);
		EXPECT_LT(0, ndirty);
		EXPECT_LT(0, changed);
		EXPECT_EQ(0, missed);
		ASSERT_EQ(0, ltnl_epoch_wait(&self->nl, self->id, round + 2,
					     EPOCH_MS))
			TH_LOG("epoch %d did not complete", round + 2);
	}
	free(snap_a);
	free(snap_b);
	free(dirty);

	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_OFF, vi.trace_state);
	for (i = 0; i < vi.nr_slots; i++)
		EXPECT_FALSE(vi.slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_EQ(0, ltnl_detach(&self->nl, self->id));
	self->id = 0;

	/* The guest still runs and its memory is intact. */
	ASSERT_EQ(0, l2vm_ctl(&self->vm, "stats", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->vm.err);
	ASSERT_EQ(0, l2vm_value(reply, "writes", &before));
	usleep(500000);
	ASSERT_EQ(0, l2_verify(&self->vm, reply, sizeof(reply)))
		TH_LOG("guest: %s", reply);
	printf("# guest: %s\n", reply);
	ASSERT_EQ(0, l2vm_value(reply, "writes", &after));
	EXPECT_LT(before, after);
}

TEST_F_TIMEOUT(guest, trace_cycle_pc, 500)
{
	if (!self->skipped)
		trace_cycle(_metadata, self, "pc");
}

TEST_F_TIMEOUT(guest, trace_cycle_q35, 500)
{
	if (!self->skipped)
		trace_cycle(_metadata, self, "q35");
}

/*
 * The guest's verdict can fail: a word of one of its pages changed from
 * outside (the test writes the RAM file while the guest is parked) is
 * found, and the page put back passes again.
 */
TEST_F_TIMEOUT(guest, verify_finds_a_changed_page, 300)
{
	uint64_t *page = NULL, *mem, p, saved, bad, first;
	char reply[512];
	int fd;

	if (self->skipped)
		return;
	boot_guest(_metadata, self, "pc", "none");
	ASSERT_EQ(0, l2vm_ctl(&self->vm, "park", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->vm.err);
	fd = open(self->ram, O_RDWR);
	ASSERT_LE(0, fd);
	mem = mmap(NULL, self->npages << 12, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, mem);
	/* A page of lt-qguest's buffer: its header names it. */
	for (p = self->npages / 2; p < self->npages && !page; p++)
		if (mem[p * 512] == LTG_PAGE_MAGIC && mem[p * 512 + 2] &&
		    mem[p * 512 + 511] == mem[p * 512 + 2])
			page = mem + p * 512;
	ASSERT_NE(NULL, page) TH_LOG("no page of the guest's buffer found");
	saved = page[100];
	page[100] = ~saved;
	ASSERT_EQ(0, l2vm_ctl(&self->vm, "verify", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->vm.err);
	printf("# changed: %s\n", reply);
	EXPECT_EQ(0, strncmp(reply, "verdict=fail ", 13));
	ASSERT_EQ(0, l2vm_value(reply, "bad", &bad));
	EXPECT_EQ(1, bad);
	ASSERT_EQ(0, l2vm_value(reply, "first_bad", &first));
	EXPECT_EQ(page[1], first);
	page[100] = saved;
	EXPECT_EQ(0, l2_verify(&self->vm, reply, sizeof(reply)))
		TH_LOG("put back: %s", reply);
	munmap(mem, self->npages << 12);
}

/*
 * QEMU dirty-logs the std VGA memory itself (vga_common_init), so once
 * the firmware mapped it one memslot carries KVM_MEM_LOG_DIRTY_PAGES. A
 * trace of the whole VM is refused (-EBUSY: that slot's log is QEMU's),
 * the guest left as it was; a trace limited to the RAM file's mapping
 * (the agent's LOOSETRACE_A_HVA_RANGE) skips the VGA slot, traces the
 * RAM, and at its stop leaves QEMU's logging on.
 */
/* A loose TRACE_START limited to @map (LOOSETRACE_A_HVA_RANGE). */
static int trace_start_range(struct ltnl *nl, uint32_t id,
			     const struct l2vm_map *map)
{
	struct ltnl_attr a[] = {
		{ LOOSETRACE_A_VM_ID, LTNL_U32, id },
		{ LOOSETRACE_A_MODE, LTNL_U32, LOOSETRACE_MODE_LOOSE },
		{ LOOSETRACE_A_HVA_RANGE, LTNL_HVA_RANGE, map->start,
		  map->end - map->start },
	};

	return ltnl_raw(nl, LOOSETRACE_CMD_TRACE_START, a, 3);
}

TEST_F_TIMEOUT(guest, vga_std_skipped_by_the_allow_list, 300)
{
	struct ltnl_vm_info vi;
	struct ltnl_harvest h;
	struct l2vm_map map;
	char reply[512];
	unsigned int i, logged = 0, traced = 0;
	int r;

	if (self->skipped)
		return;
	boot_guest(_metadata, self, "pc", "std");
	ASSERT_EQ(0, l2vm_find_map(&self->vm, self->ram, &map))
		TH_LOG("%s", self->vm.err);
	ASSERT_EQ(0, ltnl_attach(&self->nl, self->vmfd, &self->id))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	ASSERT_GT(LTNL_MAX_SLOTS, vi.nr_slots)
		TH_LOG("more memslots than this test reads");
	for (i = 0; i < vi.nr_slots; i++) {
		printf("# memslot %#x: gfn %#llx, %llu pages, flags %#x\n",
		       vi.slots[i].id,
		       (unsigned long long)vi.slots[i].base_gfn,
		       (unsigned long long)vi.slots[i].npages,
		       vi.slots[i].flags);
		logged += !!(vi.slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES);
	}
	ASSERT_LT(0, logged) TH_LOG("QEMU logs no memslot itself");

	r = ltnl_trace_start(&self->nl, self->id, LOOSETRACE_MODE_LOOSE, 0);
	printf("# TRACE_START of the whole VM: %d (%s)\n", r, self->nl.err);
	EXPECT_EQ(-EBUSY, r);
	EXPECT_NE(NULL, strstr(self->nl.err, "already dirty-logged"));
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	EXPECT_EQ(LOOSETRACE_TRACE_OFF, vi.trace_state);

	ASSERT_EQ(0, trace_start_range(&self->nl, self->id, &map))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	for (i = 0; i < vi.nr_slots; i++) {
		uint64_t hva = vi.slots[i].userspace_addr;
		int inside = hva >= map.start && hva < map.end;

		/* traced exactly where the RAM file is; QEMU's log kept */
		EXPECT_EQ(inside && !(vi.slots[i].flags & KVM_MEM_READONLY),
			  !!vi.slots[i].traced) TH_LOG("memslot %#x", vi.slots[i].id);
		traced += !!vi.slots[i].traced;
		if (!inside)
			continue;
		EXPECT_TRUE(vi.slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES);
	}
	ASSERT_LT(0, traced);
	ASSERT_EQ(0, ltnl_harvest(&self->nl, self->id, 0, 0, &h))
		TH_LOG("%s", self->nl.err);
	EXPECT_EQ(traced, h.nr);
	ltnl_harvest_free(&h);
	ASSERT_EQ(0, ltnl_trace_stop(&self->nl, self->id))
		TH_LOG("%s", self->nl.err);
	ASSERT_EQ(0, ltnl_vm_get(&self->nl, self->id, &vi));
	for (i = 0, r = 0; i < vi.nr_slots; i++)
		r += !!(vi.slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES);
	EXPECT_EQ(logged, r) TH_LOG("QEMU's own dirty logging was not kept");
	ASSERT_EQ(0, ltnl_detach(&self->nl, self->id));
	self->id = 0;
	EXPECT_EQ(0, l2_verify(&self->vm, reply, sizeof(reply)))
		TH_LOG("guest: %s", reply);
}

TEST_HARNESS_MAIN
