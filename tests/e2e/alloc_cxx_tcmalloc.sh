#!/bin/bash
# alloc_cxx_tcmalloc: C++ with tcmalloc, which defines operator new and delete
# itself (they do not call malloc): linked at build time (alloc_cxx_tcmalloc)
# and through LD_PRELOAD (alloc_cxx). leaktrap must hook tcmalloc's
# operators (new hook kinds: each stub records its own kind), so that the
# blocks of every operator new variant, malloc, and the frame an exception
# unwinds are exact at their source lines, with churn through every
# operator delete variant freeing all the rest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
ALLOC_HOOKS=("operator new" jmp "operator new(align)" jmp "operator delete(sized)" jmp)
alloc_session alloc_cxx_tcmalloc alloc_cxx.cc tcmalloc /libtcmalloc.so.4
alloc_session alloc_cxx alloc_cxx.cc tcmalloc /libtcmalloc.so.4 /usr/lib/$(uname -m)-linux-gnu/libtcmalloc.so.4
finish
