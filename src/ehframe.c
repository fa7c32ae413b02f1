/*
 * ehframe: the records of .eh_frame (CIEs, FDEs and their CFA programs),
 * decoded from bytes the caller has read. unwind.c uses them to find the
 * unwind tables of objects that lack an .eh_frame_hdr, to hide the opcodes
 * libunwind 1.6 rejects, and to learn the simple rules that let most frames
 * be stepped without libunwind (eh_rule).
 */
#include <string.h>

#include "ehframe.h"

/* Decodes a DWARF EH pointer of encoding enc at p (target address at);
 * returns its byte length, or 0 for an encoding not handled. */
size_t eh_pointer(const uint8_t *p, const uint8_t *end, uint8_t enc, taddr_t at, taddr_t *out)
{
	int64_t v;
	size_t n;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: n = 8; break;	/* absptr, udata8, sdata8 */
	case 0x03: n = 4; break;			/* udata4 */
	case 0x0b: n = 4; break;			/* sdata4 */
	default: return 0;
	}
	if (p + n > end)
		return 0;
	if (n == 8) {
		memcpy(&v, p, 8);
	} else if ((enc & 0x0f) == 0x0b) {
		int32_t w;
		memcpy(&w, p, 4);
		v = w;
	} else {
		uint32_t w;
		memcpy(&w, p, 4);
		v = w;
	}
	if ((enc & 0x70) == 0x10)	/* pcrel */
		v += (int64_t)at;
	else if (enc & 0x70)
		return 0;
	*out = (taddr_t)v;
	return n;
}

/* Reads an unsigned LEB128 number; returns its length (0 if it runs off). */
size_t eh_uleb(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; p + i < end && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

/* Reads a signed LEB128 number; returns its length (0 if it runs off). */
size_t eh_sleb(const uint8_t *p, const uint8_t *end, int64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; p + i < end && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i < 9 && (p[i] & 0x40))
				v |= ~0ULL << (7 * (i + 1));	/* sign-extend */
			*out = (int64_t)v;
			return i + 1;
		}
	}
	return 0;
}

/* Parses the CIE at cie (its length word); returns false if it cannot. */
bool eh_cie_parse(const uint8_t *cie, const uint8_t *end, struct cie *c)
{
	uint32_t len;
	memcpy(&len, cie, 4);
	if (cie + 4 + len > end || len < 6)
		return false;
	end = cie + 4 + len;
	const uint8_t *p = cie + 8, *aug = p + 1;	/* length, CIE id, version */
	c->enc = 0;
	c->aug_z = *aug == 'z';
	c->end = end;
	p = aug + strnlen((const char *)aug, (size_t)(end - aug)) + 1;
	uint64_t v;
	size_t n;
	if (!(n = eh_uleb(p, end, &c->code_align)))
		return false;
	p += n;
	if (!(n = eh_sleb(p, end, &c->data_align)))
		return false;
	p += n;
	if (cie[8] == 1)				/* return register: a byte in version 1 */
		c->ra = *p++;
	else if ((n = eh_uleb(p, end, &v))) {
		c->ra = v;
		p += n;
	} else
		return false;
	if (!c->aug_z) {
		c->insns = p;
		return *aug == 0;	/* other augmentations without data: not ours */
	}
	if (!(n = eh_uleb(p, end, &v)))			/* augmentation data length */
		return false;
	p += n;
	c->insns = p + v;
	for (const uint8_t *a = aug + 1; *a && p < end; a++) {
		if (*a == 'R')
			c->enc = *p++;
		else if (*a == 'L')
			p++;
		else if (*a == 'P') {
			taddr_t dummy;
			uint8_t enc = *p++;
			size_t m = eh_pointer(p, end, enc & 0x0f, 0, &dummy);
			if (!m)
				return false;
			p += m;
		} else if (*a != 'S' && *a != 'B')
			return false;
	}
	return c->insns <= end;
}

/* The FDE pointer encoding of the CIE at cie ('R' in its augmentation). */
uint8_t eh_cie_fde_encoding(const uint8_t *cie, const uint8_t *end)
{
	struct cie c;
	return eh_cie_parse(cie, end, &c) ? c.enc : 0xff;
}

/* Size of a pointer of encoding enc (0 if not handled). */
size_t eh_enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: return 8;
	case 0x03: case 0x0b: return 4;
	case 0x02: case 0x0a: return 2;
	default: return 0;
	}
}

/* Operands of the DWARF CFA opcodes below 0x30 ('u' uleb, 's' sleb, 'b' a
 * uleb-sized block, '1'/'2'/'4'/'8' fixed bytes, 'a' an address of the
 * FDE's encoding); NULL: unknown, the rest of the program is skipped. */
const char *const eh_cfa_operands[0x30] = {
	[0x00] = "", [0x01] = "a", [0x02] = "1", [0x03] = "2", [0x04] = "4",
	[0x05] = "uu", [0x06] = "u", [0x07] = "u", [0x08] = "u", [0x09] = "uu",
	[0x0a] = "", [0x0b] = "", [0x0c] = "uu", [0x0d] = "u", [0x0e] = "u",
	[0x0f] = "b", [0x10] = "ub", [0x11] = "us", [0x12] = "us", [0x13] = "s",
	[0x14] = "uu", [0x15] = "us", [0x16] = "ub", [0x1d] = "8",
	[0x2d] = "", [0x2e] = "u", [0x2f] = "uu",
};


bool eh_record(const uint8_t *p, const uint8_t *end, uint32_t *len, uint32_t *id)
{
	if (end - p < 8)
		return false;
	memcpy(len, p, 4);
	memcpy(id, p + 4, 4);
	return *len >= 4 && *len != 0xffffffff && *len <= (size_t)(end - p - 4);
}

bool eh_fde_parse(const uint8_t *fde, size_t fde_len, taddr_t at, const struct cie *c, struct fde *f)
{
	const uint8_t *end = fde + fde_len, *q;
	size_t n, m, k;
	uint64_t aug;
	if (fde_len < 8 || !(n = eh_pointer(fde + 8, end, c->enc, at + 8, &f->begin)) ||
	    !(m = eh_pointer(fde + 8 + n, end, c->enc & 0x0f, 0, &f->range)))
		return false;
	q = fde + 8 + n + m;
	if (c->aug_z) {
		if (!(k = eh_uleb(q, end, &aug)) || aug > (uint64_t)(end - q - k))
			return false;
		q += k + aug;
	}
	f->insns = q;
	f->end = end;
	return true;
}

/* The rules eh_rule follows while it runs a program. */
struct eh_state {
	int cfa_reg;
	int64_t cfa_off;
	uint8_t how[2];         /* [0] the return address, [1] the frame pointer */
	int64_t off[2];
};

/* What a program runs against: its CIE, the register it follows as the
 * frame pointer, and the rules a DW_CFA_restore goes back to. */
struct eh_prog {
	const struct cie *c;
	int fp;
	const struct eh_state *initial;
};

/* Sets the rule of DWARF register reg, if it is one of those followed. */
static void eh_set(const struct eh_prog *g, struct eh_state *st, uint64_t reg, uint8_t how, int64_t off)
{
	int i = reg == g->c->ra ? 0 : reg == (uint64_t)g->fp ? 1 : -1;
	if (i >= 0) {
		st->how[i] = how;
		st->off[i] = off;
	}
}

/* Puts register reg back to its rule at the end of the CIE's program. */
static void eh_restore(const struct eh_prog *g, struct eh_state *st, uint64_t reg)
{
	int i = reg == g->c->ra ? 0 : reg == (uint64_t)g->fp ? 1 : -1;
	if (i >= 0) {
		st->how[i] = g->initial->how[i];
		st->off[i] = g->initial->off[i];
	}
}

#define EH_STATES 8   /* DW_CFA_remember_state depth kept */

/* Runs the program [p, end), whose first row is at loc, until the row that
 * holds pc; returns 0, or -1 if it cannot. */
static int eh_run(const struct eh_prog *g, const uint8_t *p, const uint8_t *end, taddr_t loc,
		  taddr_t pc, struct eh_state *st)
{
	struct eh_state saved[EH_STATES];
	int depth = 0;
	const int64_t da = g->c->data_align;
	const uint64_t ca = g->c->code_align;
	while (p < end) {
		uint8_t op = *p++;
		uint64_t reg = op & 0x3f, u = 0, len;
		int64_t s = 0;
		size_t n = 1;
		switch (op & 0xc0) {
		case 0x40:	/* advance_loc */
			loc += reg * ca;
			if (loc > pc)
				return 0;
			continue;
		case 0x80:	/* offset */
			if (!(n = eh_uleb(p, end, &u)))
				return -1;
			p += n;
			eh_set(g, st, reg, EH_AT_CFA, (int64_t)u * da);
			continue;
		case 0xc0:	/* restore */
			eh_restore(g, st, reg);
			continue;
		}
		/* Every extended opcode below with a register operand starts with it. */
		switch (op) {
		case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0c: case 0x0d:
		case 0x10: case 0x11: case 0x12: case 0x14: case 0x15: case 0x16: case 0x2f:
			if (!(n = eh_uleb(p, end, &reg)))
				return -1;
			p += n;
		}
		switch (op) {
		case 0x00:	/* nop */
		case 0x2d:	/* AARCH64_negate_ra_state: return addresses are stripped anyway */
			break;
		case 0x02: case 0x03: case 0x04: {	/* advance_loc1, 2, 4 */
			size_t w = op == 0x02 ? 1 : op == 0x03 ? 2 : 4;
			if ((size_t)(end - p) < w)
				return -1;
			uint32_t d = 0;
			memcpy(&d, p, w);	/* little-endian, as both arches are */
			p += w;
			loc += d * ca;
			if (loc > pc)
				return 0;
			break;
		}
		case 0x05: case 0x14: case 0x2f:	/* offset_extended, val_offset, negative offset */
			if (!(n = eh_uleb(p, end, &u)))
				return -1;
			p += n;
			if (op == 0x05)
				eh_set(g, st, reg, EH_AT_CFA, (int64_t)u * da);
			else if (op == 0x2f)
				eh_set(g, st, reg, EH_AT_CFA, -(int64_t)u * da);
			else
				eh_set(g, st, reg, EH_OTHER, 0);
			break;
		case 0x06:	/* restore_extended */
			eh_restore(g, st, reg);
			break;
		case 0x07:	/* undefined */
			eh_set(g, st, reg, EH_UNDEFINED, 0);
			break;
		case 0x08:	/* same_value */
			eh_set(g, st, reg, EH_SAME, 0);
			break;
		case 0x09:	/* register */
			if (!(n = eh_uleb(p, end, &u)))
				return -1;
			p += n;
			eh_set(g, st, reg, EH_OTHER, 0);
			break;
		case 0x0a:	/* remember_state: the CFA rule goes with the registers', as in libgcc */
			if (depth == EH_STATES)
				return -1;
			saved[depth++] = *st;
			break;
		case 0x0b:	/* restore_state */
			if (!depth)
				return -1;
			*st = saved[--depth];
			break;
		case 0x0c: case 0x0e: case 0x2e:	/* def_cfa, def_cfa_offset, GNU_args_size */
			if (!(n = eh_uleb(p, end, &u)))
				return -1;
			p += n;
			if (op == 0x0c)
				st->cfa_reg = (int)reg;
			if (op != 0x2e)
				st->cfa_off = (int64_t)u;
			break;
		case 0x0d:	/* def_cfa_register */
			st->cfa_reg = (int)reg;
			break;
		case 0x11: case 0x12: case 0x13: case 0x15:	/* the _sf forms: a factored sleb */
			if (!(n = eh_sleb(p, end, &s)))
				return -1;
			p += n;
			if (op == 0x11)
				eh_set(g, st, reg, EH_AT_CFA, s * da);
			else if (op == 0x15)
				eh_set(g, st, reg, EH_OTHER, 0);
			else {
				if (op == 0x12)
					st->cfa_reg = (int)reg;
				st->cfa_off = s * da;
			}
			break;
		case 0x0f: case 0x10: case 0x16:	/* def_cfa_expression, expression, val_expression */
			if (!(n = eh_uleb(p, end, &len)) || len > (uint64_t)(end - p - n))
				return -1;
			p += n + len;
			if (op == 0x0f)
				st->cfa_reg = -1;
			else
				eh_set(g, st, reg, EH_OTHER, 0);
			break;
		default:	/* set_loc, MIPS advance_loc8, vendor opcodes: libunwind's job */
			return -1;
		}
	}
	return 0;
}

int eh_rule(const struct cie *c, const uint8_t *insns, const uint8_t *end, taddr_t pc_begin,
	    taddr_t pc, int fp, struct eh_rule *r)
{
	static const struct eh_state unset = { .cfa_reg = -1, .how = { EH_SAME, EH_SAME } };
	struct eh_state initial = unset, st;
	struct eh_prog g = { .c = c, .fp = fp, .initial = &unset };
	if (pc < pc_begin || eh_run(&g, c->insns, c->end, pc_begin, pc, &initial) < 0)
		return -1;
	st = initial;
	g.initial = &initial;
	if (eh_run(&g, insns, end, pc_begin, pc, &st) < 0)
		return -1;
	*r = (struct eh_rule){ .cfa_reg = st.cfa_reg, .cfa_off = st.cfa_off,
			       .ra_how = st.how[0], .fp_how = st.how[1],
			       .ra_off = st.off[0], .fp_off = st.off[1] };
	return 0;
}
