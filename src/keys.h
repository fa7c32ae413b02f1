/* keys: the site, module and functions of a stack, as group keys with names. */
#ifndef LT_KEYS_H
#define LT_KEYS_H

#include "store.h"
#include "symbols.h"

struct keys;

/* Returns a key table for the stacks of s symbolized by sym; frames in
 * alloc_module (the shared object that defines malloc; NULL when that is
 * the executable itself) or in operator new/the malloc family are the
 * allocator's own. NULL when out of memory. */
struct keys *keys_new(const struct store *s, struct symbolizer *sym, const char *alloc_module);

/* Frees the table and its names. */
void keys_free(struct keys *k);

/* query_stack_keys_fn for BY_SITE: the first frame outside the allocator,
 * named "function file:line". */
int keys_site(void *k, uint32_t stack_id, uint64_t *keys, int max);

/* query_stack_keys_fn for BY_MODULE: the module of the site. */
int keys_module(void *k, uint32_t stack_id, uint64_t *keys, int max);

/* query_stack_keys_fn for BY_FUNC: every function in the stack, inlined
 * ones included, each once. */
int keys_func(void *k, uint32_t stack_id, uint64_t *keys, int max);

/* Returns the name of a key handed out by the functions above. */
const char *keys_name(const struct keys *k, uint64_t key);

/* Returns the index in the stack of its site frame (the first outside the
 * allocator; 0 when every frame is the allocator's). */
unsigned keys_site_frame(struct keys *k, uint32_t stack_id);

#endif
