/* ehframe: decoding .eh_frame records (CIE, FDE, CFA programs) from bytes in hand. */
#ifndef LT_EHFRAME_H
#define LT_EHFRAME_H

#include "types.h"

/* What matters of a CIE: its FDEs' pointer encoding, whether they carry
 * augmentation data, its alignment factors and return-address column, and
 * where its own CFA program is. */
struct cie {
	uint8_t enc;                 /* 'R', or 0 (absolute); 0xff: not understood */
	bool aug_z;
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra;                 /* the DWARF column of the return address */
	const uint8_t *insns, *end;
};

/* Decodes a DWARF EH pointer of encoding enc at p (target address at);
 * returns its byte length, or 0 for an encoding not handled. */
size_t eh_pointer(const uint8_t *p, const uint8_t *end, uint8_t enc, taddr_t at, taddr_t *out);
/* Reads an unsigned LEB128 number; returns its length (0 if it runs off). */
size_t eh_uleb(const uint8_t *p, const uint8_t *end, uint64_t *out);
/* Reads a signed LEB128 number; returns its length (0 if it runs off). */
size_t eh_sleb(const uint8_t *p, const uint8_t *end, int64_t *out);
/* Parses the CIE at cie (its length word); returns false if it cannot. */
bool eh_cie_parse(const uint8_t *cie, const uint8_t *end, struct cie *c);
/* The FDE pointer encoding of the CIE at cie ('R' in its augmentation), 0xff if not understood. */
uint8_t eh_cie_fde_encoding(const uint8_t *cie, const uint8_t *end);
/* Size of a pointer of encoding enc (0 if not handled). */
size_t eh_enc_size(uint8_t enc);
/* Operands of the DWARF CFA opcodes below 0x30 ('u' uleb, 's' sleb, 'b' a
 * uleb-sized block, '1'/'2'/'4'/'8' fixed bytes, 'a' an address of the
 * FDE's encoding); NULL: unknown. */
extern const char *const eh_cfa_operands[0x30];

/* Reads the header of the .eh_frame record at p (buf <= p < end): its
 * length after the length word, and its CIE id (0: a CIE; else the FDE's
 * distance back to its CIE from p + 4, for the caller to check).
 * Returns false at the terminator, at 64-bit DWARF (not emitted for
 * x86-64 or aarch64 EH) and at a record that runs off the end. */
bool eh_record(const uint8_t *p, const uint8_t *end, uint32_t *len, uint32_t *id);

/* What an FDE says: the code it covers and where its CFA program is. */
struct fde {
	taddr_t begin, range;
	const uint8_t *insns, *end;
};

/* Decodes the FDE at fde (its length word; fde_len bytes in all, read from
 * target address at) whose CIE is c; returns false if it cannot. */
bool eh_fde_parse(const uint8_t *fde, size_t fde_len, taddr_t at, const struct cie *c, struct fde *f);

/* How the caller's value of a register is found. */
enum eh_how {
	EH_SAME,        /* unchanged by the frame */
	EH_UNDEFINED,   /* lost (for the return address: the outermost frame) */
	EH_AT_CFA,      /* saved in memory at CFA + off */
	EH_OTHER,       /* in another register, or an expression: not followed here */
};

/* The row of the CFA table at one pc, as far as an unwind that follows only
 * the CFA, the return address and the frame pointer needs it. */
struct eh_rule {
	int cfa_reg;            /* CFA = cfa_reg + cfa_off; -1: an expression */
	int64_t cfa_off;
	uint8_t ra_how, fp_how; /* enum eh_how */
	int64_t ra_off, fp_off; /* for EH_AT_CFA */
};

/*
 * Runs the CFA program of CIE c, then the FDE's [insns, end) that describes
 * code from pc_begin, up to the row that holds pc, following the CFA, the
 * return-address column and DWARF register fp. Returns 0 and fills r, or
 * -1 for a program it cannot run (an unknown or truncated opcode, a state
 * stack deeper than it keeps).
 */
int eh_rule(const struct cie *c, const uint8_t *insns, const uint8_t *end, taddr_t pc_begin,
	    taddr_t pc, int fp, struct eh_rule *r);

#endif
