#!/bin/bash
# alloc_musl: musl's malloc (mallocng), dynamic (/lib/ld-musl-x86_64.so.1,
# found through musl's link map, whose first entry is named after argv[0])
# and static (musl-gcc -static: the executable's .symtab). alloc_basic's
# direct calls must be exact at their source lines. musl's C library has
# no unwind tables, so the stacks of the blocks it allocates itself end in
# the function that called malloc: strdup's, getline's (getdelim) and
# fopen's (fdopen) blocks are counted there, exactly. The allocator is
# named "musl" in the report and in `status`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
ALLOC_NO_LIBC_CFI="strdup:leak_strdup getdelim:leak_getline fdopen:leak_fopen"
alloc_session alloc_basic_musl alloc_basic.c musl "/ld-musl-$(uname -m).so.1"
alloc_session alloc_basic_musl_static alloc_basic.c musl alloc_basic_musl_static
finish
