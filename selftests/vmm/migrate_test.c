// SPDX-License-Identifier: GPL-2.0
/*
 * Moving a guest to a second VM, the way a migration does: pause the
 * source, save its vCPU state, give the destination the same memory
 * (the very file, or a copy of it), restore, run, and let the guest
 * verify every page. A copy that lost one write fails the verification;
 * damaged or mismatched state blobs are refused. Skips without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define MIB	16

FIXTURE(migrate)
{
	struct vmm *src;
	char src_path[64];
	char dst_path[64];
	char err[512];
	void *blob;
	size_t blob_len;
};

FIXTURE_SETUP(migrate)
{
	struct ltg_vcpu_cfg wl;

	self->src = NULL;
	self->blob = NULL;
	snprintf(self->src_path, sizeof(self->src_path),
		 "/tmp/ltvmm-migrate-%d-src", getpid());
	snprintf(self->dst_path, sizeof(self->dst_path),
		 "/tmp/ltvmm-migrate-%d-dst", getpid());
	if (!vt_have_kvm())
		SKIP(return, "no /dev/kvm");
	self->src = vt_create(2, MIB, self->src_path, LTG_MODE_SEQ,
			      self->err, sizeof(self->err));
	ASSERT_NE(NULL, self->src) TH_LOG("%s", self->err);
	/* vCPU 0 sweeps, vCPU 1 writes at random. */
	vmm_workload_default(&wl, LTG_MODE_RANDOM);
	ASSERT_EQ(0, vmm_set_workload(self->src, 1, &wl));
	ASSERT_EQ(0, vmm_start(self->src));
}

FIXTURE_TEARDOWN(migrate)
{
	vmm_destroy(self->src);
	free(self->blob);
	unlink(self->src_path);
	unlink(self->dst_path);
}

/* Pauses the source once it has written enough, and saves its state. */
static void pause_and_save(struct __test_metadata *_metadata,
			   struct vmm *src, uint64_t min_writes, void **blob,
			   size_t *len)
{
	ASSERT_EQ(0, vmm_wait_writes(src, min_writes, VT_TIMEOUT_MS))
		TH_LOG("%s", vmm_error(src));
	ASSERT_EQ(0, vmm_pause(src, VT_TIMEOUT_MS));
	ASSERT_EQ(0, vmm_save_state(src, blob, len))
		TH_LOG("%s", vmm_error(src));
}

static struct vmm *incoming(struct __test_metadata *_metadata,
			    const char *path, unsigned int vcpus,
			    char *err, size_t errlen)
{
	struct vmm_config cfg = {
		.nr_vcpus = vcpus,
		.mem_bytes = (uint64_t)MIB << 20,
		.mem_path = path,
		.incoming = true,
	};

	return vmm_create(&cfg, err, errlen);
}

/* Copies the source's memory into a file, as the migration agent would. */
static int copy_memory(struct vmm *src, const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, vmm_mem(src), vmm_mem_bytes(src));
	close(fd);
	return n == (ssize_t)vmm_mem_bytes(src) ? 0 : -1;
}

static void run_and_verify(struct __test_metadata *_metadata,
			   struct vmm *dst, const uint64_t *src_writes)
{
	struct vmm_verdict v;
	unsigned int i;

	ASSERT_EQ(0, vmm_start(dst)) TH_LOG("%s", vmm_error(dst));
	/* The guest goes on from where the source stopped. */
	for (i = 0; i < 2; i++)
		ASSERT_LE(src_writes[i], vmm_writes(dst, i));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, vmm_wait_vcpu_writes(dst, i, src_writes[i] + 50,
						  VT_TIMEOUT_MS))
			TH_LOG("%s", vmm_error(dst));
	ASSERT_EQ(0, vmm_verify(dst, &v, VT_TIMEOUT_MS))
		TH_LOG("%s", vmm_error(dst));
	EXPECT_TRUE(v.pass) TH_LOG("bad %llu first %#llx",
				   (unsigned long long)v.bad,
				   (unsigned long long)v.first_bad_gfn);
	EXPECT_LT(0, v.written);
	EXPECT_FALSE(vmm_failed(dst));
}

TEST_F_TIMEOUT(migrate, same_memory_file, 120)
{
	uint64_t writes[2];
	struct vmm *dst;

	if (!self->src)
		SKIP(return, "no /dev/kvm");
	pause_and_save(_metadata, self->src, 500, &self->blob,
		       &self->blob_len);
	writes[0] = vmm_writes(self->src, 0);
	writes[1] = vmm_writes(self->src, 1);
	vmm_destroy(self->src);
	self->src = NULL;

	dst = incoming(_metadata, self->src_path, 2, self->err,
		       sizeof(self->err));
	ASSERT_NE(NULL, dst) TH_LOG("%s", self->err);
	ASSERT_EQ(0, vmm_restore_state(dst, self->blob, self->blob_len))
		TH_LOG("%s", vmm_error(dst));
	run_and_verify(_metadata, dst, writes);
	vmm_destroy(dst);
}

TEST_F_TIMEOUT(migrate, copied_memory, 120)
{
	struct vmm_verdict v;
	uint64_t writes[2];
	struct vmm *dst;

	if (!self->src)
		SKIP(return, "no /dev/kvm");
	pause_and_save(_metadata, self->src, 500, &self->blob,
		       &self->blob_len);
	writes[0] = vmm_writes(self->src, 0);
	writes[1] = vmm_writes(self->src, 1);
	ASSERT_EQ(0, copy_memory(self->src, self->dst_path));

	dst = incoming(_metadata, self->dst_path, 2, self->err,
		       sizeof(self->err));
	ASSERT_NE(NULL, dst) TH_LOG("%s", self->err);
	ASSERT_EQ(0, vmm_restore_state(dst, self->blob, self->blob_len))
		TH_LOG("%s", vmm_error(dst));
	run_and_verify(_metadata, dst, writes);
	vmm_destroy(dst);

	/* The source, untouched by all this, resumes and agrees too. */
	ASSERT_EQ(0, vmm_resume(self->src));
	ASSERT_EQ(0, vmm_verify(self->src, &v, VT_TIMEOUT_MS));
	EXPECT_TRUE(v.pass);
}

TEST_F_TIMEOUT(migrate, lost_write_fails, 120)
{
	struct vmm_vcpu_info info;
	struct ltg_vcpu_cfg wl;
	char old[LTG_PAGE_SIZE];
	struct vmm_verdict v;
	uint64_t first, count, gfn;
	uint32_t gen;
	struct vmm *dst;
	int fd;

	if (!self->src)
		SKIP(return, "no /dev/kvm");
	vmm_vcpu_region(self->src, 0, &first, &count);
	pause_and_save(_metadata, self->src, count + 1, &self->blob,
		       &self->blob_len);
	/*
	 * The page vCPU 0's sweep wrote last: a resumed guest that went on
	 * sweeping would come back to it last, a whole sweep away. (The
	 * destination below writes nothing more anyway: any page it
	 * rewrote before the check would heal the lost write.)
	 */
	ASSERT_EQ(0, vmm_vcpu_info(self->src, 0, &info));
	gfn = info.guest.last_gfn;
	ASSERT_LE(first, gfn);
	ASSERT_GT(first + count, gfn);
	gen = vmm_table_gen(self->src, gfn);
	ASSERT_LE(1, gen);
	ASSERT_EQ(0, vmm_page_check(self->src, gfn, gen));
	/* The page as it was before that write. */
	vmm_page_expected(gfn, gen - 1, old);

	/* A copy that missed that last write. */
	ASSERT_EQ(0, copy_memory(self->src, self->dst_path));
	fd = open(self->dst_path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(old), pwrite(fd, old, sizeof(old),
				      gfn * LTG_PAGE_SIZE));
	close(fd);

	dst = incoming(_metadata, self->dst_path, 2, self->err,
		       sizeof(self->err));
	ASSERT_NE(NULL, dst) TH_LOG("%s", self->err);
	ASSERT_EQ(0, vmm_restore_state(dst, self->blob, self->blob_len));
	/* It finishes the write it was in at the pause, then idles. */
	vmm_workload_default(&wl, LTG_MODE_IDLE);
	ASSERT_EQ(0, vmm_set_workload(dst, -1, &wl));
	ASSERT_EQ(0, vmm_start(dst));
	ASSERT_EQ(0, vmm_verify(dst, &v, VT_TIMEOUT_MS));
	EXPECT_FALSE(v.pass);
	EXPECT_EQ(1, v.bad);
	EXPECT_EQ(gfn, v.first_bad_gfn);
	vmm_destroy(dst);
}

TEST_F_TIMEOUT(migrate, bad_state_refused, 120)
{
	unsigned char *bad;
	struct vmm *dst;
	void *blob;
	size_t len;

	if (!self->src)
		SKIP(return, "no /dev/kvm");
	/* Saving needs a paused VM. */
	EXPECT_EQ(-EBUSY, vmm_save_state(self->src, &blob, &len));
	pause_and_save(_metadata, self->src, 10, &self->blob,
		       &self->blob_len);
	ASSERT_EQ(0, copy_memory(self->src, self->dst_path));

	/* A blob for 2 vCPUs does not go into a VM with 3. */
	dst = incoming(_metadata, self->dst_path, 3, self->err,
		       sizeof(self->err));
	ASSERT_NE(NULL, dst) TH_LOG("%s", self->err);
	EXPECT_EQ(-EINVAL, vmm_restore_state(dst, self->blob, self->blob_len));
	EXPECT_NE(NULL, strstr(vmm_error(dst), "vCPUs"));
	vmm_destroy(dst);

	dst = incoming(_metadata, self->dst_path, 2, self->err,
		       sizeof(self->err));
	ASSERT_NE(NULL, dst) TH_LOG("%s", self->err);
	/* One flipped byte, and a truncated blob. */
	bad = malloc(self->blob_len);
	ASSERT_NE(NULL, bad);
	memcpy(bad, self->blob, self->blob_len);
	bad[self->blob_len / 2] ^= 0x40;
	EXPECT_EQ(-EINVAL, vmm_restore_state(dst, bad, self->blob_len));
	EXPECT_NE(NULL, strstr(vmm_error(dst), "checksum"));
	EXPECT_EQ(-EINVAL, vmm_restore_state(dst, self->blob,
					     self->blob_len - 8));
	free(bad);
	/* Nothing was restored: the VM cannot start. */
	EXPECT_EQ(-EINVAL, vmm_start(dst));
	/* The good blob still goes in. */
	EXPECT_EQ(0, vmm_restore_state(dst, self->blob, self->blob_len));
	vmm_destroy(dst);

	/* A fresh (not incoming) VM takes no state. */
	EXPECT_EQ(-EINVAL, vmm_restore_state(self->src, self->blob,
					     self->blob_len));
}

TEST_F_TIMEOUT(migrate, memory_size_mismatch_refused, 120)
{
	struct vmm_config cfg = {
		.nr_vcpus = 2,
		.mem_bytes = (uint64_t)2 * MIB << 20,
		.incoming = true,
	};
	struct vmm *dst;

	if (!self->src)
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, vmm_pause(self->src, VT_TIMEOUT_MS));
	ASSERT_EQ(0, copy_memory(self->src, self->dst_path));
	cfg.mem_path = self->dst_path;
	dst = vmm_create(&cfg, self->err, sizeof(self->err));
	EXPECT_EQ(NULL, dst);
	EXPECT_NE(NULL, strstr(self->err, "bytes"));
	vmm_destroy(dst);
}

TEST_HARNESS_MAIN
