/*
 * region.h: the layout of the region leaktrap maps into the target.
 *
 * Shared by the stub image (arch/$(ARCH)/stub.S, which addresses the data
 * relative to its own first byte) and by the tracer, so it holds only
 * #defines that the assembler understands too.
 *
 *   [0, RG_CODE_SIZE)        code: the stub image, then one trampoline slot
 *                            per hook (read+exec, written via /proc/PID/mem)
 *   RG_DATA .. + 4096        the flags page, MADV_WIPEONFORK: zeros in a
 *                            fork child, whose stubs are then plain jumps
 *   RG_DATA + RG_ACTIVE      u32: nonzero while leaktrap wants events
 *   RG_DATA + RG_INFLIGHT    u32: threads between a stub's call into the
 *                            original and its return (detach waits for 0)
 *   RG_DATA + RG_FHEAD       u64: free-log entries claimed by stubs (only grows)
 *   RG_DATA + RG_FTAIL       u64: free-log entries consumed by the tracer
 *   RG_MODE                  u32: 0 trap engine (events stop on int3),
 *                            1 agent engine (events go to the ring)
 *   RG_PID                   u32: the process the region was made for: a
 *                            fork child's copy records nothing
 *   RG_RHEAD, RG_RTAIL       u64: ring slots claimed by stubs / consumed by
 *                            leaktrap (agent engine)
 *   RG_RDROPS, RG_FDROPS     u64: events dropped because the ring, or the
 *                            free log, was full (agent engine)
 *   RG_WAITFULL, RG_BEAT     u32, u64: with every allocation recorded, a
 *                            stub that finds the ring or the log full yields
 *                            and tries again instead of dropping, as long as
 *                            the arch counter is below RG_BEAT, which the
 *                            reader keeps moving ahead while it lives
 *   RG_NOTHROW               4 x {u64 call, lo, len}: what the sampled
 *                            path of a throwing operator new (new, new[],
 *                            new(align), new[](align), in that order) calls:
 *                            the original of its nothrow twin, so that when
 *                            it fails the stub can leave and let the
 *                            operator itself throw with no stub frame on
 *                            the stack; 0: the operator itself. A call made
 *                            from the twin's code [lo, lo + len) (libstdc++'s
 *                            nothrow operator calls the throwing one) is
 *                            not sampled again (hook.c)
 *   RG_DRAWS                 RG_NDRAWS i64 sampling intervals: the
 *                            quantiles of an exponential distribution of
 *                            mean T; a stub picks one at random per sample
 *   RG_SHARDS                RG_NSHARDS countdowns, one cache line each:
 *                            [0] i64 bytes left until the next sample,
 *                            [8] u64 xorshift state that picks the next draw
 *   RG_FILTER                u8 per group of 2^RG_GROUP_LOG buckets of the
 *                            table: a count never below the number of its
 *                            slots that hold an address
 *   RG_TABLE                 the sampled-address table: 2^RG_TABLE_BITS
 *                            buckets of RG_BUCKET_SLOTS addresses; 0 = empty
 *   RG_FLOG                  the free log: RG_FLOG_N {address, ring head} of
 *                            sampled blocks being freed (address 0 = claimed,
 *                            not written yet)
 *   RG_RING                  the event ring (agent engine): RG_RING_N slots
 *                            of a header (RS_*) and a copy of the caller's
 *                            stack
 */
#ifndef LT_REGION_H
#define LT_REGION_H

#define RG_CODE_SIZE     0x4000
#define RG_DATA          RG_CODE_SIZE
#define RG_ACTIVE        (RG_DATA + 0)
#define RG_INFLIGHT      (RG_DATA + 64)
#define RG_FHEAD         (RG_DATA + 128)
#define RG_FTAIL         (RG_DATA + 192)
#define RG_MODE          (RG_DATA + 256)
#define RG_PID           (RG_DATA + 260)
#define RG_WAITFULL      (RG_DATA + 264)
#define RG_RHEAD         (RG_DATA + 320)
#define RG_RTAIL         (RG_DATA + 384)
#define RG_RDROPS        (RG_DATA + 448)
#define RG_FDROPS        (RG_DATA + 512)
#define RG_BEAT          (RG_DATA + 576)
#define RG_NOTHROW       (RG_DATA + 640)
#define RG_NOTHROW_ENTRY 24

/* A table of quantile means rather than a logarithm in the stub: the mean
 * interval is exactly T and the shape is exponential but for the finest
 * detail of its tail; no tracer has to redraw anything after a sample. */
#define RG_DRAWS         (RG_DATA + 1024)
#define RG_NDRAWS        256

/* Countdowns are sharded by stack address so that threads rarely share one:
 * glibc places thread stacks 8 MiB apart, so sp >> 20 differs between them. */
#define RG_SHARDS        (RG_DATA + 4096)
#define RG_NSHARDS       64
#define RG_SHARD_LOG     6
#define RG_SHARD_SHIFT   20
#define RG_SHARD_RNG     8

/* A free looks at its group's count before the table, and probes the
 * table only when the count is not 0. An unsampled free then reads a byte
 * of 16 KiB instead of a cache line of 8 MiB: in the tight churn loop the
 * probe's cache misses cost more than all the stubs' instructions.
 * Agent stubs keep the counts with atomic increments (after filling a slot)
 * and decrements (after clearing one, before logging the free); the trap
 * engine's tracer, which fills the table itself, writes the count it
 * keeps, never below the true one (hook.c). */
#define RG_FILTER        (RG_DATA + 8192)
#define RG_GROUP_LOG     3
#define RG_FILTER_SIZE   (1 << (RG_TABLE_BITS - RG_GROUP_LOG))
#define RG_TABLE         (RG_FILTER + RG_FILTER_SIZE)
/* Eight slots, one cache line, per bucket: with 80,000 live samples (an
 * --every session on a busy heap) the chance that some bucket overflows,
 * which would cost a sample, is about 1e-3; with four slots it was ~1. */
#define RG_TABLE_BITS    17
#define RG_BUCKET_SLOTS  8
#define RG_BUCKET_LOG    6
#define RG_TABLE_SIZE    (1 << (RG_TABLE_BITS + RG_BUCKET_LOG))
#define RG_HASH_MUL      0x9E3779B97F4A7C15

/* Frees of sampled blocks are logged here instead of stopping the thread:
 * 16-byte entries {address, RHEAD when freed}; a full log falls back to the
 * breakpoint (trap engine) or is counted as a drop (agent engine). */
#define RG_FLOG          (RG_TABLE + RG_TABLE_SIZE)
#define RG_FLOG_N        4096
#define RG_FLOG_ENTRY    16

/* The event ring of the agent engine. A slot is claimed by a cmpxchg on
 * RHEAD bounded by RTAIL (a full ring drops the event, never waits) and is
 * valid once RS_SEQ holds its index + 1. */
#define RG_RING          (RG_FLOG + RG_FLOG_ENTRY * RG_FLOG_N)
#define RG_RING_N        512
#define RG_SLOT_LOG      13
#define RG_SLOT          (1 << RG_SLOT_LOG)
#define RS_SEQ           0      /* u64 index + 1 once complete */
#define RS_KIND          8      /* u32 hook kind (src/hookdefs.h order) ... */
#define RK_UNTRACKED     0x100  /* ... or'ed: the sampled table's bucket was full */
#define RS_TID           12     /* u32 thread */
#define RS_SIZE          16     /* u64 requested bytes */
#define RS_ARG0          24     /* u64 first argument */
#define RS_RET           32     /* u64 result of the original */
#define RS_TIME          40     /* u64 arch counter at the event */
#define RS_PC            48     /* u64 return address into the caller */
#define RS_SP            56     /* u64 the caller's stack pointer after return */
#define RS_REGS          64     /* 12 x u64 callee-saved registers, arch order */
#define RS_NREGS         12     /* (x86-64 uses 6; aarch64 x19..x30) */
#define RS_COPIED        160    /* i64 bytes of stack copied, or -errno */
#define RS_IOV           168    /* scratch: two struct iovec for the copy */
#define RS_NEXTSEQ       200    /* u64 scratch: the value RS_SEQ will get */
#define RS_STACK         256    /* the copy of the stack from RS_SP up */
#define RG_STACK_COPY    (RG_SLOT - RS_STACK)

#define RG_SIZE          (RG_RING + RG_RING_N * RG_SLOT)

/* The trampoline slots, in hook order (src/hookdefs.h), after the stubs. */
#define RG_TRAMP_SLOT    64

#endif
