#!/bin/bash
# alloc_glibc: glibc's own malloc, dynamic and static. alloc_basic leaks a
# known number of blocks through every C entry point (malloc, calloc,
# realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc)
# and through the C library itself (strdup, getline, fopen) amid churn that
# frees everything; with --every the report must hold exactly those blocks
# at their source lines, name the allocator "glibc" in libc.so.6 (dynamic)
# or in the executable (static: no link map, symbols from .symtab), and
# `status` must say the same. Code byte-identical after detach, target
# exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
alloc_session alloc_basic alloc_basic.c glibc /libc.so.6
alloc_session alloc_basic_static alloc_basic.c glibc alloc_basic_static
finish
