/* symbols: turning target code addresses into function, module and file:line. */
#ifndef LT_SYMBOLS_H
#define LT_SYMBOLS_H

#include "types.h"

struct symbolizer;

/* One frame as a person reads it. Strings are owned by the symbolizer and live
 * as long as it does; any of them may be NULL when unknown. An address inside
 * inlined code yields several sym_frames: the innermost first, the physical
 * function last. */
struct sym_frame {
	taddr_t addr;
	const char *func;      /* demangled where possible */
	uint64_t func_off;     /* addr - start of func (0 for inlined entries) */
	const char *module;    /* path of the mapped file, or "[vdso]" ... */
	uint64_t module_off;   /* addr - load bias: what addr2line -e module takes */
	const char *file;
	int line;              /* 0 when unknown */
	bool inlined;          /* true for every entry but the last */
};

/* Creates a symbolizer for process pid (files are opened through
 * /proc/PID/root so a containerised target is read from its own filesystem);
 * returns NULL on allocation failure only. */
struct symbolizer *sym_new(pid_t pid);

/* Re-reads the target's modules (after dlopen, or when an address was not
 * found); harmless once the target has exited. Returns 0 or -errno. */
int sym_refresh(struct symbolizer *s);

/* Fills out[0..max) with the frames for a return address (the caller has
 * already subtracted nothing: pass the raw address; the symbolizer looks up
 * addr - 1 for return addresses when is_return is true so that a call at
 * the end of a function is attributed correctly). Returns the number of
 * entries written, at least 1: a frame that cannot be symbolized still gets
 * module+offset, or just the address. When max is too small for the inlined
 * entries, the innermost ones are left out: the physical function stays last. */
int sym_lookup(struct symbolizer *s, taddr_t addr, bool is_return,
	       struct sym_frame *out, int max);

/* Frees the symbolizer and every string it handed out. */
void sym_free(struct symbolizer *s);

#endif
