#!/bin/bash
# alloc_cxx_mimalloc: C++ with mimalloc, which defines operator new and delete
# itself (they do not call malloc): linked at build time (alloc_cxx_mimalloc)
# and through LD_PRELOAD (alloc_cxx). leaktrap must hook mimalloc's
# operators (new hook kinds: each stub records its own kind), so that the
# blocks of every operator new variant, malloc, and the frame an exception
# unwinds are exact at their source lines, with churn through every
# operator delete variant freeing all the rest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
ALLOC_HOOKS=("operator new" jmp "operator new(align)" jmp "operator delete(sized)" jmp)
alloc_session alloc_cxx_mimalloc alloc_cxx.cc mimalloc /libmimalloc.so.2
alloc_session alloc_cxx alloc_cxx.cc mimalloc /libmimalloc.so.2 /usr/lib/$(uname -m)-linux-gnu/libmimalloc.so.2
finish
