/*
 * region.h: the layout of the region leaktrap maps into the target.
 *
 * Shared by the stub image (arch/$(ARCH)/stub.S, which addresses the data
 * relative to its own first byte) and by the tracer, so it holds only
 * #defines that the assembler understands too.
 *
 *   [0, RG_CODE_SIZE)        code: the stub image, then one trampoline slot
 *                            per hook (read+exec, written via /proc/PID/mem)
 *   RG_DATA + RG_ACTIVE      u32: nonzero while leaktrap wants events
 *   RG_DATA + RG_INFLIGHT    u32: threads between a stub's call into the
 *                            original and its return (detach waits for 0)
 *   RG_DATA + RG_FHEAD       u64: free-log entries claimed by stubs (only grows)
 *   RG_DATA + RG_FTAIL       u64: free-log entries consumed by the tracer
 *   RG_SHARDS                RG_NSHARDS countdowns, one cache line each:
 *                            [0] i64 bytes left until the next sample,
 *                            [8] i64 the draw that replaces it when it runs out
 *   RG_TABLE                 the sampled-address table: 2^RG_TABLE_BITS
 *                            buckets of RG_BUCKET_SLOTS addresses; 0 = empty
 *   RG_FLOG                  the free log: RG_FLOG_N addresses of sampled
 *                            blocks being freed (0 = claimed, not written yet)
 */
#ifndef LT_REGION_H
#define LT_REGION_H

#define RG_CODE_SIZE     0x4000
#define RG_DATA          RG_CODE_SIZE
#define RG_ACTIVE        (RG_DATA + 0)
#define RG_INFLIGHT      (RG_DATA + 64)
#define RG_FHEAD         (RG_DATA + 128)
#define RG_FTAIL         (RG_DATA + 192)

/* Countdowns are sharded by stack address so that threads rarely share one:
 * glibc places thread stacks 8 MiB apart, so sp >> 20 differs between them. */
#define RG_SHARDS        (RG_DATA + 4096)
#define RG_NSHARDS       64
#define RG_SHARD_LOG     6
#define RG_SHARD_SHIFT   20
#define RG_SHARD_NEXT    8

#define RG_TABLE         (RG_DATA + 8192)
/* Eight slots, one cache line, per bucket: with 80,000 live samples (an
 * --every session on a busy heap) the chance that some bucket overflows,
 * which would cost a sample, is about 1e-3; with four slots it was ~1. */
#define RG_TABLE_BITS    17
#define RG_BUCKET_SLOTS  8
#define RG_BUCKET_LOG    6
#define RG_TABLE_SIZE    (1 << (RG_TABLE_BITS + RG_BUCKET_LOG))
#define RG_HASH_MUL      0x9E3779B97F4A7C15

/* Frees of sampled blocks are logged here instead of stopping the thread;
 * a full log falls back to the breakpoint. */
#define RG_FLOG          (RG_TABLE + RG_TABLE_SIZE)
#define RG_FLOG_N        4096

#define RG_SIZE          (RG_FLOG + 8 * RG_FLOG_N)

/* The trampoline slots, in hook order (src/hookdefs.h), after the stubs. */
#define RG_TRAMP_SLOT    64

#endif
