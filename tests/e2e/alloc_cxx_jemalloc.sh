#!/bin/bash
# alloc_cxx_jemalloc: C++ with jemalloc, which defines operator new and delete
# itself (they do not call malloc): linked at build time (alloc_cxx_jemalloc)
# and through LD_PRELOAD (alloc_cxx). leaktrap must hook jemalloc's
# operators (new hook kinds: each stub records its own kind), so that the
# blocks of every operator new variant, malloc, and the frame an exception
# unwinds are exact at their source lines, with churn through every
# operator delete variant freeing all the rest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
ALLOC_HOOKS=("operator new" jmp "operator new(align)" jmp "operator delete(sized)" jmp)
alloc_session alloc_cxx_jemalloc alloc_cxx.cc jemalloc /libjemalloc.so.2
alloc_session alloc_cxx alloc_cxx.cc jemalloc /libjemalloc.so.2 /usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2
finish
