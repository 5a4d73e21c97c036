/* SPDX-License-Identifier: GPL-2.0 */
/* Shared steps of the agent suite's tests. */
#ifndef LT_SELFTEST_AGENT_MIGRATE_H
#define LT_SELFTEST_AGENT_MIGRATE_H

#include "env.h"

#define OUT_LEN		32768
#define ERR_LEN		4096

/* Guest memory of the tests, MiB; the demo uses more. */
#define TEST_MIB	8

/*
 * A workload (lt-vmm's "mode all" syntax) that a real migration converges
 * on: each vCPU writes 98% of the time into a hot set of 1% of its
 * memory and otherwise anywhere, slowed down by a pause after each
 * write, so that the dirty set shrinks round after round to about the
 * hot set. Pages are still written all the time, epoch waits included.
 */
#define WL_CONVERGING	"hot hot=1 hotprob=98 delay=100000"
/*
 * One it does not converge on: uniform random writes, each round dirties
 * most of memory again, so pre-copy runs several full rounds before it
 * sees the dirty set stop shrinking (and fails: it cannot converge). A
 * fault aimed at a running migration hits it whatever the speed of the
 * machine.
 */
#define WL_BUSY		"random delay=20000"

struct mig_result {
	int rc;
	char out[OUT_LEN];
	char err[ERR_LEN];
};

/*
 * Source and destination VMMs and agents; the source guest writes every
 * page once, then runs @workload ("hot hot=1 ...", the arguments of
 * lt-vmm's "mode all" command). 0 or -errno.
 */
int bed_start(struct bed *b, unsigned int src_mib, unsigned int dst_mib,
	      const char *workload);
/* agentctl -j migrate from the source side; extra args NULL-ended. */
void migrate(struct bed *b, const char *mode, struct mig_result *r, ...);
/* Prints the figures of a finished migration as TAP comments. */
void report(const char *what, const struct mig_result *r);
int have_kvm(void);

#endif /* LT_SELFTEST_AGENT_MIGRATE_H */
