/* fmt: figures and names as a person reads them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

const char *fmt_size(double b, bool trim, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	if (!isfinite(b))
		b = 0;
	double v = b;
	int i = 0;
	/* Move up a unit where the rounded figure would read 1024 of this one. */
	if (fabs(v) >= 1023.5) {
		v /= 1024;
		i = 1;
		while (fabs(v) >= 1023.95 && i < 5) {
			v /= 1024;
			i++;
		}
	}
	if (i == 0 || (trim && v == floor(v)))
		snprintf(buf, len, "%.0f %s", v, unit[i]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

const char *fmt_age(double ns, char *buf, size_t len)
{
	double s = isfinite(ns) && ns > 0 ? ns / 1e9 : 0;
	/* thresholds sit where rounding would print the next unit's worth */
	if (s < 0.9995)
		snprintf(buf, len, "%.0f ms", s * 1e3);
	else if (s < 59.95)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 59.95 * 60)
		snprintf(buf, len, "%.1f m", s / 60);
	else
		snprintf(buf, len, "%.1f h", s / 3600);
	return buf;
}

const char *fmt_clean(const char *s, char *buf, size_t len)
{
	size_t k = 0;
	if (!s)
		s = "?";
	for (; *s && k + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != 0x7f)
			buf[k++] = (char)c;
		else
			k += (size_t)snprintf(buf + k, len - k, "\\x%02x", c);
	}
	buf[k] = 0;
	return buf;
}
