#!/bin/bash
# alloc_tcmalloc: tcmalloc replacing glibc's malloc, linked at build time
# (alloc_basic_tcmalloc, -ltcmalloc) and through LD_PRELOAD (alloc_basic), with
# libc.so.6's malloc still in the process. leaktrap must hook the
# definitions calls reach: tcmalloc's (functions tcmalloc lacks stay glibc's), so
# that alloc_basic's blocks, including those the C library allocates
# itself (strdup, getline, fopen call malloc through the PLT, which binds
# to tcmalloc), are exact at their source lines; the report and `status` name
# "tcmalloc" in libtcmalloc.so.4.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
alloc_session alloc_basic_tcmalloc alloc_basic.c tcmalloc /libtcmalloc.so.4
alloc_session alloc_basic alloc_basic.c tcmalloc /libtcmalloc.so.4 /usr/lib/$(uname -m)-linux-gnu/libtcmalloc.so.4
finish
