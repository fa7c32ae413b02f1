#!/bin/bash
# every_static: the exact-count test on a static glibc executable. There is
# no link map (the allocator comes from the executable's .symtab) and no
# .eh_frame_hdr (the unwinder builds its table from .eh_frame): leak_a and
# leak_b must still be found with their exact counts and source lines, and
# the code must be byte-identical after detach.
. "$(dirname "$0")/lib.sh"
ALLOCATOR=leak_single_static every_session leak_single_static leak_single.c 8
finish
