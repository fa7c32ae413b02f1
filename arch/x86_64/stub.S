/*
 * stub.S: the x86-64 stub image, copied to the start of the region that
 * leaktrap maps into the target (layout in src/region.h).
 *
 * Contract (DESIGN.md): a stub never touches memory below %rsp, uses only
 * %rax, %r10, %r11 and flags (free at a function entry in the SysV ABI),
 * takes no lock, and calls nothing but an original function through its
 * trampoline. Data is addressed %rip-relative from lt_image, so the image
 * works wherever it is copied as long as the data follows it as in region.h.
 *
 * Unsampled allocation: active check, countdown -= size, jump to the
 * trampoline: ten instructions, no store but the countdown.
 * Sampled allocation: refresh the countdown, count the thread in flight,
 * *call* the trampoline (a real call: CET shadow stacks stay valid and no
 * return address is rewritten; a throwing operator new calls its nothrow
 * twin instead, see NEWTHROW), then stop on int3 with
 *	(%rsp) = size, 8(%rsp) = first argument, 40(%rsp) = return address,
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
#define MODE     lt_image+RG_MODE(%rip)
#define PID      lt_image+RG_PID(%rip)
#define RHEAD    lt_image+RG_RHEAD(%rip)
#define RTAIL    lt_image+RG_RTAIL(%rip)
#define RDROPS   lt_image+RG_RDROPS(%rip)
#define FDROPS   lt_image+RG_FDROPS(%rip)
#define WAITFULL lt_image+RG_WAITFULL(%rip)
#define BEAT     lt_image+RG_BEAT(%rip)
#define WAIT_NS  50000		/* how long a stub waits for room, each time */

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

/* The sampled path: see the header. The countdown gets a new interval at
 * once, picked from the draws table by this shard's xorshift state, so no
 * other thread on the shard ever sees it exhausted and nobody has to redraw.
 * Then the original is called, and the event reported: on int3 (trap
 * engine) or into the ring (agent engine, RECORD). With \twin >= 0 the
 * original is the nothrow twin at RG_NOTHROW + \twin, if leaktrap put one
 * there: see NEWTHROW. */
.macro SAMPLED sz, arg, tramp, trap, kind, twin=-1, aligned=0
	sub	$40, %rsp
	mov	\sz, (%rsp)
	mov	\arg, 8(%rsp)
	lea	(%r10,%rax), %r10
	mov	RG_SHARD_RNG(%r10), %r11
	mov	%r11, %rax
	shr	$12, %rax
	xor	%rax, %r11
	mov	%r11, %rax
	shl	$25, %rax
	xor	%rax, %r11
	mov	%r11, %rax
	shr	$27, %rax
	xor	%rax, %r11
	mov	%r11, RG_SHARD_RNG(%r10)
	shr	$(64 - 8), %r11
	lea	lt_image+RG_DRAWS(%rip), %rax
	mov	(%rax,%r11,8), %r11
	mov	%r11, (%r10)
	lock incl INFLIGHT
.if \twin < 0
	call	\tramp
.else
	mov	%rsi, 16(%rsp)		/* the alignment (if any), for the operator */
	mov	40(%rsp), %rax		/* called from the twin's own code? */
	sub	lt_image+RG_NOTHROW+\twin+8(%rip), %rax
	cmp	lt_image+RG_NOTHROW+\twin+16(%rip), %rax
	jb	5f			/* then its caller's stub samples the call */
	mov	lt_image+RG_NOTHROW+\twin(%rip), %rax
	test	%rax, %rax
	jz	3f
.if \aligned
	lea	lt_image(%rip), %rdx	/* the std::nothrow_t &, never read */
.else
	lea	lt_image(%rip), %rsi
.endif
	call	*%rax
	test	%rax, %rax
	jnz	4f
5:	mov	(%rsp), %rdi		/* leave, and let the operator itself */
	mov	16(%rsp), %rsi		/* run (and retry), called from the caller */
	add	$40, %rsp
	lock decl INFLIGHT
	jmp	\tramp
3:	call	\tramp
4:
.endif
	cmpl	$0, ACTIVE
	je	1f
	cmpl	$0, MODE
	jne	2f
\trap:	int3
	jmp	1f
2:	mov	$\kind, %ecx
	call	lt_record
1:	add	$40, %rsp
	lock decl INFLIGHT
	ret
.endm

/* Looks \ptr up in the sampled-address table: one bucket of RG_BUCKET_SLOTS,
 * unless its group's count (RG_FILTER) is 0. On a hit, %rax points at the
 * matching slot. */
.macro LOOKUP ptr, hit, miss
	test	\ptr, \ptr
	jz	\miss
	movabs	$RG_HASH_MUL, %rax
	imul	\ptr, %rax
	mov	%rax, %r11
	shr	$(64 - RG_TABLE_BITS + RG_GROUP_LOG), %r11
	lea	lt_image+RG_FILTER(%rip), %r10
	cmpb	$0, (%r10,%r11)
	je	\miss
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

/* A sampled block is being freed (%rax = its table slot): clear the slot
 * and take it off its group's count, then log the address for the tracer,
 * without stopping, with the ring's head at that moment: the agent engine's
 * reader applies the free after the ring records claimed before it and
 * before those claimed after. The slot is cleared first so that the tracer,
 * which reuses a slot only after reading the log, never sees it free while
 * the stub still means to write it. The block cannot be reallocated before
 * the log entry is written: the original free runs after. A full log falls
 * back to the breakpoint. */
.macro FREELOG trap, next
	cmpl	$0, ACTIVE
	je	\next
	movq	$0, (%rax)
	lea	lt_image+RG_TABLE(%rip), %r10	/* one slot fewer in its group */
	sub	%r10, %rax
	shr	$(RG_BUCKET_LOG + RG_GROUP_LOG), %rax
	lea	lt_image+RG_FILTER(%rip), %r10
	lock decb (%r10,%rax)
	mov	FHEAD, %rax
9:	mov	%rax, %r10
	sub	FTAIL, %r10
	cmp	$RG_FLOG_N, %r10
	jae	8f
	lea	1(%rax), %r10
	lock cmpxchg %r10, FHEAD
	jne	9b
	and	$(RG_FLOG_N - 1), %eax
	shl	$4, %rax
	lea	lt_image+RG_FLOG(%rip), %r10
	add	%rax, %r10
	mov	RHEAD, %rax		/* where this free falls among the ring's events */
	mov	%rax, 8(%r10)
	mov	%rdi, (%r10)
	jmp	\next
8:	cmpl	$0, MODE
	je	\trap
	cmpl	$0, WAITFULL	/* agent engine: nobody would catch a trap */
	je	7f
	push	%rcx		/* wait for the reader: the arguments survive */
	push	%rdx		/* the system calls on the stack */
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	cmp	BEAT, %rax
	jae	6f		/* no reader any more: drop */
	pushq	$WAIT_NS	/* nanosleep({0, WAIT_NS}): yielding in a loop */
	pushq	$0		/* would starve the reader of the CPU it needs */
	mov	%rsp, %rdi
	xor	%esi, %esi
	mov	$35, %eax
	syscall
	add	$16, %rsp
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	mov	FHEAD, %rax
	jmp	9b
6:	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
7:	lock incq FDROPS
	jmp	\next
\trap:	int3
	jmp	\next
.endm

/* malloc(size), valloc(size), pvalloc(size), operator new(size, ...) */
.macro ALLOC1 name, kind
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN %rdi, 2f, lt_tramp_\name
2:	SAMPLED	%rdi, %rdi, lt_tramp_\name, lt_trap_\name\()_alloc, \kind
.endm

/* aligned_alloc(align, size), memalign(align, size) */
.macro ALLOC2 name, kind
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN %rsi, 2f, lt_tramp_\name
2:	SAMPLED	%rsi, %rdi, lt_tramp_\name, lt_trap_\name\()_alloc, \kind
.endm

	ALLOC1	malloc, 0

lt_stub_calloc:			/* calloc(n, size): counts n*size */
	ENTRY	lt_tramp_calloc
	mov	%rdi, %r11
	imul	%rsi, %r11
	COUNTDOWN %r11, 2f, lt_tramp_calloc
2:	SAMPLED	%r11, %rdi, lt_tramp_calloc, lt_trap_calloc_alloc, 1

lt_stub_realloc:		/* realloc(p, size): a free of p, then an allocation */
	ENTRY	lt_tramp_realloc
	LOOKUP	%rdi, 1f, 3f
1:	FREELOG	lt_trap_realloc_free, 3f
3:	COUNTDOWN %rsi, 2f, lt_tramp_realloc
2:	SAMPLED	%rsi, %rdi, lt_tramp_realloc, lt_trap_realloc_alloc, 2

lt_stub_reallocarray:		/* reallocarray(p, n, size) */
	ENTRY	lt_tramp_reallocarray
	LOOKUP	%rdi, 1f, 3f
1:	FREELOG	lt_trap_reallocarray_free, 3f
3:	mov	%rsi, %r11
	imul	%rdx, %r11
	COUNTDOWN %r11, 2f, lt_tramp_reallocarray
2:	SAMPLED	%r11, %rdi, lt_tramp_reallocarray, lt_trap_reallocarray_alloc, 3

/* free(p), operator delete(p, ...) */
.macro FREE1 name
lt_stub_\name:
	ENTRY	lt_tramp_\name
	LOOKUP	%rdi, 1f, lt_tramp_\name
1:	FREELOG	lt_trap_\name\()_free, lt_tramp_\name
	jmp	lt_tramp_\name
.endm

	FREE1	free

lt_stub_posix_memalign:		/* posix_memalign(&p, align, size): the block lands in *arg0 */
	ENTRY	lt_tramp_posix_memalign
	COUNTDOWN %rdx, 2f, lt_tramp_posix_memalign
2:	SAMPLED	%rdx, %rdi, lt_tramp_posix_memalign, lt_trap_posix_memalign_alloc, 5

	ALLOC2	aligned_alloc, 6
	ALLOC2	memalign, 7
	ALLOC1	valloc, 8
	ALLOC1	pvalloc, 9

/*
 * A throwing operator new(size[, align]). Should it throw (std::bad_alloc,
 * or whatever a new_handler throws) through the sampled path's frame, the
 * program's unwinder would find no unwind information for the stub and end
 * the program in std::terminate. So the sampled path calls the nothrow twin
 * (RG_NOTHROW + \twin: same allocator, same memory, and it also runs the
 * new_handler loop) and records what that returns; when it returns NULL the
 * stub leaves the stack as it found it and jumps to the operator itself,
 * which fails again and throws into its caller's frames alone. A
 * new_handler that throws std::bad_alloc is then called twice. A call from
 * the twin's own code (libstdc++'s nothrow operator calls this one) goes
 * straight to the operator: the stub that called the twin records it.
 */
.macro NEWTHROW name, kind, twin, aligned
lt_stub_\name:
	ENTRY	lt_tramp_\name
	COUNTDOWN %rdi, 2f, lt_tramp_\name
2:	SAMPLED	%rdi, %rdi, lt_tramp_\name, lt_trap_\name\()_alloc, \kind, \twin, \aligned
.endm

/* The C++ operators (where an allocator defines them: src/finder.h). */
	NEWTHROW new, 10, 0*RG_NOTHROW_ENTRY, 0
	NEWTHROW new_array, 11, 1*RG_NOTHROW_ENTRY, 0
	ALLOC1	new_nothrow, 12
	ALLOC1	new_array_nothrow, 13
	NEWTHROW new_aligned, 14, 2*RG_NOTHROW_ENTRY, 1
	NEWTHROW new_array_aligned, 15, 3*RG_NOTHROW_ENTRY, 1
	ALLOC1	new_aligned_nothrow, 16
	ALLOC1	new_array_aligned_nothrow, 17
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
 * lt_record: writes the sampled event into the ring (agent engine). Called
 * from SAMPLED with %ecx = kind and the SAMPLED frame above its return
 * address: 8(%rsp) size, 16(%rsp) first argument, 48(%rsp) the caller's
 * return address; 56(%rsp) is where the caller's stack pointer will be.
 * For posix_memalign the record's result is the block itself (0 when it
 * failed), read here: by the time leaktrap reads the ring, the variable it
 * was stored in may hold something else.
 * The original has returned, so every caller-saved register is free (the
 * caller expects them clobbered by malloc) except %rax, the result, which
 * it keeps; the callee-saved ones still hold the caller's values and go into
 * the record for the unwinder. The stack is copied by process_vm_readv of
 * our own memory, which returns short instead of faulting at the end of a
 * stack. A full ring, or a fork child's copy of the region, drops the event.
 */
lt_record:
	push	%rax			/* 0(%rsp) result, 8 return into SAMPLED */
	push	%rcx			/* 0(%rsp) kind */
	mov	$39, %eax		/* getpid */
	syscall
	cmp	PID, %eax
	jne	7f
	mov	RHEAD, %rax
9:	mov	%rax, %rcx
	sub	RTAIL, %rcx
	cmp	$RG_RING_N, %rcx
	jae	6f
	lea	1(%rax), %rcx
	lock cmpxchg %rcx, RHEAD
	jne	9b
	mov	%rax, %rdi
	and	$(RG_RING_N - 1), %eax
	shl	$RG_SLOT_LOG, %rax
	lea	lt_image+RG_RING(%rip), %rsi
	add	%rax, %rsi		/* %rsi = the slot, %rdi = its index */
	inc	%rdi
	mov	%rdi, RS_NEXTSEQ(%rsi)
	pop	%rcx
	mov	%ecx, RS_KIND(%rsi)
	mov	16(%rsp), %rax
	mov	%rax, RS_SIZE(%rsi)
	mov	24(%rsp), %rax
	mov	%rax, RS_ARG0(%rsi)
	mov	(%rsp), %rax
	cmp	$5, %ecx		/* posix_memalign: the block, read now */
	jne	4f
	test	%eax, %eax
	mov	$0, %eax
	jne	4f
	mov	24(%rsp), %rdx
	mov	(%rdx), %rax
4:	mov	%rax, RS_RET(%rsi)
	mov	56(%rsp), %rax
	mov	%rax, RS_PC(%rsi)
	lea	64(%rsp), %rax
	mov	%rax, RS_SP(%rsi)
	mov	%rbx, RS_REGS+0(%rsi)
	mov	%rbp, RS_REGS+8(%rsi)
	mov	%r12, RS_REGS+16(%rsi)
	mov	%r13, RS_REGS+24(%rsi)
	mov	%r14, RS_REGS+32(%rsi)
	mov	%r15, RS_REGS+40(%rsi)
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, RS_TIME(%rsi)
	lea	RS_STACK(%rsi), %rax	/* local iovec: the slot's stack area */
	mov	%rax, RS_IOV(%rsi)
	movq	$RG_STACK_COPY, RS_IOV+8(%rsi)
	mov	RS_SP(%rsi), %rax	/* remote iovec: our own stack */
	mov	%rax, RS_IOV+16(%rsi)
	movq	$RG_STACK_COPY, RS_IOV+24(%rsi)
	push	%rsi
	mov	$186, %eax		/* gettid */
	syscall
	mov	(%rsp), %rsi
	mov	%eax, RS_TID(%rsi)
	mov	PID, %edi
	lea	RS_IOV(%rsi), %rsi	/* process_vm_readv(pid, local, 1, remote, 1, 0) */
	mov	$1, %edx
	lea	16(%rsi), %r10
	mov	$1, %r8d
	xor	%r9d, %r9d
	mov	$310, %eax
	syscall
	pop	%rsi
	mov	%rax, RS_COPIED(%rsi)
	mov	RS_RET(%rsi), %rdi	/* the block goes into the sampled table now, */
	test	%rdi, %rdi		/* before the caller can free it */
	jz	3f
	movabs	$RG_HASH_MUL, %rax
	imul	%rdi, %rax
	shr	$(64 - RG_TABLE_BITS), %rax
	shl	$RG_BUCKET_LOG, %rax
	lea	lt_image+RG_TABLE(%rip), %rdx
	add	%rax, %rdx
	mov	$RG_BUCKET_SLOTS, %ecx	/* already there (a nested call's record)? */
2:	cmp	%rdi, -8(%rdx,%rcx,8)
	je	3f
	dec	%ecx
	jnz	2b
	mov	$RG_BUCKET_SLOTS, %ecx
5:	xor	%eax, %eax
	lock cmpxchg %rdi, (%rdx)
	je	4f
	add	$8, %rdx
	dec	%ecx
	jnz	5b
	orl	$RK_UNTRACKED, RS_KIND(%rsi)	/* bucket full: the reader counts a drop */
	jmp	3f
4:	lea	lt_image+RG_TABLE(%rip), %rax	/* one slot more in its group, before */
	sub	%rax, %rdx			/* the caller can free the block */
	shr	$(RG_BUCKET_LOG + RG_GROUP_LOG), %rdx
	lea	lt_image+RG_FILTER(%rip), %rax
	lock incb (%rax,%rdx)
3:	mov	RS_NEXTSEQ(%rsi), %rax
	mov	%rax, RS_SEQ(%rsi)	/* complete: x86 keeps the stores in order */
	pop	%rax
	ret
6:	cmpl	$0, WAITFULL	/* every allocation wanted: wait while the reader lives */
	je	8f
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	cmp	BEAT, %rax
	jae	8f
	pushq	$WAIT_NS	/* nanosleep({0, WAIT_NS}): see FREELOG */
	pushq	$0
	mov	%rsp, %rdi
	xor	%esi, %esi
	mov	$35, %eax
	syscall
	add	$16, %rsp
	mov	RHEAD, %rax
	jmp	9b
8:	lock incq RDROPS
7:	pop	%rcx
	pop	%rax
	ret

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
	 * outgrows the code part of the region. */
	.org	lt_image + RG_CODE_SIZE, 0xcc

	.section .rodata
	.balign	4
	.globl	arch_image_size
arch_image_size:
	.long	lt_image_end - lt_image

/* In enum hook_kind order: stub, trampoline, allocation trap, free trap,
 * and no landing-pad copy (endbr64 needs none: SAMPLED calls the trampoline). */
.macro OFFS name, alloc, free
	.long	lt_stub_\name - lt_image, lt_tramp_\name - lt_image
	.long	\alloc, \free, 0
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
	OFFS	new, lt_trap_new_alloc-lt_image, 0
	OFFS	new_array, lt_trap_new_array_alloc-lt_image, 0
	OFFS	new_nothrow, lt_trap_new_nothrow_alloc-lt_image, 0
	OFFS	new_array_nothrow, lt_trap_new_array_nothrow_alloc-lt_image, 0
	OFFS	new_aligned, lt_trap_new_aligned_alloc-lt_image, 0
	OFFS	new_array_aligned, lt_trap_new_array_aligned_alloc-lt_image, 0
	OFFS	new_aligned_nothrow, lt_trap_new_aligned_nothrow_alloc-lt_image, 0
	OFFS	new_array_aligned_nothrow, lt_trap_new_array_aligned_nothrow_alloc-lt_image, 0
	OFFS	delete, 0, lt_trap_delete_free-lt_image
	OFFS	delete_array, 0, lt_trap_delete_array_free-lt_image
	OFFS	delete_sized, 0, lt_trap_delete_sized_free-lt_image
	OFFS	delete_array_sized, 0, lt_trap_delete_array_sized_free-lt_image
	OFFS	delete_nothrow, 0, lt_trap_delete_nothrow_free-lt_image
	OFFS	delete_array_nothrow, 0, lt_trap_delete_array_nothrow_free-lt_image
	OFFS	delete_aligned, 0, lt_trap_delete_aligned_free-lt_image
	OFFS	delete_array_aligned, 0, lt_trap_delete_array_aligned_free-lt_image
	OFFS	delete_sized_aligned, 0, lt_trap_delete_sized_aligned_free-lt_image
	OFFS	delete_array_sized_aligned, 0, lt_trap_delete_array_sized_aligned_free-lt_image
	OFFS	delete_aligned_nothrow, 0, lt_trap_delete_aligned_nothrow_free-lt_image
	OFFS	delete_array_aligned_nothrow, 0, lt_trap_delete_array_aligned_nothrow_free-lt_image

	.section .note.GNU-stack, "", @progbits
