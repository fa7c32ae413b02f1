#!/bin/bash
# every_variants: every allocation function, exactly, with --every.
# leak_variants leaks at one named site per function (malloc, calloc,
# realloc growing a block three times, realloc(NULL), reallocarray,
# posix_memalign, aligned_alloc, memalign, valloc, pvalloc, strdup and
# strndup calling malloc inside libc) and frees some of each. The report
# must give every site's live count and bytes exactly, attribute a
# realloc'ed block to the last realloc's call site (nothing live under
# realloc_begin/reallocarray_begin), and name the right source lines.
# Also: exit 0, code identical after detach, target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session leak_variants leak_variants.c 8
finish
