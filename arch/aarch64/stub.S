/*
 * stub.S: the aarch64 stub image, copied to the start of the region that
 * leaktrap maps into the target (layout in src/region.h).
 *
 * Contract (DESIGN.md): a stub never touches memory below sp, keeps sp
 * 16-byte aligned, uses only x16, x17 (IP0, IP1: free at a function entry
 * in the AAPCS64) and flags until it has a frame of its own, takes no lock,
 * and calls nothing but an original function through its trampoline.
 * Registers it borrows after that are saved in its frame and put back
 * before the original runs; after the original returned, x1..x17 are free
 * (the caller expects any callee to clobber them) and x0 is the result.
 * x18 (the platform register) is never touched. Data is addressed
 * pc-relative (adr, ldr literal) from the code, so the image works wherever
 * it is copied as long as the data follows it as in region.h; what lies
 * beyond adr's 1 MiB (the free log, the ring) is reached by an add of a
 * page-multiple offset to the table's address. The CPU may be ARMv8.0
 * (cortex-a57): no LSE atomics, so every atomic is an ldxr/stxr loop, and
 * every ARMv8.3 instruction is one from the HINT space (a nop there).
 *
 * Unsampled allocation: active check, countdown -= size, branch to the
 * trampoline: ten instructions (calloc and reallocarray eleven), no store
 * but the countdown.
 * Sampled allocation: frame, refresh the countdown, count the thread in
 * flight, *call* the trampoline through the hook's pad (a real bl: pointer
 * authentication and a guarded control stack stay valid, no return address
 * is rewritten; a throwing operator new calls its nothrow twin instead, see
 * NEWTHROW), then stop on brk #0 at lt_trap_NAME_alloc with
 *	sp+SF_FP   the caller's x29	sp+SF_SIZE  the requested size
 *	sp+SF_LR   the return address	sp+SF_ARG0  the first argument
 *	(signed if the entry signed it)
 *	x0 = the original's result, x29 = sp (the stub's frame record),
 *	x19..x28 = the caller's, the caller's sp = sp + SF_BYTES,
 *	and the pc AT the brk: the tracer resumes at pc + 4
 * (arch_regs.h has the layout; ARCH_TRAP_WORDS = SF_BYTES / 8).
 * Free of a sampled address: the table slot is cleared and the address
 * logged for the tracer (FREELOG), before the original runs, so that the
 * slot is clear before the block can be reused; only when the log is full
 * does the stub stop, on brk #0 at lt_trap_NAME_free, with every register
 * as at the entry: x0 the pointer, x30 the return address (signed if the
 * entry signed it), sp the caller's.
 *
 * Pointer authentication. The relocator leaves a landing pad that starts
 * the function (bti c, paciasp, pacibsp) in place and patches after it, so
 * the entry's paciasp has signed x30, with the entry's sp, before the stub
 * runs. The unsampled path branches to the trampoline with x30 and sp as
 * they were: the body's autiasp checks what the entry signed. The sampled
 * path calls the trampoline, so the body's epilogue will authenticate the
 * stub's own return address: the call goes through the hook's pad
 * (lt_pad_NAME), where leaktrap copies the entry's landing pad, which signs
 * that return address as the entry would have, with the sp the body runs
 * with. The caller's x30 stays as the entry left it, in the frame, and is
 * authenticated before the stub returns (lt_ret) with the key the pad
 * shows. On a CPU without pointer authentication all of these are nops.
 */
#include "region.h"
#include "arch_regs.h"

	.arch	armv8-a
	.section .rodata.lt_image, "a"
	.balign 4096
	.globl	arch_image
arch_image:
lt_image:

#define ACTIVE   (lt_image + RG_ACTIVE)
#define INFLIGHT (lt_image + RG_INFLIGHT)
#define FHEAD    (lt_image + RG_FHEAD)
#define MODE     (lt_image + RG_MODE)
#define PID      (lt_image + RG_PID)
#define RHEAD    (lt_image + RG_RHEAD)
#define RDROPS   (lt_image + RG_RDROPS)
#define FDROPS   (lt_image + RG_FDROPS)
#define WAITFULL (lt_image + RG_WAITFULL)
#define BEAT     (lt_image + RG_BEAT)
#define DRAWS    (lt_image + RG_DRAWS)
#define SHARDS   (lt_image + RG_SHARDS)
#define TABLE    (lt_image + RG_TABLE)
#define FILTER   (lt_image + RG_FILTER)
#define WAIT_NS  50000		/* how long a stub waits for room, each time */

/* asm-generic/unistd.h */
#define NR_NANOSLEEP		101
#define NR_GETPID		172
#define NR_GETTID		178
#define NR_PROCESS_VM_READV	270

#define KIND_POSIX_MEMALIGN	5	/* src/hookdefs.h: its block lands in *arg0 */
#define NSHARD_BITS		6	/* log2(RG_NSHARDS), for ubfx */

/* What the instructions below assume of region.h; each fails the assembly. */
.if (1 << NSHARD_BITS) != RG_NSHARDS
	.error "NSHARD_BITS must be log2(RG_NSHARDS)"
.endif
.if RG_FLOG_ENTRY != 16 || RG_NDRAWS != 256 || RG_BUCKET_SLOTS != 8
	.error "FREELOG, SAMPLED and LOOKUP index with shifts of 4, 56 and 3"
.endif
.if (RG_TABLE_SIZE & 0xfff) || ((RG_RING - RG_TABLE) & 0xfff) || (RG_RING - RG_TABLE) > 0xfff000
	.error "the free log and the ring must lie a 12-bit page count after the table"
.endif
.if RG_FLOG != RG_TABLE + RG_TABLE_SIZE
	.error "FREELOG finds the free log right after the table"
.endif

/* When the active flag is clear every stub is a plain branch to its trampoline. */
.macro ENTRY tramp
	ldr	w16, ACTIVE
	cbz	w16, \tramp
.endm

/* Subtracts the size (\a, or \a * \b) from this stack's countdown, sharded
 * by sp >> RG_SHARD_SHIFT; branches to the original while it stays
 * positive, else falls through to SAMPLED with x17 pointing at the shard. */
.macro COUNTDOWN name, a, b
	mov	x16, sp
	ubfx	x16, x16, #RG_SHARD_SHIFT, #NSHARD_BITS
	adr	x17, SHARDS
	add	x17, x17, x16, lsl #RG_SHARD_LOG
	ldr	x16, [x17]
.ifb \b
	subs	x16, x16, \a
	str	x16, [x17]
	b.gt	lt_tramp_\name
.else
	msub	x16, \a, \b, x16		/* two registers are all there is: */
	str	x16, [x17]			/* no room for the product itself */
	cmp	x16, #0
	b.gt	lt_tramp_\name
.endif
.endm

/* The sampled path: see the header. The countdown gets a new interval at
 * once, picked from the draws table by this shard's xorshift state, so no
 * other thread on the shard ever sees it exhausted and nobody has to redraw.
 * Then the original is called, and the event reported: on brk (trap
 * engine) or into the ring (agent engine, lt_record). */
.macro SAMPLED name, kind, a, b, twin=-1, aligned=0
	stp	x29, x30, [sp, #-SF_BYTES]!
	mov	x29, sp
.ifb \b
	stp	\a, x0, [sp, #SF_SIZE]
.else
	mul	x16, \a, \b
	stp	x16, x0, [sp, #SF_SIZE]
.endif
	str	x9, [sp, #SF_SCRATCH]		/* a third register, for the draw and stxr */
	ldr	x16, [x17, #RG_SHARD_RNG]
	eor	x16, x16, x16, lsr #12
	eor	x16, x16, x16, lsl #25
	eor	x16, x16, x16, lsr #27
	str	x16, [x17, #RG_SHARD_RNG]
	lsr	x16, x16, #(64 - 8)
	adr	x9, DRAWS
	ldr	x16, [x9, x16, lsl #3]
	str	x16, [x17]
	adr	x16, INFLIGHT
81:	ldxr	w17, [x16]
	add	w17, w17, #1
	stxr	w9, w17, [x16]
	cbnz	w9, 81b
	ldr	x9, [sp, #SF_SCRATCH]
.if \twin < 0
	bl	lt_pad_\name			/* the original, as called from here */
.else						/* see NEWTHROW */
	str	x1, [sp, #SF_SCRATCH]		/* the alignment (if any), for the operator */
	hint	#7				/* xpaclri: x30 (kept in the frame) unsigned */
	ldr	x16, lt_image + RG_NOTHROW + \twin + 8
	sub	x16, x30, x16			/* called from the twin's own code? */
	ldr	x17, lt_image + RG_NOTHROW + \twin + 16
	cmp	x16, x17
	b.lo	88f				/* then its caller's stub samples the call */
	ldr	x16, lt_image + RG_NOTHROW + \twin
	cbz	x16, 86f
.if \aligned
	adr	x2, lt_image			/* the std::nothrow_t &, never read */
.else
	adr	x1, lt_image
.endif
	blr	x16
	cbnz	x0, 87f
88:	adr	x16, INFLIGHT			/* leave, and let the operator itself */
85:	ldxr	w17, [x16]			/* run (and retry), called from the caller */
	sub	w17, w17, #1
	stxr	w1, w17, [x16]
	cbnz	w1, 85b
	ldr	x0, [sp, #SF_SIZE]
	ldr	x1, [sp, #SF_SCRATCH]
	ldp	x29, x30, [sp], #SF_BYTES
	b	lt_tramp_\name
86:	bl	lt_pad_\name
87:
.endif
	ldr	w16, ACTIVE
	cbz	w16, 83f
	ldr	w16, MODE
	cbnz	w16, 82f
lt_trap_\name\()_alloc:
	brk	#0
	b	83f
82:	mov	w1, #\kind
	bl	lt_record
83:	adr	x16, INFLIGHT
84:	ldxr	w17, [x16]
	sub	w17, w17, #1
	stxr	w1, w17, [x16]
	cbnz	w1, 84b
	ldp	x29, x30, [sp], #SF_BYTES
	adr	x16, lt_pad_\name
	b	lt_ret
.endm

/* Counts one slot more (\op add) or fewer (\op sub) in the group of the
 * table slot at \slot, whose register it reuses for the count's address,
 * atomically; \scr, \val and \st are scratch. */
.macro GROUP_COUNT slot, op, scr, val, st
	adr	\scr, TABLE
	sub	\slot, \slot, \scr
	adr	\scr, FILTER
	add	\slot, \scr, \slot, lsr #(RG_BUCKET_LOG + RG_GROUP_LOG)
99:	ldxrb	\val, [\slot]
	\op	\val, \val, #1
	stxrb	\st, \val, [\slot]
	cbnz	\st, 99b
.endm

/* Looks x0 up in the sampled-address table: one bucket of RG_BUCKET_SLOTS,
 * unless its group's count (RG_FILTER) is 0. On a hit, x17 points at the
 * matching slot. */
.macro LOOKUP hit, miss
	cbz	x0, \miss
	ldr	x16, lt_hash_mul
	mul	x16, x16, x0
	lsr	x16, x16, #(64 - RG_TABLE_BITS)
	adr	x17, FILTER
	add	x17, x17, x16, lsr #RG_GROUP_LOG
	ldrb	w17, [x17]
	cbz	w17, \miss
	adr	x17, TABLE
	add	x17, x17, x16, lsl #RG_BUCKET_LOG
	ldr	x16, [x17]
	cmp	x16, x0
	b.eq	\hit
	.rept	RG_BUCKET_SLOTS - 1
	ldr	x16, [x17, #8]!
	cmp	x16, x0
	b.eq	\hit
	.endr
	b	\miss
.endm

/* A sampled block is being freed (x17 = its table slot): clear the slot and
 * take it off its group's count, then log the address for the tracer,
 * without stopping, with the ring's head at that moment: the agent engine's
 * reader applies the free after the ring records claimed before it and
 * before those claimed after. The slot is cleared first so that the tracer,
 * which reuses a slot only after reading the log, never sees it free while
 * the stub still means to write it; the address is stored last, with
 * release semantics, so that whoever sees it also sees the cleared slot and
 * the ring head (a zero address means "claimed, not written yet"). The
 * block cannot be reallocated before the log entry is written: the original
 * free runs after. A full log falls back to the breakpoint (trap engine),
 * or (agent engine) waits for the reader under WAITFULL while it beats,
 * else counts a drop. x9..x11 are borrowed on the stack, and x0, x1, x8
 * around the nanosleep: the original still needs the arguments. */
.macro FREELOG trap, next
	ldr	w16, ACTIVE
	cbz	w16, \next
	str	xzr, [x17]
	stp	x9, x10, [sp, #-32]!
	str	x11, [sp, #16]
	GROUP_COUNT x17, sub, x16, w9, w10	/* one slot fewer in its group */
	adr	x16, FHEAD
91:	ldr	x10, [x16, #(RG_FTAIL - RG_FHEAD)]	/* only grows: a stale one is safe */
	ldxr	x9, [x16]
	sub	x10, x9, x10
	cmp	x10, #RG_FLOG_N
	b.hs	92f
	add	x10, x9, #1
	stxr	w11, x10, [x16]
	cbnz	w11, 91b
	and	x9, x9, #(RG_FLOG_N - 1)
	adr	x10, TABLE
	add	x10, x10, #(RG_TABLE_SIZE >> 12), lsl #12	/* RG_FLOG */
	add	x10, x10, x9, lsl #4
	ldr	x9, [x16, #(RG_RHEAD - RG_FHEAD)]	/* where this free falls among the ring's events */
	str	x9, [x10, #8]
	stlr	x0, [x10]
	b	96f
92:	clrex
	ldr	w9, MODE
	cbz	w9, 97f
	ldr	w9, WAITFULL		/* agent engine: nobody would catch a trap */
	cbz	w9, 94f
	mrs	x9, cntvct_el0
	ldr	x10, BEAT
	cmp	x9, x10
	b.hs	94f			/* no reader any more: drop */
	stp	x0, x1, [sp, #-48]!	/* nanosleep({0, WAIT_NS}): yielding in a loop */
	str	x8, [sp, #16]		/* would starve the reader of the CPU it needs */
	mov	x9, #WAIT_NS
	stp	xzr, x9, [sp, #32]
	add	x0, sp, #32
	mov	x1, #0
	mov	x8, #NR_NANOSLEEP
	svc	#0			/* clobbers x0 only */
	ldr	x8, [sp, #16]
	ldp	x0, x1, [sp], #48
	b	91b
94:	adr	x16, FDROPS
95:	ldxr	x9, [x16]
	add	x9, x9, #1
	stxr	w10, x9, [x16]
	cbnz	w10, 95b
96:	ldr	x11, [sp, #16]
	ldp	x9, x10, [sp], #32
	b	\next
97:	ldr	x11, [sp, #16]
	ldp	x9, x10, [sp], #32
\trap:	brk	#0
	b	\next
.endm

/* An allocation function whose size is \a, or \a * \b (calloc, reallocarray). */
.macro ALLOC name, kind, a, b
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN \name, \a, \b
	SAMPLED	\name, \kind, \a, \b
.endm

/* free(p), operator delete(p, ...) */
.macro FREE1 name
lt_stub_\name:
	ENTRY	lt_tramp_\name
	LOOKUP	1f, lt_tramp_\name
1:	FREELOG	lt_trap_\name\()_free, lt_tramp_\name
.endm

	ALLOC	malloc, 0, x0
	ALLOC	calloc, 1, x0, x1

lt_stub_realloc:		/* realloc(p, size): a free of p, then an allocation */
	ENTRY	lt_tramp_realloc
	LOOKUP	1f, 3f
1:	FREELOG	lt_trap_realloc_free, 3f
3:	COUNTDOWN realloc, x1
	SAMPLED	realloc, 2, x1

lt_stub_reallocarray:		/* reallocarray(p, n, size) */
	ENTRY	lt_tramp_reallocarray
	LOOKUP	1f, 3f
1:	FREELOG	lt_trap_reallocarray_free, 3f
3:	COUNTDOWN reallocarray, x1, x2
	SAMPLED	reallocarray, 3, x1, x2

	FREE1	free
	ALLOC	posix_memalign, 5, x2	/* posix_memalign(&p, align, size) */
	ALLOC	aligned_alloc, 6, x1	/* aligned_alloc(align, size) */
	ALLOC	memalign, 7, x1
	ALLOC	valloc, 8, x0
	ALLOC	pvalloc, 9, x0

/*
 * A throwing operator new(size[, align]). Should it throw (std::bad_alloc,
 * or whatever a new_handler throws) through the sampled path's frame, the
 * program's unwinder would find no unwind information for the stub and end
 * the program in std::terminate. So the sampled path calls the nothrow twin
 * (RG_NOTHROW + \twin: same allocator, same memory, and it also runs the
 * new_handler loop; leaktrap stores its pad, or its entry if it is not
 * hooked) and records what that returns; when it returns NULL the stub
 * leaves the stack and x30 as it found them and branches to the operator
 * itself, like the unsampled path, which fails again and throws into its
 * caller's frames alone. A new_handler that throws std::bad_alloc is then
 * called twice. A call from the twin's own code (libstdc++'s nothrow
 * operator calls this one) goes straight to the operator: the stub that
 * called the twin records it.
 */
.macro NEWTHROW name, kind, twin, aligned
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN \name, x0
	SAMPLED	\name, \kind, x0, , \twin, \aligned
.endm

/* The C++ operators (where an allocator defines them: src/finder.h). */
	NEWTHROW new, 10, 0*RG_NOTHROW_ENTRY, 0
	NEWTHROW new_array, 11, 1*RG_NOTHROW_ENTRY, 0
	ALLOC	new_nothrow, 12, x0
	ALLOC	new_array_nothrow, 13, x0
	NEWTHROW new_aligned, 14, 2*RG_NOTHROW_ENTRY, 1
	NEWTHROW new_array_aligned, 15, 3*RG_NOTHROW_ENTRY, 1
	ALLOC	new_aligned_nothrow, 16, x0
	ALLOC	new_array_aligned_nothrow, 17, x0
	FREE1	delete
	FREE1	delete_array
	FREE1	delete_sized
	FREE1	delete_array_sized
	FREE1	delete_nothrow
	FREE1	delete_array_nothrow
	FREE1	delete_aligned
	FREE1	delete_array_aligned
	FREE1	delete_sized_aligned
	FREE1	delete_array_sized_aligned
	FREE1	delete_aligned_nothrow
	FREE1	delete_array_aligned_nothrow

/*
 * lt_ret: the sampled path's return to the caller. x16 = the hook's pad,
 * sp = the entry's, x30 = the return address as the entry left it: signed
 * by the landing pad the pad holds a copy of (paciasp: A key, pacibsp: B
 * key, with the entry's sp), which is checked here as the original's own
 * epilogue would have; else plain.
 */
lt_ret:
	ldr	w16, [x16, #4]
	ldr	w17, lt_insn_paciasp
	cmp	w16, w17
	b.eq	1f
	ldr	w17, lt_insn_pacibsp
	cmp	w16, w17
	b.eq	2f
	ret
1:	hint	#29			/* autiasp */
	ret
2:	hint	#31			/* autibsp */
	ret

/*
 * lt_record: writes the sampled event into the ring (agent engine). Called
 * from SAMPLED with w1 = kind and the SAMPLED frame at sp (arch_regs.h);
 * the caller's stack pointer will be sp + SF_BYTES.
 * For posix_memalign the record's result is the block itself (0 when it
 * failed), read here: by the time leaktrap reads the ring, the variable it
 * was stored in may hold something else.
 * The original has returned, so x1..x17 are free and x0, the result, is
 * handed back as it came (kept in x9: svc clobbers x0 alone). x19..x28
 * still hold the caller's values and go into the record for the unwinder,
 * with the caller's x29 from the frame. The stack is copied by
 * process_vm_readv of our own memory, which returns short instead of
 * faulting at the end of a stack. A full ring, or a fork child's copy of
 * the region, drops the event; the slot's fields are published by a
 * store-release of RS_SEQ (aarch64 may reorder plain stores).
 * RS_REGS holds x19..x28, x29, x30: x30 is the return address, as the
 * caller's x30 is right after the return (it never helps the unwinder).
 */
lt_record:
	mov	x9, x0
	mov	w10, w1
	mov	x8, #NR_GETPID
	svc	#0
	ldr	w11, PID
	cmp	w0, w11
	b.ne	79f
	adr	x11, RHEAD
71:	ldr	x13, [x11, #(RG_RTAIL - RG_RHEAD)]	/* only grows: a stale one is safe */
	ldxr	x12, [x11]
	sub	x14, x12, x13
	cmp	x14, #RG_RING_N
	b.hs	76f
	add	x14, x12, #1
	stxr	w15, x14, [x11]
	cbnz	w15, 71b
	and	x13, x12, #(RG_RING_N - 1)
	adr	x11, TABLE
	add	x11, x11, #((RG_RING - RG_TABLE) >> 12), lsl #12	/* RG_RING */
	add	x11, x11, x13, lsl #RG_SLOT_LOG	/* x11 = the slot */
	add	x12, x12, #1			/* x12 = the RS_SEQ it gets */
	str	x12, [x11, #RS_NEXTSEQ]
	str	w10, [x11, #RS_KIND]
	ldp	x13, x14, [sp, #SF_SIZE]
	stp	x13, x14, [x11, #RS_SIZE]	/* RS_SIZE, RS_ARG0 */
	mov	x7, x9
	cmp	w10, #KIND_POSIX_MEMALIGN	/* posix_memalign: the block, read now */
	b.ne	72f
	mov	x7, #0
	cbnz	w9, 72f
	ldr	x7, [x14]
72:	str	x7, [x11, #RS_RET]
	ldp	x13, x14, [sp, #SF_FP]		/* the caller's x29, the return address */
	str	x14, [x11, #RS_PC]
	add	x15, sp, #SF_BYTES
	str	x15, [x11, #RS_SP]
	stp	x19, x20, [x11, #RS_REGS + 0]
	stp	x21, x22, [x11, #RS_REGS + 16]
	stp	x23, x24, [x11, #RS_REGS + 32]
	stp	x25, x26, [x11, #RS_REGS + 48]
	stp	x27, x28, [x11, #RS_REGS + 64]
	stp	x13, x14, [x11, #RS_REGS + 80]
	mrs	x13, cntvct_el0
	str	x13, [x11, #RS_TIME]
	add	x13, x11, #RS_STACK		/* local iovec: the slot's stack area */
	mov	x14, #RG_STACK_COPY
	stp	x13, x14, [x11, #RS_IOV]
	stp	x15, x14, [x11, #RS_IOV + 16]	/* remote iovec: our own stack */
	mov	x8, #NR_GETTID
	svc	#0
	str	w0, [x11, #RS_TID]
	ldr	w0, PID			/* process_vm_readv(pid, local, 1, remote, 1, 0) */
	add	x1, x11, #RS_IOV
	mov	x2, #1
	add	x3, x11, #(RS_IOV + 16)
	mov	x4, #1
	mov	x5, #0
	mov	x8, #NR_PROCESS_VM_READV
	svc	#0
	str	x0, [x11, #RS_COPIED]
	cbz	x7, 75f			/* the block goes into the sampled table now, */
	ldr	x14, lt_hash_mul	/* before the caller can free it */
	mul	x14, x14, x7
	lsr	x14, x14, #(64 - RG_TABLE_BITS)
	adr	x15, TABLE
	add	x15, x15, x14, lsl #RG_BUCKET_LOG
	mov	x14, #0
73:	ldr	x13, [x15, x14, lsl #3]	/* already there (a nested call's record)? */
	cmp	x13, x7
	b.eq	75f
	add	x14, x14, #1
	cmp	x14, #RG_BUCKET_SLOTS
	b.lo	73b
	mov	x14, #0
74:	add	x13, x15, x14, lsl #3	/* the first empty slot, by compare-and-swap */
	ldxr	x16, [x13]
	cbnz	x16, 77f
	stxr	w17, x7, [x13]
	cbnz	w17, 74b
	/* one slot more in its group, before the caller can free the block */
	GROUP_COUNT x13, add, x14, w15, w16
	b	75f
77:	clrex
	add	x14, x14, #1
	cmp	x14, #RG_BUCKET_SLOTS
	b.lo	74b
	ldr	w13, [x11, #RS_KIND]	/* bucket full: the reader counts a drop */
	orr	w13, w13, #RK_UNTRACKED
	str	w13, [x11, #RS_KIND]
75:	stlr	x12, [x11, #RS_SEQ]	/* complete */
	mov	x0, x9
	ret
76:	clrex
	ldr	w13, WAITFULL		/* every allocation wanted: wait while the reader lives */
	cbz	w13, 78f
	mrs	x13, cntvct_el0
	ldr	x14, BEAT
	cmp	x13, x14
	b.hs	78f
	mov	x13, #WAIT_NS		/* nanosleep({0, WAIT_NS}): see FREELOG */
	stp	xzr, x13, [sp, #SF_SCRATCH]
	add	x0, sp, #SF_SCRATCH
	mov	x1, #0
	mov	x8, #NR_NANOSLEEP
	svc	#0
	b	71b
78:	adr	x13, RDROPS
70:	ldxr	x14, [x13]
	add	x14, x14, #1
	stxr	w15, x14, [x13]
	cbnz	w15, 70b
79:	mov	x0, x9
	ret

	.balign	8
lt_hash_mul:
	.quad	RG_HASH_MUL
lt_insn_paciasp:
	.long	0xd503233f		/* hint #25 */
lt_insn_pacibsp:
	.long	0xd503237f		/* hint #27 */

/* Pads: the sampled path calls the trampoline through here. leaktrap copies
 * the landing pads left at the entry (reloc.skip bytes: bti c, paciasp or
 * pacibsp), right-aligned, over the nops, so that the return address into
 * the stub is signed as the entry signs its caller's (see the header). */
.macro PAD name
lt_pad_\name:
	nop
	nop
	b	lt_tramp_\name
.endm
	PAD malloc
	PAD calloc
	PAD realloc
	PAD reallocarray
	PAD posix_memalign
	PAD aligned_alloc
	PAD memalign
	PAD valloc
	PAD pvalloc
	PAD new
	PAD new_array
	PAD new_nothrow
	PAD new_array_nothrow
	PAD new_aligned
	PAD new_array_aligned
	PAD new_aligned_nothrow
	PAD new_array_aligned_nothrow

/* Trampoline slots, filled by the relocator; brk #0 until then. */
.macro SLOT name
	.balign	RG_TRAMP_SLOT
lt_tramp_\name:
	.fill	RG_TRAMP_SLOT / 4, 4, 0xd4200000
.endm
	SLOT malloc
	SLOT calloc
	SLOT realloc
	SLOT reallocarray
	SLOT free
	SLOT posix_memalign
	SLOT aligned_alloc
	SLOT memalign
	SLOT valloc
	SLOT pvalloc
	SLOT new
	SLOT new_array
	SLOT new_nothrow
	SLOT new_array_nothrow
	SLOT new_aligned
	SLOT new_array_aligned
	SLOT new_aligned_nothrow
	SLOT new_array_aligned_nothrow
	SLOT delete
	SLOT delete_array
	SLOT delete_sized
	SLOT delete_array_sized
	SLOT delete_nothrow
	SLOT delete_array_nothrow
	SLOT delete_aligned
	SLOT delete_array_aligned
	SLOT delete_sized_aligned
	SLOT delete_array_sized_aligned
	SLOT delete_aligned_nothrow
	SLOT delete_array_aligned_nothrow
lt_image_end:
	/* Fails to assemble ("attempt to move .org backwards") if the image
	 * outgrows the code part of the region. The rest is udf #0. */
	.org	lt_image + RG_CODE_SIZE, 0

	.section .rodata
	.balign	4
	.globl	arch_image_size
arch_image_size:
	.long	lt_image_end - lt_image

/* In enum hook_kind order: stub, trampoline, allocation trap, free trap,
 * pad (the 8 bytes before the pad's branch to the trampoline). */
.macro OFFS name, alloc, free, pad
	.long	lt_stub_\name - lt_image, lt_tramp_\name - lt_image
	.long	\alloc, \free, \pad
.endm
.macro OFFSA name
	OFFS	\name, lt_trap_\name\()_alloc - lt_image, 0, lt_pad_\name - lt_image
.endm
.macro OFFSF name
	OFFS	\name, 0, lt_trap_\name\()_free - lt_image, 0
.endm
	.globl	arch_image_hooks
arch_image_hooks:
	OFFSA	malloc
	OFFSA	calloc
	OFFS	realloc, lt_trap_realloc_alloc - lt_image, lt_trap_realloc_free - lt_image, lt_pad_realloc - lt_image
	OFFS	reallocarray, lt_trap_reallocarray_alloc - lt_image, lt_trap_reallocarray_free - lt_image, lt_pad_reallocarray - lt_image
	OFFSF	free
	OFFSA	posix_memalign
	OFFSA	aligned_alloc
	OFFSA	memalign
	OFFSA	valloc
	OFFSA	pvalloc
	OFFSA	new
	OFFSA	new_array
	OFFSA	new_nothrow
	OFFSA	new_array_nothrow
	OFFSA	new_aligned
	OFFSA	new_array_aligned
	OFFSA	new_aligned_nothrow
	OFFSA	new_array_aligned_nothrow
	OFFSF	delete
	OFFSF	delete_array
	OFFSF	delete_sized
	OFFSF	delete_array_sized
	OFFSF	delete_nothrow
	OFFSF	delete_array_nothrow
	OFFSF	delete_aligned
	OFFSF	delete_array_aligned
	OFFSF	delete_sized_aligned
	OFFSF	delete_array_sized_aligned
	OFFSF	delete_aligned_nothrow
	OFFSF	delete_array_aligned_nothrow

/* The image is data here, run only where it is copied to: this object is
 * no reason for a program built with -mbranch-protection to lose its BTI
 * and PAC marking (GNU_PROPERTY_AARCH64_FEATURE_1_AND: BTI | PAC). */
	.section .note.gnu.property, "a"
	.balign	8
	.long	4, 16, 5		/* namesz, descsz, NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000000, 4, 3, 0

	.section .note.GNU-stack, "", @progbits
