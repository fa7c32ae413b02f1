/*
 * test_stub: runs the real x86-64 stub image inside this process.
 *
 * The image is copied into an anonymous region laid out as in region.h; each
 * trampoline slot jumps to a fake allocator of this file. The stubs are then
 * called like the functions they stand in for, and their breakpoints are
 * caught with a SIGTRAP handler, so that the test checks the contract the
 * tracer relies on: the unsampled path never stops, the sampled path stops
 * once after the original ran, with the frame arch_decode_alloc() expects,
 * frees of addresses in the table clear their slot and are logged (or stop,
 * when the log is full), and nothing stops while the active flag is clear.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch.h"
#include "region.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

static uint8_t *region;
static size_t fake_last_size;
static char fake_block[4096];

/* The "originals" the trampolines lead to. */
static void *fake_malloc(size_t n) { fake_last_size = n; return fake_block; }
static void *fake_calloc(size_t n, size_t s) { fake_last_size = n * s; return fake_block + 16; }
static void *fake_realloc(void *p, size_t n) { (void)p; fake_last_size = n; return fake_block + 32; }
static int fake_posix_memalign(void **out, size_t a, size_t n) { (void)a; fake_last_size = n; *out = fake_block + 64; return 0; }
static void *freed;
static void fake_free(void *p) { freed = p; }

/* What the SIGTRAP handler saw. */
static int traps;
static struct arch_regs trap_regs;
static uint64_t trap_words[ARCH_TRAP_WORDS];
static uint32_t trap_inflight;

static void on_trap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;
	struct user_regs_struct *r = &trap_regs.r;
	(void)sig; (void)si;
	traps++;
	memset(r, 0, sizeof(*r));
	r->rip = g[REG_RIP]; r->rsp = g[REG_RSP]; r->rax = g[REG_RAX]; r->rdi = g[REG_RDI];
	r->rbx = g[REG_RBX]; r->rbp = g[REG_RBP]; r->r12 = g[REG_R12];
	memcpy(trap_words, (void *)g[REG_RSP], sizeof(trap_words));
	memcpy(&trap_inflight, region + RG_INFLIGHT, 4);
}

/* Makes trampoline slot k an absolute jump (jmp *0(%rip); .quad to). */
static void slot_jump(int k, void *to)
{
	uint8_t *s = region + arch_image_hooks[k].tramp;
	s[0] = 0xff; s[1] = 0x25; memset(s + 2, 0, 4);
	uint64_t a = (uint64_t)(uintptr_t)to;
	memcpy(s + 6, &a, 8);
}

/* Sets every countdown to left, and every interval a stub may draw next to
 * next (the draws table filled with one value). */
static void set_countdowns(int64_t left, int64_t next)
{
	int64_t *draws = (int64_t *)(region + RG_DRAWS);
	for (int i = 0; i < RG_NDRAWS; i++)
		draws[i] = next;
	for (int i = 0; i < RG_NSHARDS; i++) {
		int64_t *sh = (int64_t *)(region + RG_SHARDS + (i << RG_SHARD_LOG));
		sh[0] = left;
		if (!sh[RG_SHARD_RNG / 8])
			sh[RG_SHARD_RNG / 8] = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
	}
}

static int64_t countdown_here(void)
{
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	return *(int64_t *)(region + RG_SHARDS + (((sp >> RG_SHARD_SHIFT) & (RG_NSHARDS - 1)) << RG_SHARD_LOG));
}

/* The count in the filter of addr's group of buckets. */
static uint8_t *group_of(uint64_t addr)
{
	unsigned b = (unsigned)((addr * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS));
	return region + RG_FILTER + (b >> RG_GROUP_LOG);
}

/* Puts addr in the table, and counts it, as the trap engine's tracer does;
 * returns its slot, or NULL when the bucket is full. */
static uint64_t *table_put(uint64_t addr)
{
	unsigned b = (unsigned)((addr * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS));
	uint64_t *bucket = (uint64_t *)(region + RG_TABLE + ((size_t)b << RG_BUCKET_LOG));
	for (int i = 0; i < RG_BUCKET_SLOTS; i++)
		if (!bucket[i]) { bucket[i] = addr; (*group_of(addr))++; return &bucket[i]; }
	return NULL;
}

/* Empties a slot table_put filled, and uncounts it. */
static void table_clear(uint64_t *slot)
{
	(*group_of(*slot))--;
	*slot = 0;
}

/* Returns the table slot holding addr, or NULL. */
static uint64_t *table_find(uint64_t addr)
{
	unsigned b = (unsigned)((addr * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS));
	uint64_t *bucket = (uint64_t *)(region + RG_TABLE + ((size_t)b << RG_BUCKET_LOG));
	for (int i = 0; i < RG_BUCKET_SLOTS; i++)
		if (bucket[i] == addr)
			return &bucket[i];
	return NULL;
}

static void set_active(uint32_t on) { memcpy(region + RG_ACTIVE, &on, 4); }

__attribute__((noinline)) static void *call_malloc(size_t n)
{
	void *(*f)(size_t) = (void *(*)(size_t))(region + arch_image_hooks[HK_MALLOC].stub);
	void *p = f(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
	sigaction(SIGTRAP, &sa, NULL);
	region = mmap(NULL, RG_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return 99;
	CHECK(arch_image_size <= RG_CODE_SIZE, "image (%u bytes) fits the code part", arch_image_size);
	memcpy(region, arch_image, arch_image_size);
	for (int k = 0; k < HK_COUNT; k++) {
		const struct arch_hook_offsets *o = &arch_image_hooks[k];
		CHECK(o->stub < o->tramp && o->tramp + RG_TRAMP_SLOT <= arch_image_size &&
		      (o->trap_alloc != 0) == hook_defs[k].allocates &&
		      (o->trap_free != 0) == hook_defs[k].frees_arg0,
		      "%s: offsets consistent with its definition", hook_defs[k].name);
		if (o->trap_alloc)
			CHECK(region[o->trap_alloc] == arch_bkpt_insn[0], "%s: allocation trap is a breakpoint", hook_defs[k].name);
		if (o->trap_free)
			CHECK(region[o->trap_free] == arch_bkpt_insn[0], "%s: free trap is a breakpoint", hook_defs[k].name);
	}
	slot_jump(HK_MALLOC, fake_malloc);
	slot_jump(HK_CALLOC, fake_calloc);
	slot_jump(HK_REALLOC, fake_realloc);
	slot_jump(HK_POSIX_MEMALIGN, fake_posix_memalign);
	slot_jump(HK_FREE, fake_free);

	/* inactive: plain jumps, even when a countdown would run out */
	set_countdowns(10, 1000);
	void *p = call_malloc(100);
	CHECK(p == fake_block && fake_last_size == 100 && traps == 0, "inactive malloc goes straight to the original");
	CHECK(countdown_here() == 10, "inactive malloc leaves the countdown alone");

	set_active(1);
	set_countdowns(1000, 5000);
	p = call_malloc(100);
	CHECK(p == fake_block && traps == 0, "unsampled malloc: no stop");
	CHECK(countdown_here() == 900, "unsampled malloc: countdown 1000 - 100 = %lld", (long long)countdown_here());

	p = call_malloc(2000);
	CHECK(p == fake_block && fake_last_size == 2000 && traps == 1, "sampled malloc: original ran, one stop");
	CHECK(arch_bkpt_addr(arch_pc(&trap_regs)) == (uint64_t)(uintptr_t)region + arch_image_hooks[HK_MALLOC].trap_alloc,
	      "sampled malloc stops at its allocation trap");
	struct arch_event ev;
	arch_decode_alloc(&trap_regs, trap_words, &ev);
	CHECK(ev.size == 2000 && ev.ret == (uint64_t)(uintptr_t)fake_block, "decoded size %llu and result",
	      (unsigned long long)ev.size);
	uint64_t ra = arch_pc(&ev.caller);
	CHECK(ra > (uint64_t)(uintptr_t)call_malloc && ra < (uint64_t)(uintptr_t)call_malloc + 64,
	      "decoded return address lies in the caller");
	CHECK(trap_inflight == 1, "the call is counted in flight during the stop");
	uint32_t inflight;
	memcpy(&inflight, region + RG_INFLIGHT, 4);
	CHECK(inflight == 0, "and no longer after the return");
	CHECK(countdown_here() == 5000, "countdown refreshed from the draws table");

	/* the draw is picked by the shard's xorshift state: all 256 get used */
	{
		int64_t *draws = (int64_t *)(region + RG_DRAWS);
		bool seen[RG_NDRAWS] = { false };
		int distinct = 0;
		for (int i = 0; i < RG_NDRAWS; i++)
			draws[i] = 100000 + i;
		for (int i = 0; i < 4000; i++) {
			int64_t *sh = (int64_t *)(region + RG_SHARDS +
				(((((uint64_t)(uintptr_t)__builtin_frame_address(0)) >> RG_SHARD_SHIFT) &
				  (RG_NSHARDS - 1)) << RG_SHARD_LOG));
			sh[0] = 1;
			traps = 0;
			call_malloc(8);
			int64_t d = countdown_here() - 100000;
			if (d >= 0 && d < RG_NDRAWS && !seen[d])
				seen[d] = true, distinct++;
		}
		CHECK(distinct > 240, "4000 samples drew %d of the %d intervals", distinct, RG_NDRAWS);
	}

	/* calloc counts n * size */
	set_countdowns(1000, 5000);
	traps = 0;
	void *(*cf)(size_t, size_t) = (void *(*)(size_t, size_t))(region + arch_image_hooks[HK_CALLOC].stub);
	p = cf(10, 50);
	CHECK(p == fake_block + 16 && traps == 0 && countdown_here() == 500, "calloc(10, 50) counts 500 bytes");
	p = cf(10, 60);
	arch_decode_alloc(&trap_regs, trap_words, &ev);
	CHECK(traps == 1 && ev.size == 600, "calloc sampled with size 600");

	/* posix_memalign: the block comes back through *arg0 */
	set_countdowns(1, 5000);
	traps = 0;
	void *out = NULL;
	int (*pm)(void **, size_t, size_t) = (int (*)(void **, size_t, size_t))(region + arch_image_hooks[HK_POSIX_MEMALIGN].stub);
	int rc = pm(&out, 64, 128);
	arch_decode_alloc(&trap_regs, trap_words, &ev);
	CHECK(rc == 0 && out == fake_block + 64 && traps == 1 && ev.size == 128 &&
	      ev.arg0 == (uint64_t)(uintptr_t)&out, "posix_memalign sampled: size from arg 2, memptr in arg0");

	/* free: stops only for sampled addresses, before the original */
	traps = 0;
	void (*ff)(void *) = (void (*)(void *))(region + arch_image_hooks[HK_FREE].stub);
	ff(fake_block + 100);
	CHECK(traps == 0 && freed == fake_block + 100, "free of an unsampled address: no stop");
	ff(NULL);
	CHECK(traps == 0 && freed == NULL, "free(NULL): no stop");
	uint64_t *flog = (uint64_t *)(region + RG_FLOG), *fhead = (uint64_t *)(region + RG_FHEAD);
	uint64_t *ftail = (uint64_t *)(region + RG_FTAIL);
	uint64_t *slot = table_put((uint64_t)(uintptr_t)(fake_block + 200));
	ff(fake_block + 200);
	CHECK(traps == 0 && freed == fake_block + 200, "free of a sampled address: no stop, original ran");
	CHECK(*slot == 0, "its table slot is cleared");
	CHECK(*group_of((uint64_t)(uintptr_t)(fake_block + 200)) == 0, "and its group's count is back to 0");
	CHECK(*fhead == 1 && flog[0] == (uint64_t)(uintptr_t)(fake_block + 200) && flog[1] == 0, "and the address is logged");
	/* the count is what a free reads first: at 0 the table is not probed */
	slot = table_put((uint64_t)(uintptr_t)(fake_block + 200));
	(*group_of(*slot))--;
	ff(fake_block + 200);
	CHECK(freed == fake_block + 200 && *slot == (uint64_t)(uintptr_t)(fake_block + 200) && *fhead == 1,
	      "a free whose group counts 0 goes to the original without probing the table");
	(*group_of(*slot))++;
	table_clear(slot);

	/* a hit in a later slot clears that slot, not its neighbours */
	uint64_t keep = (uint64_t)(uintptr_t)(fake_block + 512);
	uint64_t *s0 = table_put(keep), *s1;
	for (int i = 0; i < 1 << 20; i++) {	/* another address in the same bucket */
		uint64_t a = (uint64_t)(uintptr_t)fake_block + 16 * (uint64_t)i;
		if (a != keep && (a * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS) ==
				 (keep * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS)) {
			s1 = table_put(a);
			ff((void *)(uintptr_t)a);
			CHECK(s1 == s0 + 1 && *s1 == 0 && *s0 == keep && traps == 0,
			      "freeing the address in slot 1 clears slot 1 and keeps slot 0");
			break;
		}
	}
	table_clear(s0);
	*ftail = *fhead;
	/* and the last slot of a full bucket is found too */
	uint64_t *last = NULL, base = (uint64_t)(uintptr_t)(fake_block + 1024);
	unsigned nb = 0;
	for (uint64_t i = 0; i < (1u << 24) && nb < RG_BUCKET_SLOTS; i++) {
		uint64_t a = base + 16 * i;
		if ((a * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS) ==
		    (base * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS)) {
			last = table_put(a);
			nb++;
		}
	}
	if (last) {
		uint64_t a = *last;
		ff((void *)(uintptr_t)a);
		CHECK(nb == RG_BUCKET_SLOTS && *last == 0 && freed == (void *)(uintptr_t)a && traps == 0,
		      "the address in the last slot of a full bucket is found and cleared");
		for (uint64_t *p = last - (RG_BUCKET_SLOTS - 1); p < last; p++)
			table_clear(p);
	}
	*ftail = *fhead;

	/* a full log: the stub stops instead */
	*fhead = RG_FLOG_N + 1;
	*ftail = 1;
	slot = table_put((uint64_t)(uintptr_t)(fake_block + 208));
	ff(fake_block + 208);
	arch_decode_free(&trap_regs, trap_words, &ev);
	CHECK(traps == 1 && freed == fake_block + 208 && ev.arg0 == (uint64_t)(uintptr_t)(fake_block + 208) &&
	      *fhead == RG_FLOG_N + 1, "full log: the free stops once with the pointer, nothing logged");
	CHECK(arch_bkpt_addr(arch_pc(&trap_regs)) == (uint64_t)(uintptr_t)region + arch_image_hooks[HK_FREE].trap_free,
	      "at the free trap");
	*ftail = *fhead;

	/* realloc of a sampled pointer: logged as a free, then an allocation stop */
	traps = 0;
	set_countdowns(1, 5000);
	slot = table_put((uint64_t)(uintptr_t)(fake_block + 300));
	void *(*rf)(void *, size_t) = (void *(*)(void *, size_t))(region + arch_image_hooks[HK_REALLOC].stub);
	p = rf(fake_block + 300, 777);
	arch_decode_alloc(&trap_regs, trap_words, &ev);
	CHECK(p == fake_block + 32 && traps == 1 && ev.size == 777 && *slot == 0 &&
	      flog[2 * ((*fhead - 1) % RG_FLOG_N)] == (uint64_t)(uintptr_t)(fake_block + 300),
	      "realloc: old block logged as freed, then one allocation stop");

	/* agent engine: the event goes to the ring, nothing stops */
	{
		uint32_t mode_pid[2] = { 1, (uint32_t)getpid() };
		uint64_t *rhead = (uint64_t *)(region + RG_RHEAD), *rtail = (uint64_t *)(region + RG_RTAIL);
		uint8_t *slot0 = region + RG_RING;
		memcpy(region + RG_MODE, mode_pid, sizeof(mode_pid));
		traps = 0;
		set_countdowns(1, 5000);
		p = call_malloc(3000);
		struct arch_event rv;
		uint64_t seq, copied;
		uint32_t kind, tid;
		memcpy(&seq, slot0 + RS_SEQ, 8);
		memcpy(&kind, slot0 + RS_KIND, 4);
		memcpy(&tid, slot0 + RS_TID, 4);
		memcpy(&copied, slot0 + RS_COPIED, 8);
		arch_decode_record(slot0, &rv);
		ra = arch_pc(&rv.caller);
		CHECK(p == fake_block && traps == 0 && *rhead == 1 && seq == 1, "agent: sampled malloc "
		      "writes ring slot 0 (seq %llu) and does not stop", (unsigned long long)seq);
		CHECK(kind == HK_MALLOC && rv.size == 3000 && rv.ret == (uint64_t)(uintptr_t)fake_block &&
		      tid == (uint32_t)gettid(), "agent: kind, size, result and thread recorded");
		CHECK(ra > (uint64_t)(uintptr_t)call_malloc && ra < (uint64_t)(uintptr_t)call_malloc + 64,
		      "agent: the return address lies in the caller");
		CHECK(copied > 0 && copied <= RG_STACK_COPY &&
		      arch_sp(&rv.caller) > (uint64_t)(uintptr_t)__builtin_frame_address(0) - 4096,
		      "agent: %llu bytes of stack copied from the caller's sp", (unsigned long long)copied);
		memcpy(&inflight, region + RG_INFLIGHT, 4);
		CHECK(inflight == 0, "agent: nothing left in flight");
		uint64_t *tb = table_find((uint64_t)(uintptr_t)fake_block);
		CHECK(tb != NULL, "agent: the block is in the sampled table");
		CHECK(*group_of((uint64_t)(uintptr_t)fake_block) == 1, "agent: and its group counts it");
		uint64_t fh = *fhead;
		ff(fake_block);
		CHECK(tb && *tb == 0 && *fhead == fh + 1 &&
		      flog[2 * (fh % RG_FLOG_N)] == (uint64_t)(uintptr_t)fake_block &&
		      flog[2 * (fh % RG_FLOG_N) + 1] == *rhead,
		      "agent: freeing it logs the address with the ring head (%llu)", (unsigned long long)*rhead);
		CHECK(*group_of((uint64_t)(uintptr_t)fake_block) == 0, "agent: and uncounts it");
		*ftail = *fhead;

		out = NULL;
		set_countdowns(1, 5000);
		rc = pm(&out, 64, 256);
		arch_decode_record(slot0 + RG_SLOT, &rv);
		CHECK(rc == 0 && *rhead == 2 && rv.ret == (uint64_t)(uintptr_t)(fake_block + 64) && rv.size == 256,
		      "agent: posix_memalign records the block itself");

		/* a full ring drops and counts, never waits or stops */
		*rtail = 0;
		*rhead = RG_RING_N;
		set_countdowns(1, 5000);
		p = call_malloc(10);
		uint64_t drops;
		memcpy(&drops, region + RG_RDROPS, 8);
		CHECK(p == fake_block && traps == 0 && *rhead == RG_RING_N && drops == 1,
		      "agent: a full ring drops the event and counts it");
		/* a fork child's copy (another pid) records nothing */
		*rhead = *rtail = 0;
		mode_pid[1] = (uint32_t)getpid() + 1;
		memcpy(region + RG_MODE, mode_pid, sizeof(mode_pid));
		set_countdowns(1, 5000);
		call_malloc(10);
		CHECK(*rhead == 0 && traps == 0, "agent: another process's copy records nothing");
		/* a full free log drops and counts instead of stopping */
		*fhead = RG_FLOG_N + 5;
		*ftail = 5;
		slot = table_put((uint64_t)(uintptr_t)(fake_block + 216));
		ff(fake_block + 216);
		memcpy(&drops, region + RG_FDROPS, 8);
		CHECK(traps == 0 && freed == fake_block + 216 && *slot == 0 && drops == 1,
		      "agent: a full free log counts a drop, no stop");
		*ftail = *fhead;
		mode_pid[0] = 0;
		memcpy(region + RG_MODE, mode_pid, sizeof(mode_pid));
	}

	/* C++ operators, in the agent engine: each operator new records its own
	 * kind (the number the stub passes to lt_record is its place in enum
	 * hook_kind) with the size from its first argument; each operator
	 * delete logs a sampled pointer, whatever else it is given */
	{
		uint32_t mode_pid[2] = { 1, (uint32_t)getpid() };
		uint64_t *rhead = (uint64_t *)(region + RG_RHEAD), *rtail = (uint64_t *)(region + RG_RTAIL);
		memcpy(region + RG_MODE, mode_pid, sizeof(mode_pid));
		int news = 0, news_ok = 0, deletes = 0, deletes_ok = 0;
		for (int k = 0; k < HK_COUNT; k++) {
			if (!hook_defs[k].cxx)
				continue;
			traps = 0;
			if (hook_defs[k].allocates) {
				void *(*nf)(size_t, size_t, void *) =
					(void *(*)(size_t, size_t, void *))(region + arch_image_hooks[k].stub);
				slot_jump(k, fake_malloc);
				*rhead = *rtail = 0;
				set_countdowns(1, 5000);
				p = nf(1000 + (size_t)k, 64, NULL);
				uint32_t kind;
				struct arch_event rv;
				memcpy(&kind, region + RG_RING + RS_KIND, 4);
				arch_decode_record(region + RG_RING, &rv);
				news++;
				if (p == fake_block && traps == 0 && *rhead == 1 && kind == (uint32_t)k &&
				    rv.size == 1000 + (uint64_t)k)
					news_ok++;
				else
					printf("# %s: kind %u size %llu\n", hook_defs[k].name, kind,
					       (unsigned long long)rv.size);
				uint64_t *tb = table_find((uint64_t)(uintptr_t)fake_block);
				if (tb)
					*tb = 0;
			} else {
				void (*df)(void *, size_t, size_t) =
					(void (*)(void *, size_t, size_t))(region + arch_image_hooks[k].stub);
				slot_jump(k, fake_free);
				uint64_t fh = *fhead;
				slot = table_put((uint64_t)(uintptr_t)(fake_block + 600));
				df(fake_block + 600, 24, 64);
				deletes++;
				if (traps == 0 && freed == fake_block + 600 && *slot == 0 && *fhead == fh + 1 &&
				    flog[2 * (fh % RG_FLOG_N)] == (uint64_t)(uintptr_t)(fake_block + 600))
					deletes_ok++;
				else
					printf("# %s: not logged\n", hook_defs[k].name);
				*ftail = *fhead;
			}
		}
		CHECK(news == 8 && news_ok == news, "agent: %d of the %d operator new stubs record their "
		      "kind and size", news_ok, news);
		CHECK(deletes == 12 && deletes_ok == deletes, "agent: %d of the %d operator delete stubs "
		      "log a sampled pointer", deletes_ok, deletes);
		*rhead = *rtail = 0;
		mode_pid[0] = 0;
		memcpy(region + RG_MODE, mode_pid, sizeof(mode_pid));
	}

	/* inactive again: nothing stops, not even sampled frees */
	set_active(0);
	traps = 0;
	set_countdowns(1, 1);
	call_malloc(5000);
	ff(fake_block + 300);
	CHECK(traps == 0, "inactive: no stop at all");
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}
