/*
 * stub.S: the x86-64 stub image, copied to the start of the region that
 * leaktrap maps into the target (layout in src/region.h).
 *
 * Contract (DESIGN.md): a stub never touches memory below %rsp, uses only
 * %rax, %r10, %r11 and flags (free at a function entry in the SysV ABI),
 * takes no lock, and calls nothing but the original function through its
 * trampoline. Data is addressed %rip-relative from lt_image, so the image
 * works wherever it is copied as long as the data follows it as in region.h.
 *
 * Unsampled allocation: active check, countdown -= size, jump to the
 * trampoline: ten instructions, no store but the countdown.
 * Sampled allocation: refresh the countdown, count the thread in flight,
 * *call* the trampoline (a real call: CET shadow stacks stay valid and no
 * return address is rewritten), then stop on int3 with
 *	(%rsp) = size, 8(%rsp) = first argument, 24(%rsp) = return address,
 *	%rax = the original's result, callee-saved registers = the caller's.
 * Free of a sampled address: the table slot is cleared and the address
 * logged for the tracer (FREELOG), before the original runs, so that the
 * slot is clear before the block can be reused; only when the log is full
 * does the stub stop, on int3 with the pointer in %rdi.
 */
#include "region.h"

	.section .rodata.lt_image, "a"
	.balign 4096
	.globl	arch_image
arch_image:
lt_image:

#define ACTIVE   lt_image+RG_ACTIVE(%rip)
#define INFLIGHT lt_image+RG_INFLIGHT(%rip)
#define FHEAD    lt_image+RG_FHEAD(%rip)
#define FTAIL    lt_image+RG_FTAIL(%rip)

/* When the active flag is clear every stub is a plain jump to its trampoline. */
.macro ENTRY tramp
	cmpl	$0, ACTIVE
	je	\tramp
.endm

/* Subtracts \sz from this stack's countdown; jumps to \sampled when it runs
 * out, else to the original. Leaves %r10+%rax pointing at the shard. */
.macro COUNTDOWN sz, sampled, tramp
	mov	%rsp, %rax
	shr	$RG_SHARD_SHIFT, %rax
	and	$(RG_NSHARDS - 1), %eax
	shl	$RG_SHARD_LOG, %eax
	lea	lt_image+RG_SHARDS(%rip), %r10
	sub	\sz, (%r10,%rax)
	jle	\sampled
	jmp	\tramp
.endm

/* The sampled path: see the header. The tracer writes a fresh draw into the
 * shard's next field at the stop; other threads on the same shard meanwhile
 * see the old next value, which is positive, and stay on the fast path. */
.macro SAMPLED sz, arg, tramp, trap
	sub	$24, %rsp
	mov	\sz, (%rsp)
	mov	\arg, 8(%rsp)
	mov	RG_SHARD_NEXT(%r10,%rax), %r11
	mov	%r11, (%r10,%rax)
	lock incl INFLIGHT
	call	\tramp
	cmpl	$0, ACTIVE
	je	1f
\trap:	int3
1:	add	$24, %rsp
	lock decl INFLIGHT
	ret
.endm

/* Looks \ptr up in the sampled-address table: one bucket of RG_BUCKET_SLOTS.
 * On a hit, %rax points at the matching slot. */
.macro LOOKUP ptr, hit, miss
	test	\ptr, \ptr
	jz	\miss
	movabs	$RG_HASH_MUL, %rax
	imul	\ptr, %rax
	shr	$(64 - RG_TABLE_BITS), %rax
	shl	$RG_BUCKET_LOG, %rax
	lea	lt_image+RG_TABLE(%rip), %r10
	add	%r10, %rax
	cmp	\ptr, (%rax)
	je	\hit
	.rept	RG_BUCKET_SLOTS - 1
	add	$8, %rax
	cmp	\ptr, (%rax)
	je	\hit
	.endr
	jmp	\miss
.endm

/* A sampled block is being freed (%rax = its table slot): clear the slot,
 * then log the address for the tracer, without stopping. The slot is cleared
 * first so that the tracer, which reuses a slot only after reading the log,
 * never sees it free while the stub still means to write it. The block
 * cannot be reallocated before the log entry is written: the original free
 * runs after. A full log falls back to the breakpoint. */
.macro FREELOG trap, next
	cmpl	$0, ACTIVE
	je	\next
	movq	$0, (%rax)
	mov	FHEAD, %rax
9:	mov	%rax, %r10
	sub	FTAIL, %r10
	cmp	$RG_FLOG_N, %r10
	jae	8f
	lea	1(%rax), %r10
	lock cmpxchg %r10, FHEAD
	jne	9b
	and	$(RG_FLOG_N - 1), %eax
	lea	lt_image+RG_FLOG(%rip), %r10
	mov	%rdi, (%r10,%rax,8)
	jmp	\next
8:
\trap:	int3
.endm

/* malloc(size), valloc(size), pvalloc(size) */
.macro ALLOC1 name
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN %rdi, 2f, lt_tramp_\name
2:	SAMPLED	%rdi, %rdi, lt_tramp_\name, lt_trap_\name\()_alloc
.endm

/* aligned_alloc(align, size), memalign(align, size) */
.macro ALLOC2 name
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN %rsi, 2f, lt_tramp_\name
2:	SAMPLED	%rsi, %rdi, lt_tramp_\name, lt_trap_\name\()_alloc
.endm

	ALLOC1	malloc

lt_stub_calloc:			/* calloc(n, size): counts n*size */
	ENTRY	lt_tramp_calloc
	mov	%rdi, %r11
	imul	%rsi, %r11
	COUNTDOWN %r11, 2f, lt_tramp_calloc
2:	SAMPLED	%r11, %rdi, lt_tramp_calloc, lt_trap_calloc_alloc

lt_stub_realloc:		/* realloc(p, size): a free of p, then an allocation */
	ENTRY	lt_tramp_realloc
	LOOKUP	%rdi, 1f, 3f
1:	FREELOG	lt_trap_realloc_free, 3f
3:	COUNTDOWN %rsi, 2f, lt_tramp_realloc
2:	SAMPLED	%rsi, %rdi, lt_tramp_realloc, lt_trap_realloc_alloc

lt_stub_reallocarray:		/* reallocarray(p, n, size) */
	ENTRY	lt_tramp_reallocarray
	LOOKUP	%rdi, 1f, 3f
1:	FREELOG	lt_trap_reallocarray_free, 3f
3:	mov	%rsi, %r11
	imul	%rdx, %r11
	COUNTDOWN %r11, 2f, lt_tramp_reallocarray
2:	SAMPLED	%r11, %rdi, lt_tramp_reallocarray, lt_trap_reallocarray_alloc

lt_stub_free:			/* free(p) */
	ENTRY	lt_tramp_free
	LOOKUP	%rdi, 1f, lt_tramp_free
1:	FREELOG	lt_trap_free_free, lt_tramp_free
	jmp	lt_tramp_free

lt_stub_posix_memalign:		/* posix_memalign(&p, align, size): the block lands in *arg0 */
	ENTRY	lt_tramp_posix_memalign
	COUNTDOWN %rdx, 2f, lt_tramp_posix_memalign
2:	SAMPLED	%rdx, %rdi, lt_tramp_posix_memalign, lt_trap_posix_memalign_alloc

	ALLOC2	aligned_alloc
	ALLOC2	memalign
	ALLOC1	valloc
	ALLOC1	pvalloc

/* Trampoline slots, filled by the relocator; int3 until then. */
.macro SLOT name
	.balign	RG_TRAMP_SLOT
lt_tramp_\name:
	.fill	RG_TRAMP_SLOT, 1, 0xcc
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
lt_image_end:
	/* Fails to assemble ("attempt to move .org backwards") if the image
	 * outgrows the code part of the region. */
	.org	lt_image + RG_CODE_SIZE, 0xcc

	.section .rodata
	.balign	4
	.globl	arch_image_size
arch_image_size:
	.long	lt_image_end - lt_image

/* In enum hook_kind order: stub, trampoline, allocation trap, free trap. */
.macro OFFS name, alloc, free
	.long	lt_stub_\name - lt_image, lt_tramp_\name - lt_image
	.long	\alloc, \free
.endm
	.globl	arch_image_hooks
arch_image_hooks:
	OFFS	malloc,         lt_trap_malloc_alloc-lt_image, 0
	OFFS	calloc,         lt_trap_calloc_alloc-lt_image, 0
	OFFS	realloc,        lt_trap_realloc_alloc-lt_image, lt_trap_realloc_free-lt_image
	OFFS	reallocarray,   lt_trap_reallocarray_alloc-lt_image, lt_trap_reallocarray_free-lt_image
	OFFS	free,           0, lt_trap_free_free-lt_image
	OFFS	posix_memalign, lt_trap_posix_memalign_alloc-lt_image, 0
	OFFS	aligned_alloc,  lt_trap_aligned_alloc_alloc-lt_image, 0
	OFFS	memalign,       lt_trap_memalign_alloc-lt_image, 0
	OFFS	valloc,         lt_trap_valloc_alloc-lt_image, 0
	OFFS	pvalloc,        lt_trap_pvalloc_alloc-lt_image, 0

	.section .note.GNU-stack, "", @progbits
