/* test_parse: the duration, size and number parsers, and the sampling
 * weights: what users type and what every estimate rests on. */
#include <math.h>
#include <stdio.h>
#include "parse.h"
#include "sample.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

static void dur(const char *s, int want_rc, uint64_t want)
{
	uint64_t v = 12345;
	int rc = parse_duration(s, &v);
	CHECK(rc == want_rc && (rc < 0 || v == want), "duration '%s' -> %d %llu", s, rc, (unsigned long long)v);
}

static void size(const char *s, int want_rc, uint64_t want)
{
	uint64_t v = 12345;
	int rc = parse_size(s, &v);
	CHECK(rc == want_rc && (rc < 0 || v == want), "size '%s' -> %d %llu", s, rc, (unsigned long long)v);
}

int main(void)
{
	dur("10s", 0, 10000000000ULL);
	dur("10", 0, 10000000000ULL);
	dur("250ms", 0, 250000000ULL);
	dur("1.5s", 0, 1500000000ULL);
	dur("2m", 0, 120000000000ULL);
	dur("1h", 0, 3600000000000ULL);
	dur("0s", 0, 0);
	dur("", -1, 0);
	dur("-1s", -1, 0);
	dur("5x", -1, 0);
	dur("5 s", -1, 0);
	dur("s", -1, 0);
	dur("1.s", 0, 1000000000ULL);
	dur("99999999999999999h", -1, 0);
	dur("1e3s", -1, 0);
	size("512k", 0, 524288);
	size("512K", 0, 524288);
	size("4m", 0, 4194304);
	size("1g", 0, 1073741824);
	size("64KiB", 0, 65536);
	size("100", 0, 100);
	size("100b", 0, 100);
	size("12q", -1, 0);
	size("-5k", -1, 0);
	size("", -1, 0);
	size("1.5k", -1, 0);
	size("18446744073709551615", 0, 18446744073709551615ULL);
	size("18446744073709551616", -1, 0);
	size("17179869184g", -1, 0);
	uint64_t v;
	CHECK(parse_uint("4294967296", 0x7fffffff, &v) < 0, "uint over its maximum is refused");
	CHECK(parse_uint("2147483647", 0x7fffffff, &v) == 0 && v == 2147483647, "uint at its maximum");
	CHECK(parse_uint("12a", 100, &v) < 0, "uint with trailing text is refused");

	double b, c;
	sample_weight(1000, 0, &b, &c);
	CHECK(b == 1000 && c == 1, "interval 0: exact weights");
	sample_weight(524288, 524288, &b, &c);
	CHECK(fabs(c - 1 / (1 - exp(-1))) < 1e-9 && fabs(b - 524288 * c) < 1e-3, "size = interval: weight 1/(1-1/e)");
	sample_weight(16, 524288, &b, &c);
	CHECK(fabs(b / 524288 - 1) < 1e-4 && fabs(c / (524288.0 / 16) - 1) < 1e-4, "tiny blocks stand for ~interval bytes each");
	sample_weight(100 << 20, 524288, &b, &c);
	CHECK(fabs(b - (100 << 20)) < 1 && fabs(c - 1) < 1e-9, "huge blocks stand for themselves");

	/* The estimator is unbiased: simulate Poisson sampling of a known heap. */
	uint64_t rng = 42;
	double est = 0, truth = 0;
	int64_t left = sample_draw(65536, &rng);
	for (int i = 0; i < 2000000; i++) {
		uint64_t s = 16 + ((uint64_t)i * 7919) % 4000;
		truth += s;
		left -= (int64_t)s;
		if (left <= 0) {
			left = sample_draw(65536, &rng);
			sample_weight(s, 65536, &b, &c);
			est += b;
		}
	}
	CHECK(fabs(est / truth - 1) < 0.03, "estimated bytes within 3%% of the truth (%.4f)", est / truth);
	double mean = 0;
	for (int i = 0; i < 100000; i++)
		mean += (double)sample_draw(1000, &rng);
	CHECK(fabs(mean / 100000 / 1000 - 1) < 0.02, "draws have the asked mean (%.4f)", mean / 100000 / 1000);
	CHECK(sample_draw(0, &rng) == 0, "interval 0 draws 0: every allocation sampled");
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}
