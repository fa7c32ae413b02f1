/* parse: strict parsers for the numbers users type: nothing is guessed. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "parse.h"

/* Reads leading digits (and, if frac, one '.' and more digits) as a double
 * and a whole part; returns the length consumed, 0 if there was no digit. */
static size_t number(const char *s, bool frac, double *val)
{
	size_t i = 0, digits = 0;
	double v = 0, scale = 1;
	for (; isdigit((unsigned char)s[i]); i++, digits++)
		v = v * 10 + (s[i] - '0');
	if (frac && s[i] == '.') {
		for (i++; isdigit((unsigned char)s[i]); i++, digits++) {
			scale /= 10;
			v += (s[i] - '0') * scale;
		}
	}
	*val = v;
	return digits ? i : 0;
}

int parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *suffix; double ns; } units[] = {
		{ "ms", 1e6 }, { "s", 1e9 }, { "", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	double v;
	size_t n = s ? number(s, true, &v) : 0;
	if (!n)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].suffix))
			continue;
		double r = v * units[i].ns;
		if (r > 3.15e18)	/* 100 years: also keeps it far from UINT64_MAX */
			return -1;
		*ns = (uint64_t)r;
		return 0;
	}
	return -1;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "kmg";
	uint64_t v = 0;
	size_t i = 0;
	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	for (; isdigit((unsigned char)s[i]); i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	int shift = 0;
	const char *u = s[i] ? strchr(units, tolower((unsigned char)s[i])) : NULL;
	if (u) {
		shift = 10 * (int)(u - units + 1);
		i++;
		if (!strcasecmp(s + i, "ib") || !strcasecmp(s + i, "b"))
			i = strlen(s);
	} else if (!strcasecmp(s + i, "b")) {
		i++;
	}
	if (s[i] || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*bytes = v << shift;
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}
