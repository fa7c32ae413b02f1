/*
 * procwatch: the kernel's process events (netlink proc connector).
 *
 * With the agent engine leaktrap is neither the target's tracer nor (with
 * -p) its parent, so no wait status ever reaches it; the proc connector
 * reports every process's exit code to a root listener. The events of all
 * processes arrive; those of other pids are skipped.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "procwatch.h"

int procwatch_open(void)
{
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	/* nlmsghdr, cn_msg, then the operation: cn_msg ends in a flexible array */
	char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))]
		__attribute__((aligned(NLMSG_ALIGNTO)));
	memset(msg, 0, sizeof(msg));
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg *cn = NLMSG_DATA(nl);
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	nl->nlmsg_len = sizeof(msg);
	nl->nlmsg_type = NLMSG_DONE;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, msg, sizeof(msg), 0) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int procwatch_exit(int fd, pid_t pid, int wait_ms, int *status)
{
	char buf[8192] __attribute__((aligned(8)));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (errno != EAGAIN || wait_ms <= 0 || poll(&p, 1, wait_ms) <= 0)
				return 0;
			wait_ms = 0;	/* one wait only: then what has come */
			continue;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event *ev = (struct proc_event *)cn->data;
			if (ev->what == PROC_EVENT_EXIT && ev->event_data.exit.process_tgid == pid &&
			    ev->event_data.exit.process_pid == pid) {
				*status = (int)ev->event_data.exit.exit_code;
				return 1;
			}
		}
	}
}
