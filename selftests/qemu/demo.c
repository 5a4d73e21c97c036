// SPDX-License-Identifier: GPL-2.0
/*
 * lt-qemu-demo, run in the test VM by `make demo-qemu`: a Linux guest of
 * Debian's unmodified QEMU, its RAM a shared file, live-migrated by two
 * loosetrace-agents while it writes, QEMU's own migration moving its
 * devices. Prints the QEMU command lines, agentctl check's verdict,
 * agentctl migrate's summary and the destination guest's verification
 * of every page of its buffer. Exits 0 only if the guest was migrated
 * and passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "qemu_test.h"

#define OUT_LEN		65536

static struct l2vm src, dst;
static struct lt_agent a_src, a_dst;
static char ram_src[96], ram_dst[96];

static void cleanup(void)
{
	lt_agent_stop(&a_src);
	lt_agent_stop(&a_dst);
	l2vm_stop(&dst);
	l2vm_stop(&src);
	unlink(ram_src);
	unlink(ram_dst);
}

static int fail(const char *what, const char *why)
{
	printf("lt-qemu-demo: %s: %s\n", what, why);
	lt_agent_dump(&a_src, "source agent");
	lt_agent_dump(&a_dst, "destination agent");
	l2vm_dump(&src);
	l2vm_dump(&dst);
	cleanup();
	return 1;
}

/* Prints the QEMU's command line, from /proc, one option a line. */
static void show_cmdline(const char *what, pid_t pid)
{
	char path[64], buf[4096];
	size_t n, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	printf("%s:\n   ", what);
	for (i = 0; i < n; i++) {
		if (buf[i])
			putchar(buf[i]);
		else if (i + 1 < n && buf[i + 1] == '-')
			printf(" \\\n     ");
		else
			putchar(' ');
	}
	putchar('\n');
}

static int agentctl_check(pid_t vm, const char *qmp)
{
	char cmd[256];
	int st;

	snprintf(cmd, sizeof(cmd), "agentctl check --vm %d --qmp %s 2>&1",
		 (int)vm, qmp);
	fflush(NULL);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	struct l2vm_cfg cfg = L2_CFG("pc", "none");
	static const char *const extra[] = {
		"--downtime-ms", L2_DOWNTIME_MS, NULL
	};
	uint64_t w0 = 0, w1 = 0;
	char reply[512], *out;
	const char *missing = l2vm_missing();

	if (missing) {
		printf("lt-qemu-demo: %s\n", missing);
		return 4;
	}
	out = malloc(OUT_LEN);
	if (!out)
		return 1;
	l2_ram_path(ram_src, sizeof(ram_src), "demo-src");
	l2_ram_path(ram_dst, sizeof(ram_dst), "demo-dst");

	printf("== the source: Debian's kernel and lt-qguest (%u MiB of %u MiB RAM %s)\n",
	       L2_BUF_MIB, L2_RAM_MIB, "it writes and checks");
	cfg.name = "src";
	cfg.ram_path = ram_src;
	if (l2_boot(&src, &cfg))
		return fail("source boot", src.err);
	show_cmdline("source QEMU", src.pid);
	if (l2vm_ctl(&src, "stats", reply, sizeof(reply), L2_CTL_MS))
		return fail("source guest", src.err);
	l2vm_value(reply, "writes", &w0);
	printf("source guest: %s\n", reply);

	printf("== the destination: the same command line, its own RAM file, -incoming defer -S\n");
	cfg.name = "dst";
	cfg.ram_path = ram_dst;
	cfg.incoming = 1;
	if (l2vm_start(&dst, &cfg))
		return fail("destination start", dst.err);
	if (l2vm_wait_status(&dst, "inmigrate", L2_CTL_MS))
		return fail("destination", dst.err);
	show_cmdline("destination QEMU", dst.pid);

	/* a QMP socket serves one client: the agents' turn */
	qmp_close(&src.qmp);
	qmp_close(&dst.qmp);
	if (lt_agent_start(&a_dst, "demo-dst", "7483", dst.qmp_path))
		return fail("destination agent", "did not start");
	if (lt_agent_start(&a_src, "demo-src", "7482", NULL))
		return fail("source agent", "did not start");

	printf("== agentctl check --vm %d --qmp %s\n", (int)src.pid,
	       src.qmp_path);
	if (agentctl_check(src.pid, src.qmp_path))
		return fail("agentctl check", "refused");

	printf("== agentctl migrate --vm %d --to 127.0.0.1:%s --qmp %s --downtime-ms %s\n",
	       (int)src.pid, a_dst.port, src.qmp_path, L2_DOWNTIME_MS);
	printf("(a downtime target for the emulator, where two agents and two QEMUs share one CPU)\n");
	if (lt_agent_migrate(&a_src, &a_dst, src.pid, src.qmp_path, 0, 1,
			     out, OUT_LEN, extra))
		return fail("agentctl migrate", "failed");

	printf("== after the migration\n");
	if (qmp_open(&src.qmp, src.qmp_path, L2_CTL_MS) ||
	    qmp_open(&dst.qmp, dst.qmp_path, L2_CTL_MS))
		return fail("QMP", "cannot reconnect");
	if (l2vm_wait_status(&src, "postmigrate", L2_CTL_MS))
		return fail("source", src.err);
	if (l2vm_wait_status(&dst, "running", L2_CTL_MS))
		return fail("destination", dst.err);
	printf("source QEMU: postmigrate (paused); destination QEMU: running\n");
	if (l2vm_ctl(&dst, "stats", reply, sizeof(reply), L2_CTL_MS))
		return fail("destination guest", dst.err);
	l2vm_value(reply, "writes", &w1);
	printf("destination guest: %s (%llu writes before the migration)\n",
	       reply, (unsigned long long)w0);
	if (l2_verify(&dst, reply, sizeof(reply)))
		return fail("destination guest's verification", reply);
	printf("destination guest's verification: %s\n", reply);
	cleanup();
	free(out);
	return w1 > w0 ? 0 : 1;
}
