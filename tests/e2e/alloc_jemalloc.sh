#!/bin/bash
# alloc_jemalloc: jemalloc replacing glibc's malloc, linked at build time
# (alloc_basic_jemalloc, -ljemalloc) and through LD_PRELOAD (alloc_basic), with
# libc.so.6's malloc still in the process. leaktrap must hook the
# definitions calls reach: jemalloc's (functions jemalloc lacks stay glibc's), so
# that alloc_basic's blocks, including those the C library allocates
# itself (strdup, getline, fopen call malloc through the PLT, which binds
# to jemalloc), are exact at their source lines; the report and `status` name
# "jemalloc" in libjemalloc.so.2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
alloc_session alloc_basic_jemalloc alloc_basic.c jemalloc /libjemalloc.so.2
alloc_session alloc_basic alloc_basic.c jemalloc /libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
finish
