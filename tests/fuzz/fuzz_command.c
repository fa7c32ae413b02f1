/* fuzz_command: libFuzzer target for the command interpreter, run on a
 * session that is not attached, with a store holding a few stacks and live
 * blocks. Any line must give 0 or 1 and never crash. Lines that would wait
 * (sleep, watch) or write files (export) are not run: the interpreter's
 * words for them are still parsed by the other commands' filters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

static struct session S;
static struct interp I;

/* Builds the session once: a store with three stacks and some live blocks. */
static void setup(void)
{
	S.e.store = store_new();
	S.e.hk = calloc(1, sizeof(*S.e.hk));
	S.e.input_fd = -1;
	S.e.sigfd = -1;
	S.pid = 1;
	S.out = fopen("/dev/null", "w");
	S.sym = sym_new(1);
	S.keys = keys_new(S.e.store, S.sym, NULL);
	S.end_ns = 1000000000000ULL;
	S.e.attach_ns = 1;
	for (unsigned i = 1; i <= 3; i++) {
		taddr_t f[2] = { 0x400000 + i * 16, 0x500000 };
		uint32_t id = store_intern_stack(S.e.store, f, 2);
		for (unsigned k = 0; k < 10; k++)
			store_alloc(S.e.store, &(struct live){ .addr = 0x10000 * i + 16 * k, .size = 16 << k,
				.weight_bytes = 16 << k, .weight_count = 1, .stack_id = id, .tid = (pid_t)i,
				.t_ns = 1000000000ULL * k });
	}
	I.S = &S;
	I.default_top = 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[512];
	if (!S.e.store)
		setup();
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = 0;
	if (strstr(line, "sleep") || strstr(line, "watch") || strstr(line, "export"))
		return 0;
	I.done = I.stopped = false;
	I.where = "fuzz";
	int rc = interp_exec(&I, line);
	if (rc != 0 && rc != 1)
		abort();
	return 0;
}
