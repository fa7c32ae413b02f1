/* fuzz_parse: libFuzzer target for the duration, size and number parsers.
 * Each must return 0 or -1 for any text, and what it accepts must be within
 * its documented bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = 0;
	uint64_t v;
	int rc = parse_duration(s, &v);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && v > 101ULL * 365 * 24 * 3600 * 1000000000ULL)
		abort();	/* documented: at most 100 years */
	rc = parse_size(s, &v);
	if (rc != 0 && rc != -1)
		abort();
	rc = parse_uint(s, 1000, &v);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && v > 1000)
		abort();
	return 0;
}
