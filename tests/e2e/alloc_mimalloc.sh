#!/bin/bash
# alloc_mimalloc: mimalloc replacing glibc's malloc, linked at build time
# (alloc_basic_mimalloc, -lmimalloc) and through LD_PRELOAD (alloc_basic), with
# libc.so.6's malloc still in the process. leaktrap must hook the
# definitions calls reach: mimalloc's (functions mimalloc lacks stay glibc's), so
# that alloc_basic's blocks, including those the C library allocates
# itself (strdup, getline, fopen call malloc through the PLT, which binds
# to mimalloc), are exact at their source lines; the report and `status` name
# "mimalloc" in libmimalloc.so.2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
alloc_session alloc_basic_mimalloc alloc_basic.c mimalloc /libmimalloc.so.2
alloc_session alloc_basic alloc_basic.c mimalloc /libmimalloc.so.2 /usr/lib/$(uname -m)-linux-gnu/libmimalloc.so.2
finish
