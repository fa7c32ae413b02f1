/* fuzz_maps: libFuzzer target for the /proc/PID/maps parser: any text is
 * parsed or refused with -EINVAL, and what is parsed is sorted with
 * start <= end and a path for every entry. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	struct maps m = { 0 };
	int rc = maps_parse(s, &m);
	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	for (size_t i = 0; rc == 0 && i < m.n; i++) {
		if (m.v[i].start > m.v[i].end || !m.v[i].path)
			abort();
		if (i && m.v[i - 1].start > m.v[i].start)
			abort();
		if (maps_find(&m, m.v[i].start) == NULL && m.v[i].start < m.v[i].end)
			abort();
	}
	maps_free(&m);
	free(s);
	return 0;
}
