#!/bin/bash
# every_cxx: C++ new/new[]/delete and exceptions, exactly, with --every.
# leak_cxx leaks 100 x new Obj256 (new_leak), 20 x new int[1000]
# (new_array_leak), and 30 x new char[128] in a frame that an exception
# unwinds (throw_leak_frame); cxx_churn and the RAII frames free everything.
# The report must attribute through operator new to those functions with
# exact counts and bytes; the target must catch all 30 exceptions while
# attached. Also: exit 0, code identical, target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session leak_cxx leak_cxx.cc 8
finish
