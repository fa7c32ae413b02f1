#!/bin/bash
# alloc_jemalloc: jemalloc replacing glibc's malloc, linked at build time
# (alloc_basic_jemalloc, -ljemalloc) and through LD_PRELOAD (alloc_basic), with
# libc.so.6's malloc still in the process. leaktrap must hook the
# definitions calls reach: jemalloc's (functions jemalloc lacks stay glibc's), so
# that alloc_basic's blocks, including those the C library allocates
# itself (strdup, getline, fopen call malloc through the PLT, which binds
# to jemalloc), are exact at their source lines; the report and `status` name
# "jemalloc" in libjemalloc.so.2. Third, jemalloc linked statically into
# the executable (libjemalloc_pic.a), which exports malloc: more than 1 GiB
# from libc.so.6, whose reallocarray and pvalloc stay unhooked (one region
# serves every hook) while the rest is exact: glibc's reallocarray calls
# jemalloc's realloc, and is recorded there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
alloc_session alloc_basic_jemalloc alloc_basic.c jemalloc /libjemalloc.so.2
alloc_session alloc_basic alloc_basic.c jemalloc /libjemalloc.so.2 /usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2
ALLOC_HOOKS=(reallocarray "not hooked" pvalloc "not hooked")
alloc_session alloc_basic_jemalloc_static alloc_basic.c jemalloc alloc_basic_jemalloc_static
finish
