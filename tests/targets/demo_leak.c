/* demo_leak: the README demo, a small "service" with one steady leak.
 *
 * Usage: demo_leak [REQUESTS_PER_SEC (500)]
 * Handles fake requests in a loop: each one allocates a request buffer,
 * parses headers into strdup'ed strings, builds a response, keeps a bounded
 * ring of sessions, and frees all of that. Every 4th request goes through
 * cache_insert, which replaces the cache slot but forgets to free the entry
 * it replaces: about 125 x 4 KiB leaked per second at the default rate.
 * Prints "ready PID" and runs until killed (SIGTERM: exit 0).
 */
#include "target.h"

#define CACHE_SLOTS 64
#define ENTRY_SIZE 4096
#define SESSIONS 32

struct entry {
	unsigned long key;
	char value[ENTRY_SIZE - sizeof(unsigned long)];
};

struct request {
	char *body;
	size_t len;
	char *headers[8];
	int nheaders;
};

static struct entry *cache[CACHE_SLOTS];
static char *sessions[SESSIONS];
static uint64_t seed = 2024;

/* The bug: the entry previously in the slot is dropped, not freed. */
NOINLINE void cache_insert(unsigned long key, const char *value)
{
	struct entry *e = malloc(sizeof *e);
	if (!e)
		return;
	e->key = key;
	snprintf(e->value, sizeof e->value, "%s", value);
	cache[key % CACHE_SLOTS] = e;           /* leaks the old one */
}

NOINLINE void parse_headers(struct request *r)
{
	static const char *names[] = { "Host: demo", "Accept: */*", "User-Agent: leaktrap-demo",
				       "Connection: keep-alive", "X-Request-Id: 42" };
	r->nheaders = 1 + rnd(&seed) % 5;
	for (int i = 0; i < r->nheaders; i++)
		r->headers[i] = strdup(names[i]);
}

NOINLINE char *build_response(const struct request *r)
{
	size_t n = 256 + rnd(&seed) % 8192;
	char *resp = malloc(n);
	if (resp)
		snprintf(resp, n, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", r->len);
	return resp;
}

NOINLINE void session_touch(unsigned long id)
{
	unsigned slot = id % SESSIONS;
	free(sessions[slot]);                  /* bounded: the old one is freed */
	sessions[slot] = malloc(512);
	if (sessions[slot])
		snprintf(sessions[slot], 512, "session %lu", id);
}

NOINLINE void handle_request(unsigned long id)
{
	struct request r = { 0 };
	r.len = 512 + rnd(&seed) % 4096;
	r.body = malloc(r.len);
	if (!r.body)
		return;
	memset(r.body, 'b', r.len - 1);
	r.body[r.len - 1] = 0;
	parse_headers(&r);
	char *resp = build_response(&r);
	session_touch(id);
	if (id % 4 == 0)
		cache_insert(id, r.body + 100);
	free(resp);
	for (int i = 0; i < r.nheaders; i++)
		free(r.headers[i]);
	free(r.body);
}

int main(int argc, char **argv)
{
	long rate = argc > 1 ? atol(argv[1]) : 500;
	if (rate < 1)
		rate = 1;
	block_protocol_signals();
	announce_ready();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	struct timespec zero = { 0, 0 };
	for (unsigned long id = 1;; id++) {
		handle_request(id);
		if (sigtimedwait(&set, NULL, &zero) == SIGTERM)
			return 0;
		struct timespec ts = { 0, 1000000000L / rate };
		nanosleep(&ts, NULL);
	}
}
