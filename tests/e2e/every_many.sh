#!/bin/bash
# every_many: --every stays exact with tens of thousands of live blocks.
# leak_many allocates 80000 blocks of 16..3015 bytes and frees every other
# one: 40000 live blocks under leak_many, with 80000 live at the peak. The
# report must give the count and bytes exactly, with nothing dropped (every
# sampled address must find a place in the in-target table). Also: exit 0, code identical after
# detach, target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session leak_many leak_many.c 12 80000
finish
