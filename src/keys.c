/*
 * keys: the site, module and functions of a stack, as group keys with names.
 *
 * Names are interned: a key is an index into one table of strings, so two
 * stacks that reach the same function share its key. What a stack maps to
 * is cached per stack id, since stacks never change once interned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookdefs.h"
#include "keys.h"

#define MAX_SYM 32

/* What one stack maps to, filled on first use. */
struct stack_keys {
	bool done;
	unsigned site_frame;
	uint64_t site, module;
	uint64_t *funcs;
	int nfuncs;
};

struct keys {
	const struct store *s;
	struct symbolizer *sym;
	char *alloc_module;
	char **names;          /* key -> name */
	size_t nnames, capnames;
	uint64_t *slots;       /* open addressing: key + 1, 0 = empty */
	size_t mask;
	struct stack_keys *st; /* indexed by stack id */
	size_t nst;
};

struct keys *keys_new(const struct store *s, struct symbolizer *sym, const char *alloc_module)
{
	struct keys *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->s = s;
	k->sym = sym;
	k->alloc_module = alloc_module ? strdup(alloc_module) : NULL;
	return k;
}

void keys_free(struct keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->nnames; i++)
		free(k->names[i]);
	for (size_t i = 0; i < k->nst; i++)
		free(k->st[i].funcs);
	free(k->names);
	free(k->slots);
	free(k->st);
	free(k->alloc_module);
	free(k);
}

/* FNV-1a of a string. */
static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Returns the key of name, adding it; UINT64_MAX when out of memory. */
static uint64_t intern(struct keys *k, const char *name)
{
	if ((k->nnames + 1) * 2 > (k->slots ? k->mask + 1 : 0)) {
		size_t cap = k->slots ? (k->mask + 1) * 2 : 256;
		uint64_t *ns = calloc(cap, sizeof(*ns));
		if (!ns)
			return UINT64_MAX;
		for (size_t i = 0; i < k->nnames; i++) {
			size_t j = str_hash(k->names[i]) & (cap - 1);
			while (ns[j])
				j = (j + 1) & (cap - 1);
			ns[j] = i + 1;
		}
		free(k->slots);
		k->slots = ns;
		k->mask = cap - 1;
	}
	size_t j = str_hash(name) & k->mask;
	for (; k->slots[j]; j = (j + 1) & k->mask)
		if (!strcmp(k->names[k->slots[j] - 1], name))
			return k->slots[j] - 1;
	if (k->nnames == k->capnames) {
		size_t cap = k->capnames ? k->capnames * 2 : 256;
		char **nn = realloc(k->names, cap * sizeof(*nn));
		if (!nn)
			return UINT64_MAX;
		k->names = nn;
		k->capnames = cap;
	}
	if (!(k->names[k->nnames] = strdup(name)))
		return UINT64_MAX;
	k->slots[j] = ++k->nnames;
	return k->nnames - 1;
}

const char *keys_name(const struct keys *k, uint64_t key)
{
	return key < k->nnames ? k->names[key] : "?";
}

/* Returns whether a function name is the allocator's own entry. */
static bool allocator_func(const char *f)
{
	if (!f)
		return false;
	if (!strncmp(f, "operator new", 12) || !strncmp(f, "operator delete", 15) ||
	    !strncmp(f, "_Zn", 3) || !strncmp(f, "__libc_", 7))
		return true;
	for (int i = 0; i < HK_COUNT; i++)
		if (!strcmp(f, hook_defs[i].name))
			return true;
	return false;
}

/* Returns the last path component of p. */
static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/* Writes the name of one symbolized entry into buf: "func", or
 * "module+0xoff" when the function is unknown, or the address. */
static void entry_name(const struct sym_frame *f, char *buf, size_t len)
{
	if (f->func)
		snprintf(buf, len, "%s", f->func);
	else if (f->module)
		snprintf(buf, len, "%s+0x%llx", base(f->module), (unsigned long long)f->module_off);
	else
		snprintf(buf, len, TADDR_FMT, TADDR_ARG(f->addr));
}

/* Returns the cache entry of stack id, filled; NULL when unknown or out of memory. */
static struct stack_keys *stack_keys(struct keys *k, uint32_t id)
{
	const struct stack *st = store_stack(k->s, id);
	if (!st)
		return NULL;
	if (id >= k->nst) {
		size_t n = k->nst ? k->nst : 64;
		while (n <= id)
			n *= 2;
		struct stack_keys *v = realloc(k->st, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + k->nst, 0, (n - k->nst) * sizeof(*v));
		k->st = v;
		k->nst = n;
	}
	struct stack_keys *sk = &k->st[id];
	if (sk->done)
		return sk;
	sk->funcs = calloc((size_t)st->nframes * MAX_SYM + 1, sizeof(*sk->funcs));
	if (!sk->funcs)
		return NULL;
	bool site_found = false;
	char name[512];
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct sym_frame fr[MAX_SYM];
		int n = sym_lookup(k->sym, st->frames[i], true, fr, MAX_SYM);
		if (n <= 0) {
			fr[0] = (struct sym_frame){ .addr = st->frames[i] };
			n = 1;
		}
		const struct sym_frame *phys = &fr[n - 1];
		bool alloc = allocator_func(phys->func) ||
			     (k->alloc_module && phys->module && !strcmp(phys->module, k->alloc_module));
		if (!site_found && (!alloc || i + 1 == st->nframes)) {
			/* the innermost entry is where the call was written */
			const struct sym_frame *in = &fr[0];
			char where[600];
			entry_name(in, name, sizeof(name));
			if (in->file && in->line > 0)
				snprintf(where, sizeof(where), "%s %s:%d", name, base(in->file), in->line);
			else
				snprintf(where, sizeof(where), "%s", name);
			sk->site = intern(k, where);
			sk->module = intern(k, phys->module ? phys->module : "?");
			sk->site_frame = alloc ? 0 : i;
			site_found = true;
		}
		for (int j = 0; j < n; j++) {
			entry_name(&fr[j], name, sizeof(name));
			uint64_t key = intern(k, name);
			bool dup = key == UINT64_MAX;
			for (int d = 0; d < sk->nfuncs && !dup; d++)
				dup = sk->funcs[d] == key;
			if (!dup)
				sk->funcs[sk->nfuncs++] = key;
		}
	}
	if (sk->site == UINT64_MAX || sk->module == UINT64_MAX)
		return NULL;
	sk->done = true;
	return sk;
}

int keys_site(void *kp, uint32_t stack_id, uint64_t *keys, int max)
{
	struct stack_keys *sk = stack_keys(kp, stack_id);
	if (!sk || max < 1)
		return 0;
	keys[0] = sk->site;
	return 1;
}

int keys_module(void *kp, uint32_t stack_id, uint64_t *keys, int max)
{
	struct stack_keys *sk = stack_keys(kp, stack_id);
	if (!sk || max < 1)
		return 0;
	keys[0] = sk->module;
	return 1;
}

int keys_func(void *kp, uint32_t stack_id, uint64_t *keys, int max)
{
	struct stack_keys *sk = stack_keys(kp, stack_id);
	int n = 0;
	for (; sk && n < sk->nfuncs && n < max; n++)
		keys[n] = sk->funcs[n];
	return n;
}

unsigned keys_site_frame(struct keys *k, uint32_t stack_id)
{
	struct stack_keys *sk = stack_keys(k, stack_id);
	return sk ? sk->site_frame : 0;
}
