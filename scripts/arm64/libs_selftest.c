/*
 * libs_selftest: checks that a program cross-linked on the host against
 * leaktrap's libraries (libunwind-ptrace, libdw, libelf, capstone,
 * readline, zlib) and an allocator runs in the VM of scripts/arm64-vm.sh:
 * it calls into each library once and exits 0 if every call worked.
 *   aarch64-linux-gnu-gcc -O2 -o build/arm64/selftest/libs_selftest \
 *       scripts/arm64/libs_selftest.c -lunwind-ptrace -lunwind-generic \
 *       -lunwind -ldw -lelf -lcapstone -lreadline -lz
 *   scripts/arm64-vm.sh run build/arm64/selftest -- ./libs_selftest
 * Add -ljemalloc (with -L build/arm64/sysroot/usr/lib/aarch64-linux-gnu),
 * -ltcmalloc or -lmimalloc to check an allocator too: malloc is called.
 */
#include <capstone/capstone.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libunwind-ptrace.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* check: prints the result of one library call; returns 1 if it failed. */
static int check(const char *what, int ok)
{
	printf("%-10s %s\n", what, ok ? "ok" : "FAILED");
	return !ok;
}

int main(void)
{
	int bad = 0;

	unw_addr_space_t as = unw_create_addr_space(&_UPT_accessors, 0);
	void *upt = _UPT_create(getpid());
	bad += check("libunwind", as != NULL && upt != NULL);

	bad += check("libelf", elf_version(EV_CURRENT) != EV_NONE);

	static const Dwfl_Callbacks cb = { .find_elf = dwfl_linux_proc_find_elf,
					   .find_debuginfo = dwfl_standard_find_debuginfo };
	Dwfl *dwfl = dwfl_begin(&cb);
	bad += check("libdw", dwfl != NULL && dwfl_linux_proc_report(dwfl, getpid()) == 0);

	/* ret; nop */
	static const unsigned char code[] = { 0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20, 0x03, 0xd5 };
	csh cs;
	cs_insn *insn;
	size_t n = 0;
	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs) == CS_ERR_OK) {
		n = cs_disasm(cs, code, sizeof code, 0x1000, 0, &insn);
		if (n == 2)
			n = !strcmp(insn[0].mnemonic, "ret") && !strcmp(insn[1].mnemonic, "nop") ? 2 : 0;
	}
	bad += check("capstone", n == 2);

	bad += check("readline", rl_library_version != NULL && rl_readline_version >= 0x0800);

	unsigned char z[64];
	uLongf zn = sizeof z;
	bad += check("zlib", compress(z, &zn, (const Bytef *)"leaktrap", 8) == Z_OK);

	char *p = malloc(1000);
	bad += check("malloc", p != NULL);
	free(p);
	return bad ? 1 : 0;
}
