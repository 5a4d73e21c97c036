// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_inspect(): what QEMU says over QMP and what its /proc entries
 * show, checked in the order an operator would fix them. See qemu_vm.h.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu_vm.h"

#define QMP_TIMEOUT_MS	5000

static int say(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

static int qmp_failed(struct qmp *q, char *why, size_t len)
{
	return say(why, len, -EIO, "QMP: %s", q->err);
}

static int check_version(struct qmp *q, struct qemu_vm *vm, char *why,
			 size_t len)
{
	json_object *v = qmp_cmd(q, QMP_TIMEOUT_MS, "query-version", NULL);
	long long x;

	if (!v)
		return qmp_failed(q, why, len);
	if (!qmp_get_int(v, "qemu.major", &x))
		vm->major = x;
	if (!qmp_get_int(v, "qemu.minor", &x))
		vm->minor = x;
	if (!qmp_get_int(v, "qemu.micro", &x))
		vm->micro = x;
	json_object_put(v);
	return 0;
}

/* QEMU's own migration must not run: it would log and clear the slots. */
static int check_migration(struct qmp *q, char *why, size_t len)
{
	static const char *const idle[] = {
		"none", "completed", "failed", "cancelled", NULL,
	};
	json_object *v = qmp_cmd(q, QMP_TIMEOUT_MS, "query-migrate", NULL);
	json_object *reasons, *one;
	const char *status;
	char list[512] = "";
	size_t i, n, off = 0;
	int busy = 1;

	if (!v)
		return qmp_failed(q, why, len);
	status = qmp_get_str(v, "status") ?: "none";
	for (i = 0; idle[i]; i++)
		busy &= !!strcmp(status, idle[i]);
	if (busy) {
		say(why, len, 0,
		    "QEMU's own migration is running (status %s): let it finish or stop it with migrate_cancel",
		    status);
		json_object_put(v);
		return -EBUSY;
	}
	if (json_object_object_get_ex(v, "blocked-reasons", &reasons) &&
	    json_object_is_type(reasons, json_type_array)) {
		n = json_object_array_length(reasons);
		for (i = 0; i < n && off < sizeof(list); i++) {
			one = json_object_array_get_idx(reasons, i);
			off += snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? "; " : "", json_object_get_string(one));
		}
		if (n) {
			say(why, len, 0,
			    "QEMU refuses to migrate this guest (blocked-reasons: %s): remove what blocks it",
			    list);
			json_object_put(v);
			return -EPERM;
		}
	}
	json_object_put(v);
	return 0;
}

/* calc-dirty-rate in dirty-bitmap mode takes the dirty log's bits. */
static int check_dirty_rate(struct qmp *q, char *why, size_t len)
{
	json_object *v = qmp_cmd(q, QMP_TIMEOUT_MS, "query-dirty-rate", NULL);
	const char *status;
	int busy;

	if (!v)	/* an older QEMU without it measures nothing */
		return 0;
	status = qmp_get_str(v, "status");
	busy = status && !strcmp(status, "measuring");
	json_object_put(v);
	if (busy)
		return say(why, len, -EBUSY,
			   "a dirty-rate measurement (calc-dirty-rate) is running: wait until query-dirty-rate says measured");
	return 0;
}

static int qom_get_str(struct qmp *q, const char *path, const char *prop,
		       char *out, size_t len)
{
	char args[256];
	json_object *v;
	int ret = -1;

	snprintf(args, sizeof(args), "{\"path\":\"%s\",\"property\":\"%s\"}",
		 path, prop);
	v = qmp_cmd(q, QMP_TIMEOUT_MS, "qom-get", args);
	if (v && json_object_is_type(v, json_type_string)) {
		snprintf(out, len, "%s", json_object_get_string(v));
		ret = 0;
	}
	json_object_put(v);
	return ret;
}

/* One memdev of query-memdev: a shared backend becomes a region. */
static int add_region(struct qmp *q, json_object *m, struct qemu_vm *vm,
		      char *why, size_t len)
{
	const char *id = qmp_get_str(m, "id");
	struct qemu_region *r;
	char path[128];
	long long size;

	if (!id || qmp_get_int(m, "size", &size) || size <= 0)
		return say(why, len, -EIO, "QMP: query-memdev: a backend without id or size");
	if (qmp_get_bool(m, "share") != 1)
		return say(why, len, -EINVAL,
			   "memory backend %s is private (share=off): its pages would be QEMU's to copy during the downtime; start QEMU with -object memory-backend-file,id=%s,size=...,mem-path=/dev/shm/FILE,share=on",
			   id, id);
	if (vm->nregions == QEMU_MAX_REGIONS)
		return say(why, len, -E2BIG, "more than %d memory backends",
			   QEMU_MAX_REGIONS);
	r = &vm->regions[vm->nregions];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->size = size;
	snprintf(path, sizeof(path), "/objects/%s", id);
	if (qom_get_str(q, path, "type", r->type, sizeof(r->type)))
		return qmp_failed(q, why, len);
	if (!strcmp(r->type, "memory-backend-file") &&
	    qom_get_str(q, path, "mem-path", r->path, sizeof(r->path)))
		return qmp_failed(q, why, len);
	/* QEMU 8.1 made x-ignore-shared skip only named files */
	if (strcmp(r->type, "memory-backend-file") &&
	    (vm->major > 8 || (vm->major == 8 && vm->minor >= 1)))
		return say(why, len, -EINVAL,
			   "memory backend %s is a %s: QEMU %d.%d copies it itself during the downtime (x-ignore-shared skips only named files since 8.1); use memory-backend-file on /dev/shm or hugetlbfs",
			   id, r->type, vm->major, vm->minor);
	vm->nregions++;
	return 0;
}

static int check_memdevs(struct qmp *q, struct qemu_vm *vm, char *why,
			 size_t len)
{
	json_object *v = qmp_cmd(q, QMP_TIMEOUT_MS, "query-memdev", NULL);
	size_t i, n;
	int ret = 0;

	if (!v)
		return qmp_failed(q, why, len);
	n = json_object_is_type(v, json_type_array) ?
	    json_object_array_length(v) : 0;
	for (i = 0; i < n && !ret; i++)
		ret = add_region(q, json_object_array_get_idx(v, i), vm, why,
				 len);
	json_object_put(v);
	if (!ret && !vm->nregions)
		ret = say(why, len, -EINVAL,
			  "the guest's RAM is in no memory backend: start QEMU with -object memory-backend-file,id=ram0,size=...,mem-path=/dev/shm/FILE,share=on -machine memory-backend=ram0");
	return ret;
}

/*
 * The mapping of @r in the process: a shared mapping of its size, of its
 * file (file backends) or of a memfd / shared anonymous memory, which
 * must then be the only one of that size.
 */
static int find_mapping(pid_t pid, struct qemu_region *r, char *why,
			size_t len)
{
	char maps[64], line[PATH_MAX + 128], real[PATH_MAX], perms[8];
	unsigned long long start, end;
	int off, found = 0;
	const char *name;
	FILE *f;

	real[0] = '\0';
	if (r->path[0] && !realpath(r->path, real))
		snprintf(real, sizeof(real), "%s", r->path);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "r");
	if (!f)
		return say(why, len, -errno, "%s: %s", maps, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &start, &end,
			   perms, &off) != 3 || strcmp(perms, "rw-s") ||
		    end - start != r->size)
			continue;
		name = line + off;
		if (real[0] ? strcmp(name, real) :
			      !strstr(name, "memfd:") &&
			      !strstr(name, "/dev/zero"))
			continue;
		found++;
		r->hva = start;
	}
	fclose(f);
	if (!found)
		return say(why, len, -ENOENT,
			   "memory backend %s: no shared mapping of %llu bytes%s%s in process %d",
			   r->id, (unsigned long long)r->size,
			   real[0] ? " of " : "", real, (int)pid);
	if (found > 1)
		return say(why, len, -EINVAL,
			   "memory backend %s: %d shared mappings of its size, the agent cannot tell which one it is; use memory-backend-file with its own mem-path",
			   r->id, found);
	return 0;
}

/* VFIO devices DMA into guest memory where no trace can see it. */
static int check_vfio(pid_t pid, char *why, size_t len)
{
	char dir[64], link[96], target[PATH_MAX];
	struct dirent *d;
	int vfio = 0;
	ssize_t n;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	fds = opendir(dir);
	if (!fds)
		return say(why, len, -errno, "%s: %s", dir, strerror(errno));
	while (!vfio && (d = readdir(fds))) {
		snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		vfio = !strncmp(target, "/dev/vfio/", 10);
	}
	closedir(fds);
	if (vfio)
		return say(why, len, -EOPNOTSUPP,
			   "a VFIO device is assigned to the guest: its DMA writes guest memory where no dirty log sees it, and its state is not QEMU's to migrate");
	return 0;
}

static int read_status(struct qmp *q, struct qemu_vm *vm, char *why,
		       size_t len)
{
	json_object *v = qmp_cmd(q, QMP_TIMEOUT_MS, "query-status", NULL);

	if (!v)
		return qmp_failed(q, why, len);
	snprintf(vm->status, sizeof(vm->status), "%s",
		 qmp_get_str(v, "status") ?: "?");
	json_object_put(v);
	return 0;
}

int qemu_inspect(struct qmp *q, pid_t pid, struct qemu_vm *vm, char *why,
		 size_t len)
{
	pid_t peer = qmp_peer_pid(q);
	unsigned int i;
	int ret;

	memset(vm, 0, sizeof(*vm));
	why[0] = '\0';
	/* pausing another QEMU would let the traced guest write unseen */
	if (peer <= 0)
		return say(why, len, -EIO, "QMP socket: no peer credentials");
	if (pid && peer != pid)
		return say(why, len, -EINVAL,
			   "the QMP socket belongs to process %d, not %d",
			   (int)peer, (int)pid);
	vm->pid = peer;
	ret = check_version(q, vm, why, len);
	if (!ret)
		ret = read_status(q, vm, why, len);
	if (!ret)
		ret = check_migration(q, why, len);
	if (!ret)
		ret = check_dirty_rate(q, why, len);
	if (!ret)
		ret = check_memdevs(q, vm, why, len);
	for (i = 0; !ret && i < vm->nregions; i++)
		ret = find_mapping(vm->pid, &vm->regions[i], why, len);
	if (!ret)
		ret = check_vfio(vm->pid, why, len);
	return ret;
}
