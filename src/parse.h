/* parse: durations and sizes as users type them. */
#ifndef LT_PARSE_H
#define LT_PARSE_H

#include "types.h"

/* Parses a duration: a number (fraction allowed) with ms, s, m or h (bare
 * number: seconds) into nanoseconds. Returns 0, or -1 for anything else:
 * empty, negative, unknown suffix, trailing text, over 100 years. */
int parse_duration(const char *s, uint64_t *ns);

/* Parses a size: a whole number with an optional k, m or g suffix (powers of
 * 1024, either case, an optional trailing B or iB) into bytes. Returns 0, or
 * -1 for anything else, including overflow. */
int parse_size(const char *s, uint64_t *bytes);

/* Parses a whole number in [0, max]; returns 0 or -1. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
