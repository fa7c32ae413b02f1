/* Types shared by every layer of leaktrap. */
#ifndef LT_TYPES_H
#define LT_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

/* An address in the target's address space: never a pointer of ours. */
typedef uint64_t taddr_t;

#define TADDR_FMT "0x%llx"
#define TADDR_ARG(a) ((unsigned long long)(a))

/* The longest call stack leaktrap keeps for one allocation. */
#define LT_MAX_FRAMES 64

#endif
