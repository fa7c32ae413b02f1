/*
 * session: one attachment as the commands see it.
 *
 * Commands run between engine_run calls, with the target running; what they
 * read is leaktrap's own store, never the target. Once the target exits or
 * the user detaches, the gathered data stays: queries keep working on it,
 * with "now" frozen at the moment gathering ended so ages do not drift.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookdefs.h"
#include "session.h"

/* Returns the path of the shared object that defines malloc, or NULL when it
 * is the executable itself (static): its frames are then the program's too. */
static const char *alloc_module(const struct session *S)
{
	const char *mod = S->e.found.fn[HK_MALLOC].module;
	char path[64], exe[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", S->pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (!mod || !mod[0])
		return NULL;
	if (n > 0) {
		exe[n] = 0;
		if (!strcmp(exe, mod))
			return NULL;
	}
	return mod;
}

int session_attach(struct session *S, pid_t pid, int sigfd, uint64_t interval, unsigned flags,
		   bool quiet, char *err, size_t errlen)
{
	int input_fd = S->e.input_fd;
	FILE *out = S->out;
	memset(S, 0, sizeof(*S));
	S->out = out ? out : stdout;
	S->quiet = quiet;
	bool agent = flags & ENGINE_AGENT;
	if (engine_attach(&S->e, pid, sigfd, interval, flags, err, errlen) < 0)
		return -1;
	S->e.input_fd = input_fd;
	S->pid = pid;
	S->interval = interval;
	S->attached = true;
	S->sym = sym_new(pid);
	S->keys = keys_new(S->e.store, S->sym, alloc_module(S));
	if (!S->sym || !S->keys) {
		snprintf(err, errlen, "out of memory");
		session_detach(S);
		return -1;
	}
	S->last_refresh_ns = now_ns();
	S->next_auto_ns = S->e.attach_ns + AUTO_SNAP_PERIOD_NS;
	if (!quiet) {
		fprintf(stderr, "leaktrap: attached to %d (%s), %s engine, %s; hooks active:",
			pid, S->e.comm, agent ? "agent" : "trap",
			interval ? "sampling" : "recording every allocation");
		for (int k = 0; k < HK_COUNT; k++)
			if (S->e.info[k].addr)
				fprintf(stderr, " %s %s", S->e.info[k].func, S->e.info[k].how);
		fprintf(stderr, "\n");
	}
	return 0;
}

uint64_t session_now(const struct session *S)
{
	return S->end_ns ? S->end_ns : now_ns();
}

/* Takes an automatic snapshot into the ring, dropping the oldest when full. */
static void take_auto(struct session *S, uint64_t now)
{
	struct snapshot snap;
	if (snapshot_take(S->e.store, now, AUTO_SNAP_PERIOD_NS, &snap) < 0)
		return;
	size_t slot = (S->auto_first + S->nautos) % AUTO_SNAP_KEEP;
	if (S->nautos == AUTO_SNAP_KEEP) {
		snapshot_free(&S->autos[S->auto_first]);
		slot = S->auto_first;
		S->auto_first = (S->auto_first + 1) % AUTO_SNAP_KEEP;
	} else {
		S->nautos++;
	}
	S->autos[slot] = snap;
}

/* Notes the end of the target once: frees the engine's hold on it and freezes
 * the clock, keeping every sample. */
static void note_end(struct session *S)
{
	if (S->ended_noted)
		return;
	S->ended_noted = true;
	session_detach(S);
}

int session_wait(struct session *S, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = now_ns();
		if (deadline_ns && now >= deadline_ns)
			return 0;
		if (!S->attached) {
			/* nothing to service: wait for the deadline or for input */
			struct engine *e = &S->e;
			int rc = engine_idle(e, deadline_ns);
			if (rc)
				return rc;
			continue;
		}
		uint64_t step = S->next_auto_ns;
		if (deadline_ns && deadline_ns < step)
			step = deadline_ns;
		int why = engine_run(&S->e, step);
		now = now_ns();
		if (why == 2) {
			note_end(S);
			return 2;
		}
		if (now - S->last_refresh_ns >= 1000000000ULL && !S->e.t.gone) {
			sym_refresh(S->sym);	/* modules loaded since, while they can be read */
			S->last_refresh_ns = now;
		}
		if (now >= S->next_auto_ns) {
			take_auto(S, now);
			S->next_auto_ns = now + AUTO_SNAP_PERIOD_NS;
		}
		if (why)
			return why;
	}
}

int session_detach(struct session *S)
{
	char err[512];
	if (!S->attached)
		return 0;
	S->attached = false;
	S->end_ns = now_ns();
	bool signalled = S->e.stop_signal != 0;
	int rc = engine_detach(&S->e, err, sizeof(err));
	if (rc < 0 || err[0])
		fprintf(stderr, "leaktrap: %s\n", err);
	else if (!S->quiet && !S->e.end[0] && S->e.agent)
		fprintf(stderr, "leaktrap: detached%s%s (pauses: attach %.1f ms, detach %.1f ms; "
			"%llu events read from the ring, %llu dropped, %llu frees lost)\n",
			signalled ? " on " : "", signalled ? strsignal(S->e.stop_signal) : "",
			S->e.pause_attach_ms, S->e.pause_detach_ms, (unsigned long long)S->e.ag.records,
			(unsigned long long)S->e.ag.ring_drops, (unsigned long long)S->e.ag.flog_drops);
	else if (!S->quiet && !S->e.end[0])
		fprintf(stderr, "leaktrap: detached%s%s (pauses: attach %.1f ms, detach %.1f ms; "
			"%llu stops serviced in %.1f us each)\n",
			signalled ? " on " : "", signalled ? strsignal(S->e.stop_signal) : "",
			S->e.pause_attach_ms, S->e.pause_detach_ms, (unsigned long long)S->e.stops,
			S->e.stops ? (double)S->e.service_ns / 1e3 / (double)S->e.stops : 0.0);
	if (S->e.end[0] && !S->quiet)
		fprintf(stderr, "leaktrap: the target %s during the session\n",
			S->e.end);
	return rc;
}

void session_free(struct session *S)
{
	for (size_t i = 0; i < S->nnamed; i++)
		snapshot_free(&S->named[i]);
	for (size_t i = 0; i < S->nautos; i++)
		snapshot_free(&S->autos[(S->auto_first + i) % AUTO_SNAP_KEEP]);
	keys_free(S->keys);
	sym_free(S->sym);
	store_free(S->e.store);
	free(S->e.defer);
	S->e.defer = NULL;
	S->keys = NULL;
	S->sym = NULL;
	S->e.store = NULL;
}

void session_meta(const struct session *S, const struct query *q, struct report_meta *m)
{
	uint64_t end = session_now(S);
	*m = (struct report_meta){
		.pid = S->pid, .comm = S->e.comm, .engine = S->e.agent ? "agent" : "trap",
		.sample_interval = S->interval,
		.duration_s = (double)(end - S->e.attach_ns) / 1e9, .samples = S->e.samples,
		.frees_seen = S->e.frees_seen,
		.dropped = S->e.dropped + S->e.ag.ring_drops + S->e.ag.skipped,
		.frees_lost = S->e.ag.flog_drops,
		.allocator = S->e.found.fn[HK_MALLOC].module, .hooks = S->e.info,
		.nhooks = HK_COUNT, .target_end = S->e.end[0] ? S->e.end : NULL, .query = q,
	};
}

const struct snapshot *session_snapshot(const struct session *S, const char *name)
{
	for (size_t i = 0; i < S->nnamed; i++)
		if (!strcmp(S->named[i].name, name))
			return &S->named[i];
	return NULL;
}

size_t session_autos(const struct session *S, uint64_t window_ns, const struct snapshot **out)
{
	size_t n = 0;
	uint64_t now = session_now(S);
	for (size_t i = 0; i < S->nautos; i++) {
		const struct snapshot *s = &S->autos[(S->auto_first + i) % AUTO_SNAP_KEEP];
		if (!window_ns || now - s->t_ns <= window_ns)
			out[n++] = s;
	}
	return n;
}
