/*
 * maps: the target's memory map as read from /proc/PID/maps.
 *
 * A line is "start-end perms offset dev inode   path": the path is whatever
 * follows the inode after the padding, up to the newline, so it may hold
 * spaces and ends with " (deleted)" when the file was unlinked; the kernel
 * escapes a newline in a file name as "\012", so one line is one mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"

/* Parses a hex number at *p (no "0x"), advancing *p; returns false if none. */
static bool parse_hex(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	int n = 0;
	for (;; s++, n++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (n >= 16)
			return false;    /* more than 64 bits: not a maps line */
		v = v << 4 | d;
	}
	if (n == 0)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* Parses a decimal number at *p, advancing *p; returns false if none. */
static bool parse_dec(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* Skips blanks at *p; returns true if there were any. */
static bool skip_blanks(const char **p)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	bool any = s != *p;
	*p = s;
	return any;
}

/* Parses one line [s, e) into mp (allocating its path); returns 0 or -EINVAL/-ENOMEM. */
static int parse_line(const char *s, const char *e, struct map *mp)
{
	uint64_t start, end, off, major, minor, inode;
	const char *p = s;
	if (!parse_hex(&p, &start) || *p++ != '-' || !parse_hex(&p, &end) || end <= start)
		return -EINVAL;
	if (!skip_blanks(&p))
		return -EINVAL;
	const char *perms = p;
	for (int i = 0; i < 4; i++, p++)
		if (!*p || !strchr("rwxps-", *p))
			return -EINVAL;
	if (!skip_blanks(&p) || !parse_hex(&p, &off) || !skip_blanks(&p))
		return -EINVAL;
	/* dev is "major:minor" in hex */
	if (!parse_hex(&p, &major) || *p++ != ':' || !parse_hex(&p, &minor))
		return -EINVAL;
	if (!skip_blanks(&p) || !parse_dec(&p, &inode))
		return -EINVAL;
	if (p > e)
		return -EINVAL;
	bool blank = skip_blanks(&p);
	if (p < e && !blank)
		return -EINVAL;    /* garbage glued to the inode */
	const char *q = e;
	if (q > p && q[-1] == '\r')
		q--;
	mp->start = start;
	mp->end = end;
	mp->offset = off;
	mp->inode = (unsigned long)inode;
	memcpy(mp->perms, perms, 4);
	mp->perms[4] = '\0';
	mp->path = strndup(p, (size_t)(q - p));
	return mp->path ? 0 : -ENOMEM;
}

/* Orders mappings by start address, for qsort. */
static int cmp_start(const void *a, const void *b)
{
	const struct map *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int maps_parse(const char *text, struct maps *m)
{
	m->v = NULL;
	m->n = 0;
	size_t cap = 0;
	bool sorted = true;
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		const char *t = s;
		skip_blanks(&t);
		if (t < e && *t != '\r') {
			if (m->n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct map *nv = realloc(m->v, nc * sizeof(*nv));
				if (!nv) {
					maps_free(m);
					return -ENOMEM;
				}
				m->v = nv;
				cap = nc;
			}
			int rc = parse_line(t, e, &m->v[m->n]);
			if (rc < 0) {
				maps_free(m);
				return rc;
			}
			if (m->n && m->v[m->n].start < m->v[m->n - 1].start)
				sorted = false;
			m->n++;
		}
		s = *e ? e + 1 : e;
	}
	/* The kernel lists mappings in order; sort anyway so maps_find can rely on it. */
	if (!sorted)
		qsort(m->v, m->n, sizeof(*m->v), cmp_start);
	/* ... and it never lists overlapping ones: text that does is not a maps
	 * file, and maps_find's answer for it would be arbitrary (found by
	 * tests/fuzz/fuzz_maps.c) */
	for (size_t i = 1; i < m->n; i++)
		if (m->v[i].start < m->v[i - 1].end) {
			maps_free(m);
			return -EINVAL;
		}
	return 0;
}

int maps_read(pid_t pid, struct maps *m)
{
	m->v = NULL;
	m->n = 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The file has no size: read until EOF, growing the buffer, since a
	 * process with many mappings easily has megabytes of them. */
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno != EINTR)
			rc = -errno;
		else if (r == 0)
			break;
		else if (r > 0)
			len += (size_t)r;
	}
	close(fd);
	if (rc == 0) {
		buf[len] = '\0';
		/* ESRCH from read means the process is gone; an empty file too
		 * (a zombie has no mappings left). */
		rc = len ? maps_parse(buf, m) : -ESRCH;
	}
	free(buf);
	return rc;
}

void maps_free(struct maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct map *maps_find(const struct maps *m, taddr_t addr)
{
	size_t lo = 0, hi = m->n;
	/* Find the last mapping that starts at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct map *mp = &m->v[lo - 1];
	return addr < mp->end ? mp : NULL;
}
