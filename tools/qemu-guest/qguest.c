// SPDX-License-Identifier: GPL-2.0
/*
 * lt-qguest: the workload of the QEMU test guest (a Linux guest of an
 * unmodified QEMU, run by selftests/qemu). It fills a buffer of its own
 * memory with pages whose content follows from (page index, generation),
 * the scheme of tools/vmm/guest_abi.h, keeps every page's generation in a
 * table (also in its memory), then rewrites random pages forever. On
 * command it checks every page against the table and prints a verdict.
 *
 * Everything it needs to verify is in guest RAM, so a guest whose RAM
 * reached another QEMU intact verifies there, and one whose RAM lost or
 * mixed up a page fails.
 *
 * Control is a line protocol on a serial port (port I/O: QEMU never
 * writes guest RAM for it, unlike a virtio channel's DMA). lt-qguest
 * drives the UART itself through /dev/port, polled, with its interrupts
 * off, instead of reading the kernel's ttyS1: one guest interrupt source
 * fewer under KVM nested in QEMU's emulator, which delivers some guest
 * interrupts twice (Documentation/qemu.rst, "Limits"). /dev/port, not
 * ioperm(): there, user-mode port I/O that the TSS bitmap allows faulted
 * (lt-qguest died of SIGSEGV). The host sends nothing until lt-qguest
 * says "ready" on the console, which it does once it polls the port.
 *   "<cmd> <seq>"  ->  "ok <seq> ..." or "err <seq> <reason>"
 * with cmd one of
 *   stats   writes=W parked=P pages=N
 *   park    stops the writer; replies once it stopped
 *   run     lets it write again
 *   verify  stops the writer, checks every page, lets it go on if it ran:
 *           verdict=pass|fail pages=N written=W bad=B first_bad=I
 *           want_gen=G got_gen=H word=K writes=X
 * The sequence number lets the host drop replies to commands it sent
 * before the guest listened.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "guest_abi.h"

/* 16550 registers, offsets from the port's base */
#define UART_RBR	0	/* receive buffer (read) */
#define UART_THR	0	/* transmit holding (write) */
#define UART_IER	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_LSR_DR	0x01	/* a byte was received */
#define UART_LSR_THRE	0x20	/* room to transmit */
#define UART_POLL_US	2000	/* between two looks for a received byte */

#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct qguest {
	uint64_t *mem;		/* npages data pages */
	uint32_t *gen;		/* generation of each, 0: never written */
	uint64_t npages;
	uint64_t writes;	/* page writes done */
	int park_req;		/* host asked the writer to stop */
	int parked;		/* the writer stopped */
	int filled;		/* every page was written once */
	unsigned int delay_us;	/* sleep after every 64 writes */
};

static struct qguest g;

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Page first, table entry after: a verify never expects a newer page. */
static void write_page(uint64_t idx)
{
	uint64_t gen = (uint64_t)g.gen[idx] + 1;

	if (gen > UINT32_MAX)
		gen = 1;
	ltg_page_fill(g.mem + idx * LTG_PAGE_WORDS, idx, gen);
	ltg_barrier();
	g.gen[idx] = gen;
	WRITE_ONCE(g.writes, g.writes + 1);
}

static void *writer(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL, i;

	(void)arg;
	for (i = 0;; i++) {
		if (READ_ONCE(g.park_req)) {
			WRITE_ONCE(g.parked, 1);
			while (READ_ONCE(g.park_req))
				usleep(1000);
			WRITE_ONCE(g.parked, 0);
		}
		if (i < g.npages) {
			write_page(i);
			if (i == g.npages - 1)
				WRITE_ONCE(g.filled, 1);
		} else {
			write_page(xorshift64(&rng) % g.npages);
		}
		if (g.delay_us && !(i & 63))
			usleep(g.delay_us);
	}
	return NULL;
}

static void park(void)
{
	WRITE_ONCE(g.park_req, 1);
	while (!READ_ONCE(g.parked))
		usleep(1000);
}

static void unpark(void)
{
	WRITE_ONCE(g.park_req, 0);
	while (READ_ONCE(g.parked))
		usleep(1000);
}

/* Checks every page; the writer is parked. Appends the verdict to out. */
static void verify(char *out, size_t len)
{
	uint64_t idx, bad = 0, written = 0, first_bad = ~0ULL, word = 0;
	uint64_t want = 0, got = 0, r;

	for (idx = 0; idx < g.npages; idx++) {
		const uint64_t *p = g.mem + idx * LTG_PAGE_WORDS;

		if (g.gen[idx])
			written++;
		r = ltg_page_check(p, idx, g.gen[idx]);
		if (!r)
			continue;
		if (!bad++) {
			first_bad = idx;
			word = r - 1;
			want = g.gen[idx];
			got = p[LTG_WORD_GEN];
		}
	}
	snprintf(out, len,
		 "verdict=%s pages=%llu written=%llu bad=%llu first_bad=%lld want_gen=%llu got_gen=%llu word=%llu writes=%llu",
		 bad ? "fail" : "pass", (unsigned long long)g.npages,
		 (unsigned long long)written, (unsigned long long)bad,
		 (long long)first_bad, (unsigned long long)want,
		 (unsigned long long)got, (unsigned long long)word,
		 (unsigned long long)READ_ONCE(g.writes));
}

static int port_fd = -1;

/* One byte of port I/O, done by the kernel (/dev/port's offset is the port). */
static unsigned char inb(unsigned int port)
{
	unsigned char v = 0xff;

	if (pread(port_fd, &v, 1, port) != 1) {
		perror("lt-qguest: /dev/port read");
		exit(1);
	}
	return v;
}

static void outb(unsigned char v, unsigned int port)
{
	if (pwrite(port_fd, &v, 1, port) != 1) {
		perror("lt-qguest: /dev/port write");
		exit(1);
	}
}

static void uart_putc(unsigned int port, char c)
{
	while (!(inb(port + UART_LSR) & UART_LSR_THRE))
		;
	outb(c, port + UART_THR);
}

static char uart_getc(unsigned int port)
{
	while (!(inb(port + UART_LSR) & UART_LSR_DR))
		usleep(UART_POLL_US);
	return inb(port + UART_RBR);
}

/* Polled, interrupts off, 8N1, FIFOs on and emptied. */
static int uart_open(unsigned int port)
{
	port_fd = open("/dev/port", O_RDWR | O_CLOEXEC);
	if (port_fd < 0) {
		fprintf(stderr, "lt-qguest: /dev/port: %s\n", strerror(errno));
		return -1;
	}
	outb(0, port + UART_IER);
	outb(0x03, port + UART_LCR);
	outb(0x07, port + UART_FCR);
	outb(0x03, port + UART_MCR);
	while (inb(port + UART_LSR) & UART_LSR_DR)
		inb(port + UART_RBR);
	return 0;
}

static void reply(unsigned int port, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t i, n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	for (i = 0; i < n; i++)
		uart_putc(port, buf[i]);
}

static void serve_command(unsigned int port, char *line)
{
	char cmd[32], verdict[400];
	unsigned long seq;
	int ran;

	if (sscanf(line, "%31s %lu", cmd, &seq) != 2)
		return;		/* noise on the line: no seq to answer */
	if (!strcmp(cmd, "stats")) {
		reply(port, "ok %lu writes=%llu parked=%d pages=%llu", seq,
		      (unsigned long long)READ_ONCE(g.writes),
		      READ_ONCE(g.parked), (unsigned long long)g.npages);
	} else if (!strcmp(cmd, "park")) {
		park();
		reply(port, "ok %lu parked writes=%llu", seq,
		      (unsigned long long)READ_ONCE(g.writes));
	} else if (!strcmp(cmd, "run")) {
		unpark();
		reply(port, "ok %lu running", seq);
	} else if (!strcmp(cmd, "verify")) {
		ran = !READ_ONCE(g.park_req);
		park();
		verify(verdict, sizeof(verdict));
		if (ran)
			unpark();
		reply(port, "ok %lu %s", seq, verdict);
	} else {
		reply(port, "err %lu unknown command %s", seq, cmd);
	}
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: lt-qguest --mem MIB --ctl-io PORT [--delay-us US]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long mib = 0, port = 0;
	char line[256];
	size_t len = 0;
	pthread_t th;
	int i;
	char c;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mem"))
			mib = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--ctl-io"))
			port = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--delay-us"))
			g.delay_us = strtoul(argv[i + 1], NULL, 0);
		else
			usage_exit();
	}
	if (i != argc || !mib || !port || port > 0xfff8)
		usage_exit();

	g.npages = (mib << 20) / LTG_PAGE_SIZE;
	g.mem = mmap(NULL, g.npages * LTG_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	g.gen = calloc(g.npages, sizeof(*g.gen));
	if (g.mem == MAP_FAILED || !g.gen) {
		fprintf(stderr, "lt-qguest: cannot allocate %lu MiB\n", mib);
		return 1;
	}
	/* Resident and never moved: every page stays where it was written. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		fprintf(stderr, "lt-qguest: mlockall: %s\n", strerror(errno));
	if (pthread_create(&th, NULL, writer, NULL)) {
		fprintf(stderr, "lt-qguest: cannot start the writer\n");
		return 1;
	}
	while (!READ_ONCE(g.filled))
		usleep(10000);
	if (uart_open(port))
		return 1;
	/* the host waits for this line before it sends a command */
	printf("lt-qguest: ready, %llu pages written once\n",
	       (unsigned long long)g.npages);
	fflush(stdout);
	for (;;) {
		c = uart_getc(port);
		if (c == '\n' || c == '\r') {
			line[len] = '\0';
			if (len)
				serve_command(port, line);
			len = 0;
		} else if (len < sizeof(line) - 1) {
			line[len++] = c;
		}
	}
}
