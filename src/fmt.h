/* fmt: figures and names as a person reads them. */
#ifndef LT_FMT_H
#define LT_FMT_H

#include <stdbool.h>
#include <stddef.h>

/* Formats a byte figure with a binary unit into buf and returns buf:
 * "512 B", "3.2 MiB". With trim, a value that is a whole number of its unit
 * prints without the decimal ("512 KiB"). */
const char *fmt_size(double b, bool trim, char *buf, size_t len);

/* Formats an age or duration in nanoseconds ("250 ms", "9.8 s", "3.5 m",
 * "1.2 h") into buf and returns buf. */
const char *fmt_age(double ns, char *buf, size_t len);

/* Copies s into buf with control characters as \xNN (names come from the
 * target, and an escape sequence in them must not reach a terminal), cut to
 * fit; NULL is "?". Returns buf. */
const char *fmt_clean(const char *s, char *buf, size_t len);

#endif
