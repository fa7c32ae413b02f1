#!/bin/bash
# alloc_cxx: C++ through glibc's malloc. alloc_cxx leaks known blocks through
# each of the eight operator new variants (plain, [], nothrow, aligned) and
# malloc, and in a frame that an exception unwinds, amid churn that pairs
# every new with every delete (sized, nothrow, aligned). libstdc++'s
# operators call malloc and free, so leaktrap leaves them unhooked (hooking
# both would count each block twice against the sampling countdown) and
# the report must still hold exactly those blocks at their source lines,
# dynamic and static (where libstdc++ and glibc's malloc are one object).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"
ALLOC_HOOKS=("operator new" "not hooked" "operator delete(sized, align)" "not hooked")
alloc_session alloc_cxx alloc_cxx.cc glibc /libc.so.6
alloc_session alloc_cxx_static alloc_cxx.cc glibc alloc_cxx_static
finish
