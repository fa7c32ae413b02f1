/* procwatch: the kernel's process events (netlink proc connector), for the
 * exit status of a process leaktrap neither traces nor parents. */
#ifndef LT_PROCWATCH_H
#define LT_PROCWATCH_H

#include <sys/types.h>

/* Subscribes to process events; returns a non-blocking fd, or -errno
 * (EPERM without CAP_NET_ADMIN: then exit statuses stay unknown). */
int procwatch_open(void);

/* Reads the events pending on fd (a few more within wait_ms) and returns 1
 * with *status (a wait status) once pid's thread-group leader has exited,
 * else 0. */
int procwatch_exit(int fd, pid_t pid, int wait_ms, int *status);

#endif
