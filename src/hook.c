/* hook: maps the region, fills stubs and trampolines, patches and restores entries. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "maps.h"
#include "region.h"
#include "sample.h"

#define PAGE 4096ULL
/* The region starts within this of every hooked entry (see arch.h). */
#define REACH ((taddr_t)arch_region_reach)
#define USER_TOP 0x7ffffffff000ULL

/* Bucket of the sampled-address table for addr: the same hash as the stubs'. */
static unsigned bucket_of(taddr_t addr)
{
	return (unsigned)((addr * (uint64_t)RG_HASH_MUL) >> (64 - RG_TABLE_BITS));
}

/* Picks free addresses for the region within reach of [lo, hi], nearest
 * first; fills out[] and returns how many. */
static int region_candidates(const struct maps *m, taddr_t lo, taddr_t hi, taddr_t *out, int max)
{
	taddr_t want_lo = hi > REACH ? hi - REACH : PAGE * 16;
	taddr_t want_hi = lo + REACH - RG_SIZE;
	int n = 0;
	for (size_t i = 0; i <= m->n && n < max; i++) {
		taddr_t gs = i ? m->v[i - 1].end : PAGE * 16;
		taddr_t ge = i < m->n ? m->v[i].start : USER_TOP;
		/* Leave the stack room to grow: nothing within 64 MiB below it. */
		if (i < m->n && !strcmp(m->v[i].path, "[stack]"))
			ge = ge > (64ULL << 20) ? ge - (64ULL << 20) : 0;
		if (ge < gs + RG_SIZE + 2 * PAGE)
			continue;
		taddr_t a_lo = gs + PAGE, a_hi = ge - PAGE - RG_SIZE;	/* guard pages */
		if (a_lo < want_lo)
			a_lo = (want_lo + PAGE - 1) & ~(PAGE - 1);
		if (a_hi > want_hi)
			a_hi = want_hi & ~(PAGE - 1);
		if (a_lo > a_hi)
			continue;
		/* The end of a gap below the entries, or its start above them. */
		out[n++] = a_hi < lo ? a_hi : a_lo;
	}
	/* Nearest to the entries first. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			taddr_t a = out[j], b = out[j - 1];
			taddr_t da = a < lo ? lo - a : a - lo, db = b < lo ? lo - b : b - lo;
			if (da >= db)
				break;
			out[j] = b;
			out[j - 1] = a;
		}
	return n;
}

/* Runs a system call through th and returns its result as -errno on failure. */
static long remote(struct target *t, struct thread *th, taddr_t insn, long nr,
		   uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t args[6] = { a0, a1, a2, a3, (uint64_t)-1, 0 };
	long ret;
	int e = inject_syscall(t, th, insn, nr, args, &ret);
	return e ? e : ret;
}

/* Maps the region in the target; returns its address, or 0 with err set. */
static taddr_t map_region(struct target *t, struct thread *th, taddr_t insn,
			  taddr_t lo, taddr_t hi, char *err, size_t errlen)
{
	struct maps m;
	taddr_t cand[64];
	if (maps_read(t->pid, &m) < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/maps", t->pid);
		return 0;
	}
	int n = region_candidates(&m, lo, hi, cand, 64);
	maps_free(&m);
	for (int i = 0; i < n; i++) {
		long r = remote(t, th, insn, SYS_mmap, cand[i], RG_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
		if (r == (long)cand[i]) {
			/* A fork child's copy of the flags page reads as zeros: its
			 * active flag is clear, its stubs plain jumps, whatever engine
			 * (the trap engine also gives it its code back). Kernels before
			 * 4.14 refuse; the agent stubs' pid check then keeps a child
			 * from recording. */
			remote(t, th, insn, SYS_madvise, cand[i] + RG_DATA, 4096, MADV_WIPEONFORK, 0);
			return cand[i];
		}
		if (r > 0)	/* a kernel that took the address as a hint */
			remote(t, th, insn, SYS_munmap, (uint64_t)r, RG_SIZE, 0, 0);
		else if (r != -EEXIST) {
			snprintf(err, errlen, "mmap in the target failed: %s", strerror((int)-r));
			return 0;
		}
	}
	snprintf(err, errlen, "no free address range within reach of the allocator "
		 "(within %llu MiB of " TADDR_FMT ")", (unsigned long long)(REACH >> 20), TADDR_ARG(lo));
	return 0;
}

/* Decides how to hook one function: relocates its prologue for the branch
 * patch, else for the breakpoint fallback (trap engine only), else leaves
 * it alone. */
static void plan_hook(struct target *t, struct hook *h, bool agent)
{
	uint8_t buf[65536];
	size_t len = h->fsize ? (h->fsize < sizeof(buf) ? h->fsize : sizeof(buf)) : 64;
	if (target_read(t, h->entry, buf, len) < 0) {
		snprintf(h->why, sizeof(h->why), "cannot read its code");
		return;
	}
	bool whole = h->fsize > 0 && h->fsize <= sizeof(buf);
	if (arch_relocate(buf, len, whole, h->entry, h->tramp, arch_branch_len, &h->rel) == 0) {
		h->how = HOW_JMP;
		h->patch_len = arch_branch_len;
	} else {
		char jmp_why[sizeof(h->rel.why)];
		snprintf(jmp_why, sizeof(jmp_why), "%s", h->rel.why);
		if (agent) {
			/* nothing would catch the trap between attach and detach */
			snprintf(h->why, sizeof(h->why), "the breakpoint fallback needs --engine trap "
				 "(branch refused: %.100s)", jmp_why);
			return;
		}
		if (arch_relocate(buf, len, whole, h->entry, h->tramp, arch_bkpt_len, &h->rel) == 0) {
			h->how = HOW_BKPT;
			h->patch_len = arch_bkpt_len;
			snprintf(h->why, sizeof(h->why), "branch refused: %s", jmp_why);
		} else {
			snprintf(h->why, sizeof(h->why), "refused: %s", jmp_why);
			return;
		}
	}
	h->patch_at = h->entry + h->rel.skip;
	memcpy(h->orig, buf + h->rel.skip, h->patch_len);
}

/* Each throwing operator new and its nothrow twin, in RG_NOTHROW's order. */
static const int nothrow_twin[][2] = {
	{ HK_NEW, HK_NEW_NOTHROW },
	{ HK_NEW_ARRAY, HK_NEW_ARRAY_NOTHROW },
	{ HK_NEW_ALIGNED, HK_NEW_ALIGNED_NOTHROW },
	{ HK_NEW_ARRAY_ALIGNED, HK_NEW_ARRAY_ALIGNED_NOTHROW },
};

/* Tells the sampled path of each throwing operator new what to call
 * (RG_NOTHROW, stub.S says why): its nothrow twin when the same object
 * defines one, through the twin's pad or trampoline when the twin is hooked
 * (its entry would take the call through a stub again), else at its entry;
 * 0 leaves the operator calling itself. Also the twin's code range, so
 * that the stub does not sample the calls the twin makes to the operator.
 * Returns 0, or -1 if the write failed. */
static int link_nothrow_twins(struct target *t, const struct hooks *hk,
			      const struct finder_result *f, const bool *far)
{
	enum { N = sizeof(nothrow_twin) / sizeof(nothrow_twin[0]) };
	uint64_t twin[N][RG_NOTHROW_ENTRY / 8] = { { 0 } };	/* call, lo, len */
	for (int i = 0; i < N; i++) {
		int k = nothrow_twin[i][0], j = nothrow_twin[i][1], owner = j;
		if (!hk->h[k].entry || !hk->h[j].entry || far[j] ||
		    strcmp(f->fn[j].module, f->fn[k].module) != 0)
			continue;
		while (hk->h[owner].how == HOW_ALIAS)
			owner = hk->h[owner].alias_of;
		if (hk->h[owner].entry == hk->h[k].entry)
			continue;	/* one function: it would call itself */
		const struct arch_hook_offsets *o = &arch_image_hooks[owner];
		if (hk->h[owner].how == HOW_JMP || hk->h[owner].how == HOW_BKPT)
			twin[i][0] = hk->region + (o->pad ? o->pad : o->tramp);
		else
			twin[i][0] = hk->h[j].entry;
		twin[i][1] = hk->h[j].entry;
		twin[i][2] = f->fn[j].size;
	}
	return target_write(t, hk->region + RG_NOTHROW, twin, sizeof(twin));
}

/* Moves threads whose PC lies inside a patch window out of it by single-stepping. */
static int step_out_of_windows(struct target *t, struct hooks *hk)
{
	for (size_t i = 0; i < t->nth; i++) {
		struct thread *th = &t->th[i];
		for (int n = 0; n < 32; n++) {
			struct arch_regs *r = target_regs(th);
			if (!r || !hook_in_window(hk, arch_pc(r)))
				break;
			int err = target_step(th);
			if (err < 0 && err != -EAGAIN)
				return -EIO;
		}
	}
	return 0;
}

/* Returns how far apart two addresses are. */
static taddr_t distance(taddr_t a, taddr_t b)
{
	return a > b ? a - b : b - a;
}

/* Keeps a patch from covering a pc that a running signal handler will
 * return to (it would resume inside the patch): the trap engine patches
 * the first byte alone, with a breakpoint, which the same trampoline
 * serves; the agent engine leaves the function alone. */
static void avoid_held(struct hook *h, bool agent, const taddr_t *held, int nheld)
{
	for (int i = 0; i < nheld; i++) {
		if (h->how != HOW_JMP || held[i] <= h->patch_at || held[i] >= h->patch_at + h->patch_len)
			continue;
		if (agent) {
			h->how = HOW_NONE;
			snprintf(h->why, sizeof(h->why), "a signal handler is running that will return to "
				 "entry+%#llx, inside the patch: attach again later",
				 (unsigned long long)(held[i] - h->entry));
			return;
		}
		h->how = HOW_BKPT;
		h->patch_len = arch_bkpt_len;
		snprintf(h->why, sizeof(h->why), "breakpoint: a signal handler is running that will "
			 "return to entry+%#llx, inside a branch patch", (unsigned long long)(held[i] - h->entry));
		return;
	}
}

int hook_install(struct target *t, struct hooks *hk, const struct finder_result *f,
		 struct thread *th, taddr_t insn, const taddr_t *held, int nheld, char *err, size_t errlen)
{
	taddr_t lo = UINT64_MAX, hi = 0;
	bool far[HK_COUNT] = { false };
	for (int k = 0; k < HK_COUNT; k++) {
		struct hook *h = &hk->h[k];
		memset(h, 0, sizeof(*h));
		h->entry = f->fn[k].addr;
		h->fsize = f->fn[k].size;
		if (!h->entry) {
			if (f->fn[k].via_malloc)
				snprintf(h->why, sizeof(h->why), "the C++ runtime's (%.120s): it calls "
					 "malloc and free, which are hooked", f->fn[k].module);
			else
				snprintf(h->why, sizeof(h->why), "not defined in the process");
			continue;
		}
	}
	/* One region serves every hook, so they must lie within REACH of each
	 * other. Those of the object around malloc are taken; a function too
	 * far from them (the C library's pvalloc, when the executable holds a
	 * static jemalloc) stays unhooked and is not taken for the allocator's
	 * own caller either: its calls into malloc are recorded as made there. */
	int order[HK_COUNT], n = 0;
	taddr_t m = hk->h[HK_MALLOC].entry;
	for (int k = 0; k < HK_COUNT; k++)
		if (hk->h[k].entry)
			order[n++] = k;
	for (int i = 1; i < n; i++)	/* nearest to malloc first */
		for (int j = i; j > 0 && distance(hk->h[order[j]].entry, m) <
					 distance(hk->h[order[j - 1]].entry, m); j--) {
			int x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (int i = 0; i < n; i++) {
		taddr_t e = hk->h[order[i]].entry;
		taddr_t nlo = e < lo ? e : lo, nhi = e > hi ? e : hi;
		if (nhi - nlo <= REACH) {
			lo = nlo;
			hi = nhi;
		} else {
			far[order[i]] = true;
		}
	}
	for (int k = 0; k < HK_COUNT; k++)
		if (far[k]) {
			hk->h[k].fsize = 0;
			snprintf(hk->h[k].why, sizeof(hk->h[k].why), "not hooked: more than %llu MiB "
				 "from malloc, and one region serves every hook", (unsigned long long)(REACH >> 20));
		}
	hk->region = map_region(t, th, insn, lo, hi, err, errlen);
	if (!hk->region)
		return -1;
	/* Clearing all 8 MiB would fault every page in, in the pause: a mirror
	 * that never held an address is still as calloc gave it. */
	if (hk->table_used) {
		memset(hk->table, 0, sizeof(hk->table));
		memset(hk->group, 0, sizeof(hk->group));
	}
	hk->table_used = false;
	hk->ftail = 0;
	memset(hk->fdone, 0, sizeof(hk->fdone));
	uint32_t mode_pid[2] = { hk->agent, (uint32_t)t->pid };	/* RG_MODE, RG_PID */
	if (target_write(t, hk->region, arch_image, arch_image_size) < 0 ||
	    target_write(t, hk->region + RG_MODE, mode_pid, sizeof(mode_pid)) < 0 ||
	    hook_reset_countdowns(t, hk) < 0)
		goto fail_write;

	for (int k = 0; k < HK_COUNT; k++) {
		struct hook *h = &hk->h[k];
		const struct arch_hook_offsets *o = &arch_image_hooks[k];
		if (!h->entry || far[k])
			continue;
		h->stub = hk->region + o->stub;
		h->tramp = hk->region + o->tramp;
		h->trap_alloc = o->trap_alloc ? hk->region + o->trap_alloc : 0;
		h->trap_free = o->trap_free ? hk->region + o->trap_free : 0;
		for (int j = 0; j < k; j++)
			if (hk->h[j].entry == h->entry) {
				/* glibc: aligned_alloc and memalign are one function. */
				h->how = HOW_ALIAS;
				h->alias_of = j;	/* the first: never an alias itself */
				snprintf(h->why, sizeof(h->why), "same entry as %s", hook_defs[j].name);
				break;
			}
		if (h->how == HOW_ALIAS)
			continue;
		plan_hook(t, h, hk->agent);
		avoid_held(h, hk->agent, held, nheld);
		if (h->how == HOW_NONE)
			h->fsize = 0;	/* unhooked: its calls into malloc are the outermost */
		if (h->how != HOW_NONE && target_write(t, h->tramp, h->rel.code, h->rel.code_len) < 0)
			goto fail_write;
		uint8_t pads[8];
		if (h->how != HOW_NONE && o->pad && h->rel.skip &&
		    (h->rel.skip > sizeof(pads) || target_read(t, h->entry, pads, h->rel.skip) < 0 ||
		     target_write(t, hk->region + o->pad + sizeof(pads) - h->rel.skip, pads, h->rel.skip) < 0))
			goto fail_write;
	}
	if (link_nothrow_twins(t, hk, f, far) < 0)
		goto fail_write;
	/* Only now make the code executable (and no longer writable). */
	long r = remote(t, th, insn, SYS_mprotect, hk->region, RG_CODE_SIZE, PROT_READ | PROT_EXEC, 0);
	if (r < 0) {
		snprintf(err, errlen, "mprotect in the target failed: %s", strerror((int)-r));
		goto fail;
	}
	if (hook_set_active(t, hk, true) < 0 || step_out_of_windows(t, hk) < 0)
		goto fail_write;
	for (int k = 0; k < HK_COUNT; k++) {
		struct hook *h = &hk->h[k];
		uint8_t patch[16];
		if (h->how == HOW_JMP) {
			if (arch_encode_branch(patch, h->patch_at, h->stub) < 0) {
				h->how = HOW_NONE;
				snprintf(h->why, sizeof(h->why), "stub out of branch reach");
				continue;
			}
		} else if (h->how == HOW_BKPT) {
			memcpy(patch, arch_bkpt_insn, arch_bkpt_len);
		} else {
			continue;
		}
		memcpy(h->patch, patch, h->patch_len);
		if (target_write_code(t, h->patch_at, patch, h->patch_len) < 0) {
			hook_unpatch(t, hk);
			goto fail_write;
		}
	}
	return 0;

fail_write:
	snprintf(err, errlen, "cannot write the target's memory: %s", strerror(errno));
fail:
	hook_set_active(t, hk, false);
	hook_unmap(t, hk, th, insn);
	return -1;
}

int hook_set_active(struct target *t, const struct hooks *hk, bool on)
{
	uint32_t v = on;
	return hk->region ? target_write(t, hk->region + RG_ACTIVE, &v, sizeof(v)) : 0;
}

/* Whether h's patch is still in the target: a dlclose()d object takes it
 * along, and another object may be mapped at its address since. */
static bool patch_present(struct target *t, const struct hook *h)
{
	uint8_t now[16];
	return target_read(t, h->patch_at, now, h->patch_len) == 0 &&
	       !memcmp(now, h->patch, h->patch_len);
}

int hook_unpatch(struct target *t, struct hooks *hk)
{
	int err = 0;
	for (int k = 0; k < HK_COUNT; k++) {
		struct hook *h = &hk->h[k];
		uint8_t now[16];
		if (h->how != HOW_JMP && h->how != HOW_BKPT)
			continue;
		if (!patch_present(t, h)) {
			h->how = HOW_NONE;
			snprintf(h->why, sizeof(h->why), "its code is gone (object unloaded): "
				 "nothing to restore");
			continue;
		}
		if (target_write_code(t, h->patch_at, h->orig, h->patch_len) < 0 ||
		    target_read(t, h->patch_at, now, h->patch_len) < 0 ||
		    memcmp(now, h->orig, h->patch_len)) {
			err = -EIO;
			continue;
		}
		h->how = HOW_NONE;
		snprintf(h->why, sizeof(h->why), "restored");
	}
	return err;
}

int hook_unmap(struct target *t, struct hooks *hk, struct thread *th, taddr_t insn)
{
	if (!hk->region)
		return 0;
	long r = remote(t, th, insn, SYS_munmap, hk->region, RG_SIZE, 0, 0);
	if (r < 0)
		return (int)r;
	hk->region = 0;
	return 0;
}

struct hook *hook_by_bkpt(struct hooks *hk, taddr_t addr)
{
	for (int k = 0; k < HK_COUNT; k++)
		if (hk->h[k].how == HOW_BKPT && hk->h[k].patch_at == addr)
			return &hk->h[k];
	return NULL;
}

int hook_by_trap(const struct hooks *hk, taddr_t addr, bool *is_free)
{
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k];
		if (!hk->region || !h->stub)
			continue;
		if (h->trap_alloc == addr || h->trap_free == addr) {
			*is_free = h->trap_free == addr;
			return k;
		}
	}
	return -1;
}

bool hook_in_allocator(const struct hooks *hk, taddr_t addr)
{
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k];
		if (h->entry && h->fsize && addr >= h->entry && addr < h->entry + h->fsize)
			return true;
	}
	return false;
}

taddr_t hook_tramp_to_orig(const struct hooks *hk, taddr_t pc)
{
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k];
		if (!h->tramp || pc < h->tramp || pc >= h->tramp + RG_TRAMP_SLOT)
			continue;
		for (unsigned i = 0; i < h->rel.ninsns; i++)
			if (pc == h->tramp + h->rel.tramp_off[i])
				return h->patch_at + h->rel.orig_off[i];
		return 0;
	}
	return 0;
}

bool hook_in_window(const struct hooks *hk, taddr_t pc)
{
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k];
		if ((h->how == HOW_JMP || h->how == HOW_BKPT) &&
		    pc > h->patch_at && pc < h->patch_at + h->rel.displaced)
			return true;
	}
	return false;
}

/* Moves the count of bucket b's group by delta and writes it to the
 * target's filter, with *also (slot i of the bucket, or a free-log entry)
 * in the same system call. The trap engine's tracer is the only one that
 * fills slots, and a stub takes its own free off the count before logging
 * it, so the mirror's count is never below the true one; the target's may
 * be lower than the mirror's only by frees not drained yet. Returns 0 or
 * -errno. */
static int count_write(struct target *t, struct hooks *hk, unsigned b, int delta,
		       const struct target_piece *also)
{
	unsigned g = b >> RG_GROUP_LOG;
	hk->group[g] = (uint8_t)(hk->group[g] + delta);
	struct target_piece p[2] = { { hk->region + RG_FILTER + g, &hk->group[g], 1 }, *also };
	return target_writev(t, p, 2);
}

/* The piece that writes slot i of bucket b from *addr. */
static struct target_piece slot_piece(const struct hooks *hk, unsigned b, int i, const uint64_t *addr)
{
	return (struct target_piece){ hk->region + RG_TABLE + ((taddr_t)b << RG_BUCKET_LOG) + 8 * (taddr_t)i,
				      addr, 8 };
}

bool hook_table_add(struct target *t, struct hooks *hk, taddr_t addr)
{
	unsigned b = bucket_of(addr);
	int free_slot = -1;
	for (int i = 0; i < RG_BUCKET_SLOTS; i++) {
		if (hk->table[b][i] == addr)
			return true;
		if (!hk->table[b][i] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return false;
	struct target_piece slot = slot_piece(hk, b, free_slot, &addr);
	if (count_write(t, hk, b, +1, &slot) < 0) {
		hk->group[b >> RG_GROUP_LOG]--;	/* the slot stays empty */
		return false;
	}
	hk->table[b][free_slot] = addr;
	hk->table_used = true;
	return true;
}

bool hook_table_del(struct target *t, struct hooks *hk, taddr_t addr)
{
	unsigned b = bucket_of(addr);
	for (int i = 0; i < RG_BUCKET_SLOTS; i++)
		if (hk->table[b][i] == addr) {
			static const uint64_t zero;
			struct target_piece slot = slot_piece(hk, b, i, &zero);
			hk->table[b][i] = 0;
			count_write(t, hk, b, -1, &slot);
			return true;
		}
	return false;
}

taddr_t hook_free_head(const struct hooks *hk)
{
	return hk->region ? hk->region + RG_FHEAD : 0;
}

int hook_drain_frees(struct target *t, struct hooks *hk, void (*fn)(taddr_t, void *), void *arg)
{
	uint64_t head;
	if (!hk->region || target_read(t, hk->region + RG_FHEAD, &head, sizeof(head)) < 0)
		return 0;
	return hook_drain_frees_to(t, hk, head, fn, arg);
}

int hook_drain_frees_to(struct target *t, struct hooks *hk, uint64_t head,
			void (*fn)(taddr_t, void *), void *arg)
{
	static uint64_t buf[RG_FLOG_N * 2];
	static const uint64_t zero;
	if (!hk->region || head == hk->ftail || head - hk->ftail > RG_FLOG_N)
		return 0;
	/* The pending entries, in at most two pieces (the log wraps). */
	uint64_t n = head - hk->ftail, first = hk->ftail % RG_FLOG_N;
	uint64_t n1 = n < RG_FLOG_N - first ? n : RG_FLOG_N - first;
	if (target_read(t, hk->region + RG_FLOG + RG_FLOG_ENTRY * first, buf, RG_FLOG_ENTRY * n1) < 0 ||
	    (n > n1 && target_read(t, hk->region + RG_FLOG, buf + 2 * n1,
				   RG_FLOG_ENTRY * (n - n1)) < 0))
		return 0;
	/* An entry still 0 is claimed by a thread that has not written it yet.
	 * The entries after it are taken all the same: they are frees of
	 * distinct blocks, and the one that matters most, a block about to be
	 * sampled again at the same address, was written before it was freed. */
	int done = 0;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t idx = (first + k) % RG_FLOG_N;
		uint64_t addr = buf[2 * k];
		if (hk->fdone[idx] || !addr)
			continue;
		unsigned b = bucket_of(addr);
		int found = 0;
		for (int i = 0; i < RG_BUCKET_SLOTS; i++)
			if (hk->table[b][i] == addr) {
				hk->table[b][i] = 0;	/* the stub cleared the real slot */
				found++;
			}
		fn(addr, arg);
		hk->fdone[idx] = true;
		struct target_piece entry = { hk->region + RG_FLOG + RG_FLOG_ENTRY * idx, &zero, sizeof(zero) };
		if (found)	/* the entry and the count in one call */
			count_write(t, hk, b, -found, &entry);
		else
			target_writev(t, &entry, 1);
		done++;
	}
	/* Give the stubs back the entries consumed in order. */
	uint64_t tail = hk->ftail;
	while (tail < head && hk->fdone[tail % RG_FLOG_N])
		hk->fdone[tail++ % RG_FLOG_N] = false;
	if (tail != hk->ftail) {
		hk->ftail = tail;
		target_write(t, hk->region + RG_FTAIL, &hk->ftail, sizeof(hk->ftail));
	}
	return done;
}

/* Fills draws[] with the means of RG_NDRAWS equal quantile bins of an
 * exponential distribution of mean interval: their average is exactly the
 * interval. Paused: intervals that never run out. */
static void fill_draws(int64_t *draws, uint64_t interval, bool paused)
{
	for (int i = 0; i < RG_NDRAWS; i++) {
		double a = (double)i / RG_NDRAWS, b = (double)(i + 1) / RG_NDRAWS;
		/* the integral of -ln(u) is u - u ln u (0 at u = 0) */
		double fa = a > 0 ? a - a * log(a) : 0, fb = b - b * log(b);
		double m = (fb - fa) / (b - a) * (double)interval;
		draws[i] = paused ? INT64_MAX : interval == 0 ? 0 : m < 1 ? 1 : (int64_t)llround(m);
	}
}

int hook_reset_countdowns(struct target *t, struct hooks *hk)
{
	int64_t draws[RG_NDRAWS];
	uint64_t shards[RG_NSHARDS << RG_SHARD_LOG >> 3];
	fill_draws(draws, hk->interval, hk->paused);
	memset(shards, 0, sizeof(shards));
	for (int i = 0; i < RG_NSHARDS; i++) {
		uint64_t *sh = &shards[(i << RG_SHARD_LOG) / 8];
		sh[0] = (uint64_t)(hk->paused ? INT64_MAX : sample_draw(hk->interval, &hk->rng));
		do	/* xorshift must never hold 0 */
			sh[RG_SHARD_RNG / 8] = (uint64_t)sample_draw(1u << 30, &hk->rng) * 0x9E3779B97F4A7C15ULL;
		while (!sh[RG_SHARD_RNG / 8]);
	}
	/* draws first: a stub that samples meanwhile must pick a current one */
	uint32_t wait_full = hk->interval == 0 && !hk->paused;
	if (target_write(t, hk->region + RG_DRAWS, draws, sizeof(draws)) < 0 ||
	    target_write(t, hk->region + RG_WAITFULL, &wait_full, sizeof(wait_full)) < 0)
		return -1;
	return target_write(t, hk->region + RG_SHARDS, shards, sizeof(shards));
}

int hook_clean_child(const struct hooks *hk, pid_t child, taddr_t insn)
{
	struct target ct = { .pid = child, .memfd = -1 };
	char path[64];
	int err = 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	ct.memfd = open(path, O_RDWR | O_CLOEXEC);
	if (ct.memfd < 0)
		return -errno;
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k];
		if ((h->how == HOW_JMP || h->how == HOW_BKPT) && patch_present(&ct, h) &&
		    target_write_code(&ct, h->patch_at, h->orig, h->patch_len) < 0)
			err = -EIO;
	}
	if (hk->region) {
		uint32_t off = 0;
		target_write(&ct, hk->region + RG_ACTIVE, &off, sizeof(off));
		struct thread th = { .tid = child, .stop = STOP_INTERRUPT };
		remote(&ct, &th, insn, SYS_munmap, hk->region, RG_SIZE, 0, 0);
	}
	close(ct.memfd);
	return err;
}
