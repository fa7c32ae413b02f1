/*
 * agent: the agent engine's reader of the region's ring and free log.
 *
 * Between attach and detach leaktrap holds no ptrace attachment: the stubs
 * write sampled events into the ring and frees of sampled blocks into the
 * free log, and this reader takes both with process_vm_readv. Order
 * matters when an address is freed and sampled again: each free carries the
 * ring head at the moment it happened, so it is applied after the records
 * claimed before it and before those claimed after.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "arch.h"
#include "engine.h"
#include "hookdefs.h"
#include "region.h"

#define STUCK_NS 1000000000ULL  /* an incomplete record this old is abandoned */
#define FBATCH   512            /* free-log entries read at a time */
#define RBATCH   16             /* ring slots read at a time */
/* What a batch reads of each slot: the header and the top of the stack
 * copy, which is all most unwinds need; the rest is read only for an
 * unwind that gets past it (unwind_stack_rest). */
#define SLOT_HEAD (RS_STACK + 1024)
#define BEAT_NS  2000000000.0   /* how long stubs trust a silent reader */

/* Tells the stubs the reader lives for another BEAT_NS: until then, with
 * every allocation recorded, they wait for room in a full ring instead of
 * dropping. Before the counter is calibrated, a tick counts as a
 * nanosecond (counters run at 1-4 GHz: the deadline is shorter, not longer). */
static void beat(struct engine *e)
{
	double tick = e->ag.ns_per_tick > 0 ? e->ag.ns_per_tick : 1.0;
	uint64_t deadline = arch_counter() + (uint64_t)(BEAT_NS / tick);
	target_write(&e->t, e->hk->region + RG_BEAT, &deadline, sizeof(deadline));
}

void agent_start(struct engine *e)
{
	struct agent *a = &e->ag;
	memset(a, 0, sizeof(*a));
	a->ctr0 = arch_counter();
	a->ns0 = now_ns();
	beat(e);
}

/* Returns CLOCK_MONOTONIC for a counter value stamped by a stub. */
static uint64_t counter_ns(struct agent *a, uint64_t ctr)
{
	uint64_t c1 = arch_counter(), n1 = now_ns();
	if (n1 - a->ns0 > 20000000ULL && c1 > a->ctr0)
		a->ns_per_tick = (double)(n1 - a->ns0) / (double)(c1 - a->ctr0);
	if (!a->ns_per_tick || ctr > c1)
		return n1;
	uint64_t back = (uint64_t)((double)(c1 - ctr) * a->ns_per_tick);
	return back < n1 ? n1 - back : n1;
}

/* Turns one complete ring slot (its first SLOT_HEAD bytes; the whole slot
 * is still at `at` in the target) into a sample. */
static void take_record(struct engine *e, const uint8_t *slot, taddr_t at)
{
	struct arch_event ev;
	uint32_t kind, tid;
	int64_t copied;
	uint64_t ctr;
	memcpy(&kind, slot + RS_KIND, 4);
	memcpy(&tid, slot + RS_TID, 4);
	memcpy(&copied, slot + RS_COPIED, 8);
	memcpy(&ctr, slot + RS_TIME, 8);
	arch_decode_record(slot, &ev);
	e->ag.records++;
	if (kind & RK_UNTRACKED) {
		e->ag.untracked++;
		e->dropped++;
		return;
	}
	if (kind >= HK_COUNT || !ev.ret)
		return;
	size_t len = copied > 0 ? (size_t)copied : 0;
	unwind_set_stack(e->unw, arch_sp(&ev.caller), slot + RS_STACK,
			 len < SLOT_HEAD - RS_STACK ? len : SLOT_HEAD - RS_STACK);
	unwind_stack_rest(e->unw, len, at + RS_STACK);
	engine_record(e, (pid_t)tid, ev.ret, ev.size, &ev.caller, counter_ns(&e->ag, ctr));
}

/* Returns true once the thing first seen pending at *since has been pending
 * for STUCK_NS: a thread left it half-written for good (a signal handler
 * that longjmp'ed out of a stub), and the reader must move past it. */
static bool stuck(uint64_t *since)
{
	uint64_t now = now_ns();
	if (!*since)
		*since = now;
	if (now - *since < STUCK_NS)
		return false;
	*since = 0;
	return true;
}

/* Zeroes the free-log entries [from, to) that were consumed (a stub sees an
 * entry claimed but unwritten as 0), in at most two writes. */
static void clear_flog(struct engine *e, uint64_t from, uint64_t to)
{
	static const uint8_t zero[RG_FLOG_ENTRY * FBATCH];
	while (from < to) {
		uint64_t first = from % RG_FLOG_N, n = to - from;
		n = n > RG_FLOG_N - first ? RG_FLOG_N - first : n;
		n = n > FBATCH ? FBATCH : n;
		target_write(&e->t, e->hk->region + RG_FLOG + RG_FLOG_ENTRY * first, zero,
			     RG_FLOG_ENTRY * n);
		from += n;
	}
}

int agent_drain(struct engine *e)
{
	struct agent *a = &e->ag;
	taddr_t rg = e->hk->region;
	static uint8_t ring[RBATCH * RG_SLOT];
	static uint64_t flog[FBATCH * 2];
	uint64_t rhead, fhead, drops[2], ftail0 = a->ftail;
	size_t nf = 0, fi = 0, nr = 0, ri = 0;
	int rc, done = 0;
	/* rhead first, then fhead: see the ring records below */
	if ((rc = target_read(&e->t, rg + RG_RHEAD, &rhead, 8)) < 0 ||
	    (rc = target_read(&e->t, rg + RG_FHEAD, &fhead, 8)) < 0)
		return rc;
	for (;;) {
		/* the next logged free: its entry is claimed in order, written
		 * (address last) before the block is really freed */
		if (fi == nf && a->ftail < fhead) {
			uint64_t first = a->ftail % RG_FLOG_N, n = fhead - a->ftail;
			n = n > FBATCH ? FBATCH : n;
			n = n > RG_FLOG_N - first ? RG_FLOG_N - first : n;
			if (target_read(&e->t, rg + RG_FLOG + RG_FLOG_ENTRY * first, flog,
					RG_FLOG_ENTRY * n) < 0)
				break;
			nf = n, fi = 0;
		}
		bool have_f = fi < nf;
		if (have_f && !flog[2 * fi]) {
			target_read(&e->t, rg + RG_FLOG + RG_FLOG_ENTRY * (a->ftail % RG_FLOG_N),
				    &flog[2 * fi], RG_FLOG_ENTRY);
			if (!flog[2 * fi]) {
				if (!stuck(&a->fstuck_ns))
					break;	/* being written this instant */
				a->ftail++, fi++;
				continue;
			}
		}
		a->fstuck_ns = 0;
		if (have_f && flog[2 * fi + 1] <= a->rtail) {
			engine_forget(e, flog[2 * fi]);
			a->ftail++, fi++, done++;
			continue;
		}
		/* the next ring record: it happened before that free */
		if (ri == nr) {
			/* Only records claimed before fhead was read: a free logged
			 * after that read (and not seen here) carries a ring head at
			 * least rhead, so it follows every one of them. */
			if (a->rtail >= rhead)
				break;
			uint64_t first = a->rtail % RG_RING_N, n = rhead - a->rtail;
			n = n > RBATCH ? RBATCH : n;
			n = n > RG_RING_N - first ? RG_RING_N - first : n;
			if (target_read_strided(&e->t, rg + RG_RING + (first << RG_SLOT_LOG), RG_SLOT,
						SLOT_HEAD, (int)n, ring) < 0)
				break;
			nr = n, ri = 0;
		}
		uint8_t *slot = ring + (ri << RG_SLOT_LOG);
		taddr_t at = rg + RG_RING + ((a->rtail % RG_RING_N) << RG_SLOT_LOG);
		uint64_t seq;
		memcpy(&seq, slot + RS_SEQ, 8);
		if (seq != a->rtail + 1) {
			/* read again: it may have been completed since the batch */
			if (target_read(&e->t, at, slot, SLOT_HEAD) < 0)
				break;
			memcpy(&seq, slot + RS_SEQ, 8);
		}
		if (seq != a->rtail + 1) {
			if (!stuck(&a->stuck_ns))
				break;	/* a thread is still writing it */
			a->skipped++;
			a->rtail++, ri++;
			continue;
		}
		a->stuck_ns = 0;
		take_record(e, slot, at);
		a->rtail++, ri++, done++;
		if (ri == nr) {
			/* give the slots back and show we live as we go: a long
			 * drain (cold unwinds on a loaded machine) must not make
			 * the stubs give up on us */
			target_write(&e->t, rg + RG_RTAIL, &a->rtail, 8);
			beat(e);
		}
	}
	/* hand the consumed space back to the stubs */
	clear_flog(e, ftail0, a->ftail);
	target_write(&e->t, rg + RG_RTAIL, &a->rtail, 8);
	target_write(&e->t, rg + RG_FTAIL, &a->ftail, 8);
	if (target_read(&e->t, rg + RG_RDROPS, &drops[0], 8) == 0 &&
	    target_read(&e->t, rg + RG_FDROPS, &drops[1], 8) == 0) {
		a->ring_drops = drops[0];
		a->flog_drops = drops[1];
	}
	beat(e);
	e->last_drain_ns = now_ns();
	return done;
}
