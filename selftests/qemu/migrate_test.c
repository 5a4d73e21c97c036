// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's device-only migration (case Q1 of Documentation/qemu.rst): two
 * unmodified QEMUs map the same RAM file (share=on), the destination
 * waits with -incoming defer -S, both have the x-ignore-shared
 * capability, and the source migrates over a unix socket. QEMU then
 * moves the devices, the vCPUs and its small private blocks (ROMs, ACPI
 * tables) and no page of the shared RAM. After cont on the destination
 * the guest runs on there and verifies all of its memory. No loosetrace
 * yet: this proves the split a loosetrace-driven migration builds on.
 */
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "qemu_test.h"

#define MIGRATE_MS	240000

FIXTURE(pair) {
	struct l2vm src, dst;
	char ram[96];
	int skipped;
};

FIXTURE_SETUP(pair)
{
	const char *missing = l2vm_missing();

	if (missing) {
		self->skipped = 1;
		SKIP(return, "%s", missing);
	}
}

FIXTURE_TEARDOWN(pair)
{
	if (self->skipped)
		return;
	if (!_metadata->passed) {
		printf("# source:\n");
		l2vm_dump(&self->src);
		printf("# destination:\n");
		l2vm_dump(&self->dst);
	}
	l2vm_stop(&self->dst);
	l2vm_stop(&self->src);
	if (self->ram[0])
		unlink(self->ram);
}

static void ignore_shared(struct __test_metadata *_metadata,
			  struct l2vm *vm)
{
	json_object *r;

	r = qmp_cmd(&vm->qmp, L2_CTL_MS, "migrate-set-capabilities",
		    "{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}");
	ASSERT_NE(NULL, r) TH_LOG("%s", vm->qmp.err);
	json_object_put(r);
}

/* Polls query-migrate until it is neither set up nor active. */
static json_object *migrate_done(struct __test_metadata *_metadata,
				 struct l2vm *vm, int timeout_ms)
{
	const char *st;
	json_object *r;
	int waited;

	for (waited = 0;; waited += 200) {
		r = qmp_cmd(&vm->qmp, L2_CTL_MS, "query-migrate", NULL);
		if (!r)
			return NULL;
		st = qmp_get_str(r, "status") ?: "";
		if (strcmp(st, "setup") && strcmp(st, "active") &&
		    strcmp(st, "device") && strcmp(st, "pre-switchover") &&
		    strcmp(st, "wait-unplug"))
			return r;
		json_object_put(r);
		if (waited >= timeout_ms)
			return NULL;
		usleep(200000);
	}
}

TEST_F_TIMEOUT(pair, device_only_migration, 600)
{
	struct l2vm_cfg cfg = L2_CFG("pc", "none");
	long long total = -1, transferred = -1, downtime = -1, ms = -1;
	uint64_t writes_src, writes_dst = 0, w = 0;
	char reply[512], uri[128];
	json_object *r;
	int i;

	if (self->skipped)
		return;
	l2_ram_path(self->ram, sizeof(self->ram), "q1");
	cfg.ram_path = self->ram;
	cfg.name = "src";
	ASSERT_EQ(0, l2_boot(&self->src, &cfg))
		TH_LOG("source boot: %s", self->src.err);
	cfg.name = "dst";
	cfg.incoming = 1;
	ASSERT_EQ(0, l2vm_start(&self->dst, &cfg))
		TH_LOG("destination start: %s", self->dst.err);
	ASSERT_EQ(0, l2vm_wait_status(&self->dst, "inmigrate", L2_CTL_MS))
		TH_LOG("%s", self->dst.err);

	ignore_shared(_metadata, &self->src);
	ignore_shared(_metadata, &self->dst);
	snprintf(uri, sizeof(uri), "{\"uri\":\"unix:%s\"}", self->dst.mig_path);
	r = qmp_cmd(&self->dst.qmp, L2_CTL_MS, "migrate-incoming", uri);
	ASSERT_NE(NULL, r) TH_LOG("%s", self->dst.qmp.err);
	json_object_put(r);

	/* The guest writes on the source until QEMU stops it to switch. */
	ASSERT_EQ(0, l2vm_ctl(&self->src, "stats", reply, sizeof(reply),
			      L2_CTL_MS)) TH_LOG("%s", self->src.err);
	ASSERT_EQ(0, l2vm_value(reply, "writes", &writes_src));
	r = qmp_cmd(&self->src.qmp, L2_CTL_MS, "migrate", uri);
	ASSERT_NE(NULL, r) TH_LOG("%s", self->src.qmp.err);
	json_object_put(r);

	r = migrate_done(_metadata, &self->src, MIGRATE_MS);
	ASSERT_NE(NULL, r) TH_LOG("source migration did not end: %s",
				  self->src.qmp.err);
	qmp_get_int(r, "ram.total", &total);
	qmp_get_int(r, "ram.transferred", &transferred);
	qmp_get_int(r, "downtime", &downtime);
	qmp_get_int(r, "total-time", &ms);
	printf("# source: %s, ram.total %lld, ram.transferred %lld, %s %lld ms, %s %lld ms\n",
	       qmp_get_str(r, "status") ?: "?", total, transferred,
	       "downtime", downtime, "total", ms);
	EXPECT_STREQ("completed", qmp_get_str(r, "status") ?: "");
	json_object_put(r);
	/* Only the private blocks: the shared RAM is not QEMU's to move. */
	EXPECT_LT(0, total);
	EXPECT_GT((long long)L2_RAM_MIB << 20 >> 3, total);
	EXPECT_GT((long long)L2_RAM_MIB << 20 >> 3, transferred);
	EXPECT_EQ(0, l2vm_wait_status(&self->src, "postmigrate", L2_CTL_MS))
		TH_LOG("%s", self->src.err);

	/* -S: loaded, and paused until told. */
	ASSERT_EQ(0, l2vm_wait_status(&self->dst, "paused", MIGRATE_MS))
		TH_LOG("%s", self->dst.err);
	r = migrate_done(_metadata, &self->dst, L2_CTL_MS);
	ASSERT_NE(NULL, r) TH_LOG("%s", self->dst.qmp.err);
	EXPECT_STREQ("completed", qmp_get_str(r, "status") ?: "");
	json_object_put(r);
	r = qmp_cmd(&self->dst.qmp, L2_CTL_MS, "cont", NULL);
	ASSERT_NE(NULL, r) TH_LOG("%s", self->dst.qmp.err);
	json_object_put(r);
	ASSERT_EQ(0, l2vm_wait_status(&self->dst, "running", L2_CTL_MS))
		TH_LOG("%s", self->dst.err);

	/* It runs on: its writer goes on past what it did on the source. */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, l2vm_ctl(&self->dst, "stats", reply,
				      sizeof(reply), L2_CTL_MS))
			TH_LOG("%s", self->dst.err);
		ASSERT_EQ(0, l2vm_value(reply, "writes", &writes_dst));
		if (i == 0)
			w = writes_dst;
		else if (writes_dst > w)
			break;
		usleep(100000);
	}
	printf("# writes: %llu before the migration, %llu on the destination\n",
	       (unsigned long long)writes_src, (unsigned long long)writes_dst);
	EXPECT_LT(writes_src, writes_dst);
	EXPECT_LT(w, writes_dst);
	ASSERT_EQ(0, l2_verify(&self->dst, reply, sizeof(reply)))
		TH_LOG("destination guest: %s", reply);
	printf("# destination guest: %s\n", reply);
}

TEST_HARNESS_MAIN
