// leak_cxx: C++ new/new[]/delete, and an exception thrown through frames
// that allocate.
//
// Usage: leak_cxx
// After SIGUSR1:
//   new_leak        leaks 100 objects of 256 bytes (operator new(256))
//   new_array_leak  leaks 20 arrays of 1000 ints (operator new[](4000))
//   cxx_churn       news and deletes objects, strings, vectors: frees all
//   throw_outer -> throw_raii (unique_ptr, freed while unwinding)
//               -> throw_leak_frame (a raw new char[128] that is never freed)
//               -> thrower (std::string, then throws std::runtime_error);
//   caught in main, 30 times: throw_leak_frame leaks 30 x 128 bytes; the
//   exception objects and everything else are freed.
// The named functions are extern "C" so their symbol is their name.
// Prints truth lines and "done"; SIGTERM: exit 0 (96 if an exception was
// not caught as expected).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include "target.h"
}

struct Obj256 {
	char data[256];
};

static Obj256 *objs[100];
static int *arrays[20];
static char *thrown_leaks[30];
static int nthrown;
static int line_new, line_array, line_throw_leak;

extern "C" {

NOINLINE void new_leak(void)
{
	for (int i = 0; i < 100; i++) {
		Obj256 *o = new Obj256; line_new = __LINE__;
		touch(o, sizeof *o);
		objs[i] = o;
	}
}

NOINLINE void new_array_leak(void)
{
	for (int i = 0; i < 20; i++) {
		int *a = new int[1000]; line_array = __LINE__;
		touch(a, 1000 * sizeof(int));
		arrays[i] = a;
	}
}

NOINLINE void cxx_churn(void)
{
	uint64_t seed = 42;
	std::vector<std::unique_ptr<std::string>> v;
	for (int i = 0, rounds = churn_rounds(5000); i < rounds; i++) {
		v.emplace_back(new std::string(1 + rnd(&seed) % 300, 'x'));
		if (v.size() > 64)
			v.erase(v.begin() + rnd(&seed) % v.size());
		Obj256 *o = new Obj256;
		touch(o, sizeof *o);
		delete o;
		int *a = new int[1 + rnd(&seed) % 100];
		use_ptr(a);
		delete[] a;
	}
	v.clear();
	v.shrink_to_fit();
}

NOINLINE void thrower(int i)
{
	std::string msg(100, 'e');       // heap: longer than the SSO buffer
	msg += std::to_string(i);
	throw std::runtime_error(msg);
}

NOINLINE void throw_leak_frame(int i)
{
	char *p = new char[128]; line_throw_leak = __LINE__;
	touch(p, 128);
	thrown_leaks[nthrown++] = p;
	thrower(i);
	use_ptr(p);
}

NOINLINE void throw_raii(int i)
{
	std::unique_ptr<std::vector<int>> v(new std::vector<int>(500, i));
	throw_leak_frame(i);
	use_ptr(v.get());
}

NOINLINE void throw_outer(int i)
{
	std::vector<char> buf(777);
	use_ptr(buf.data());
	throw_raii(i);
	use_ptr(buf.data());
}

} // extern "C"

int main()
{
	block_protocol_signals();
	announce_ready();
	wait_signal(SIGUSR1);

	new_leak();
	cxx_churn();
	new_array_leak();
	int caught = 0;
	for (int i = 0; i < 30; i++) {
		try {
			throw_outer(i);
		} catch (const std::runtime_error &e) {
			if (std::string(e.what()).size() >= 100)
				caught++;
		}
	}
	if (caught != 30) {
		say("FAIL caught %d of 30 exceptions\n", caught);
		return 96;
	}

	site_line("new_leak", 100, 100L * 256, line_new);
	site_line("new_array_leak", 20, 20L * 4000, line_array);
	site_line("throw_leak_frame", 30, 30L * 128, line_throw_leak);
	site_line("cxx_churn", 0, 0, 0);
	site_line("thrower", 0, 0, 0);
	site_line("throw_raii", 0, 0, 0);
	site_line("throw_outer", 0, 0, 0);
	say("done\n");

	wait_signal(SIGTERM);
	use_ptr(objs);
	use_ptr(arrays);
	return 0;
}
