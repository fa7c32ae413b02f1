// alloc_cxx: every C++ operator new and delete, for whichever allocator the
// program is built or preloaded with: libstdc++'s operators (which call
// malloc and free), or the allocator's own (tcmalloc, jemalloc, mimalloc).
//
// Usage: alloc_cxx
// After SIGUSR1, one named function per operator new leaks known blocks:
//   new_leak                        50 x new Obj200             (200 bytes)
//   new_array_leak                  20 x new char[3000]
//   new_nothrow_leak                10 x new (nothrow) Obj200
//   new_array_nothrow_leak          10 x new (nothrow) char[700]
//   new_aligned_leak                10 x new Al128               (256 bytes, aligned 128)
//   new_array_aligned_leak           5 x new Al128[2]            (512)
//   new_aligned_nothrow_leak         5 x new (nothrow) Al128     (256)
//   new_array_aligned_nothrow_leak   5 x new (nothrow) Al128[3]  (768)
//   malloc_leak                     10 x malloc(444)
//   throw_leak_frame                30 x new char[128] in a frame that an exception
//                                   (thrown by thrower, caught in main) unwinds
// and bad_alloc_calls() makes every throwing operator new fail (a size no
// allocator can give), with and without a new_handler, and catches each
// std::bad_alloc: such a size is always sampled, and the exception must
// reach the catch (not std::terminate) with the handler called exactly once.
// Not under mimalloc, whose Debian build aborts the program there instead.
// and cxx_churn() pairs every operator new with every operator delete
// (plain, sized, nothrow, aligned; the compiler picks the sized ones for
// complete types), plus strings, vectors and maps, freeing everything.
// The named functions are extern "C" so their symbol is their name.
// Prints the truth (target.h) and "done"; SIGTERM: exit 0 (96 if an
// exception was not caught as expected).
#include <dlfcn.h>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include "target.h"
}

struct Obj200 {
	char data[200];
};

struct alignas(128) Al128 {
	char data[256];
};

// A class with a destructor: new[] of it stores a count, and delete[] of it
// is the sized operator delete[].
struct WithDtor {
	char data[40];
	~WithDtor() { use_ptr(data); }
};

static void *kept[256];
static int nkept;
static int line_new, line_new_array, line_new_nothrow, line_new_array_nothrow, line_new_aligned,
	line_new_array_aligned, line_new_aligned_nothrow, line_new_array_aligned_nothrow,
	line_malloc, line_throw;

static void keep(void *p)
{
	if (!p) {
		say("FAIL an allocation returned NULL\n");
		return;
	}
	kept[nkept++] = p;
	use_ptr(p);
}

extern "C" {

NOINLINE void new_leak(void)
{
	for (int i = 0; i < 50; i++) {
		Obj200 *o = new Obj200; line_new = __LINE__;
		keep(o);
	}
}

NOINLINE void new_array_leak(void)
{
	for (int i = 0; i < 20; i++) {
		char *a = new char[3000]; line_new_array = __LINE__;
		keep(a);
	}
}

NOINLINE void new_nothrow_leak(void)
{
	for (int i = 0; i < 10; i++) {
		Obj200 *o = new (std::nothrow) Obj200; line_new_nothrow = __LINE__;
		keep(o);
	}
}

NOINLINE void new_array_nothrow_leak(void)
{
	for (int i = 0; i < 10; i++) {
		char *a = new (std::nothrow) char[700]; line_new_array_nothrow = __LINE__;
		keep(a);
	}
}

NOINLINE void new_aligned_leak(void)
{
	for (int i = 0; i < 10; i++) {
		Al128 *a = new Al128; line_new_aligned = __LINE__;
		if ((uintptr_t)a & 127)
			say("FAIL new Al128 is not aligned: %p\n", (void *)a);
		keep(a);
	}
}

NOINLINE void new_array_aligned_leak(void)
{
	for (int i = 0; i < 5; i++) {
		Al128 *a = new Al128[2]; line_new_array_aligned = __LINE__;
		keep(a);
	}
}

NOINLINE void new_aligned_nothrow_leak(void)
{
	for (int i = 0; i < 5; i++) {
		Al128 *a = new (std::nothrow) Al128; line_new_aligned_nothrow = __LINE__;
		keep(a);
	}
}

NOINLINE void new_array_aligned_nothrow_leak(void)
{
	for (int i = 0; i < 5; i++) {
		Al128 *a = new (std::nothrow) Al128[3]; line_new_array_aligned_nothrow = __LINE__;
		keep(a);
	}
}

NOINLINE void malloc_leak(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = malloc(444); line_malloc = __LINE__;
		touch(p, 444);
		keep(p);
	}
}

// Every operator new with its operator delete; frees everything.
NOINLINE void cxx_churn(void)
{
	const std::align_val_t al{128};
	uint64_t seed = 7;
	std::vector<std::unique_ptr<std::string>> strings;
	std::map<int, std::vector<int>> m;
	// 600 rounds: under the trap engine with --every each event is a
	// ptrace stop (~80 us here), and the work must end well within the
	// tests' 4 s report.
	for (int i = 0, rounds = churn_rounds(600); i < rounds; i++) {
		size_t n = 1 + rnd(&seed) % 300;
		delete new Obj200;                                       // sized delete
		delete[] new char[n];                                    // delete[]
		delete[] new WithDtor[1 + n % 5];                        // sized delete[]
		::operator delete(new (std::nothrow) Obj200, std::nothrow);
		::operator delete[](new (std::nothrow) char[n], std::nothrow);
		delete new Al128;                                        // sized, aligned
		delete[] new Al128[2];                                   // aligned delete[]
		::operator delete(::operator new(n * 128, al), al);     // aligned
		::operator delete[](::operator new[](n * 128, al), al);
		::operator delete(::operator new(256, al, std::nothrow), al, std::nothrow);
		::operator delete[](::operator new[](256, al, std::nothrow), al, std::nothrow);
		::operator delete(::operator new(n), n);                // sized, explicit
		::operator delete[](::operator new[](n), n);
		::operator delete(::operator new(256, al), 256, al);    // sized and aligned, explicit
		::operator delete[](::operator new[](256, al), 256, al);
		::operator delete(::operator new(n));                    // plain
		strings.emplace_back(new std::string(n, 'x'));
		if (strings.size() > 32)
			strings.erase(strings.begin() + rnd(&seed) % strings.size());
		m[(int)(rnd(&seed) % 64)].assign(n, i);
		free(malloc(n));
	}
	strings.clear();
	strings.shrink_to_fit();
	m.clear();
}

NOINLINE void thrower(int i)
{
	std::string msg(100, 'e');       // heap: longer than the SSO buffer
	msg += std::to_string(i);
	throw std::runtime_error(msg);
}

NOINLINE void throw_leak_frame(int i)
{
	char *p = new char[128]; line_throw = __LINE__;
	keep(p);
	thrower(i);
	use_ptr(p);
}

NOINLINE void throw_raii(int i)
{
	std::unique_ptr<std::vector<int>> v(new std::vector<int>(500, i));
	throw_leak_frame(i);
	use_ptr(v.get());
}

static int handler_calls;

// A new_handler that cannot free anything: it takes itself out, so that the
// operator's next attempt throws std::bad_alloc.
static void handler_once(void)
{
	handler_calls++;
	std::set_new_handler(nullptr);
}

// One throwing operator new per variant, for a size that cannot be had:
// each must throw std::bad_alloc, and call the new_handler once if there is
// one. Returns how many behaved.
NOINLINE int bad_alloc_calls(void)
{
	const size_t huge = (size_t)1 << 62;
	const std::align_val_t al{128};
	int ok = 0;
	for (int with_handler = 0; with_handler < 2; with_handler++)
		for (int variant = 0; variant < 4; variant++) {
			handler_calls = 0;
			std::set_new_handler(with_handler ? handler_once : nullptr);
			void *p = nullptr;
			try {
				switch (variant) {
				case 0: p = ::operator new(huge); break;
				case 1: p = ::operator new[](huge); break;
				case 2: p = ::operator new(huge, al); break;
				default: p = ::operator new[](huge, al); break;
				}
			} catch (const std::bad_alloc &) {
				if (handler_calls == with_handler)
					ok++;
				else
					say("FAIL operator new variant %d called the new_handler %d times\n",
					    variant, handler_calls);
				continue;
			}
			say("FAIL operator new variant %d returned %p for 2^62 bytes\n", variant, p);
		}
	std::set_new_handler(nullptr);
	return ok;
}

} // extern "C"

int main()
{
	block_protocol_signals();
	// The unwinder's first throw sets up caches it keeps (a static
	// program's libgcc allocates its table of unwind entries): before "ready".
	try {
		throw std::runtime_error("warm-up");
	} catch (const std::runtime_error &) {
	}
	announce_ready();
	wait_signal(SIGUSR1);

	new_leak();
	cxx_churn();
	new_array_leak();
	new_nothrow_leak();
	new_array_nothrow_leak();
	new_aligned_leak();
	new_array_aligned_leak();
	new_aligned_nothrow_leak();
	new_array_aligned_nothrow_leak();
	malloc_leak();
	int caught = 0;
	for (int i = 0; i < 30; i++) {
		try {
			throw_raii(i);
		} catch (const std::runtime_error &e) {
			if (std::string(e.what()).size() >= 100)
				caught++;
		}
	}
	if (caught != 30) {
		say("FAIL caught %d of 30 exceptions\n", caught);
		return 96;
	}
	if (!dlsym(RTLD_DEFAULT, "mi_version") && bad_alloc_calls() != 8)
		return 96;

	site_line("new_leak", 50, 50L * 200, line_new);
	site_line("new_array_leak", 20, 20L * 3000, line_new_array);
	site_line("new_nothrow_leak", 10, 10L * 200, line_new_nothrow);
	site_line("new_array_nothrow_leak", 10, 10L * 700, line_new_array_nothrow);
	site_line("new_aligned_leak", 10, 10L * 256, line_new_aligned);
	site_line("new_array_aligned_leak", 5, 5L * 512, line_new_array_aligned);
	site_line("new_aligned_nothrow_leak", 5, 5L * 256, line_new_aligned_nothrow);
	site_line("new_array_aligned_nothrow_leak", 5, 5L * 768, line_new_array_aligned_nothrow);
	site_line("malloc_leak", 10, 10L * 444, line_malloc);
	site_line("throw_leak_frame", 30, 30L * 128, line_throw);
	site_line("cxx_churn", 0, 0, 0);
	site_line("thrower", 0, 0, 0);
	site_line("throw_raii", 0, 0, 0);
	site_line("bad_alloc_calls", 0, 0, 0);
	say("done\n");

	wait_signal(SIGTERM);
	use_ptr(kept);
	return 0;
}
