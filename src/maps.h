/* maps: the target's memory map as read from /proc/PID/maps. */
#ifndef LT_MAPS_H
#define LT_MAPS_H

#include "types.h"

struct map {
	taddr_t start, end;   /* [start, end) */
	uint64_t offset;      /* file offset of start */
	unsigned long inode;
	char perms[5];        /* "r-xp" */
	char *path;           /* "" for anonymous; "[stack]", "[vdso]", ... for specials */
};

struct maps {
	struct map *v;
	size_t n;
};

/* Reads /proc/PID/maps into m (sorted by start); returns 0, or -errno. */
int maps_read(pid_t pid, struct maps *m);

/* Parses the text of a maps file into m; returns 0, or -EINVAL on a malformed line. */
int maps_parse(const char *text, struct maps *m);

/* Frees what maps_read or maps_parse allocated; m is empty afterwards. */
void maps_free(struct maps *m);

/* Returns the mapping containing addr, or NULL. */
const struct map *maps_find(const struct maps *m, taddr_t addr);

#endif
