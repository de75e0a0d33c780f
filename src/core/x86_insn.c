#include "core/x86_insn.h"

#include <stdbool.h>

/*
 * Instruction format (SDM vol. 2A §2.1): legacy prefixes, then in 64-bit
 * mode an optional REX byte (0x40-0x4f; W is bit 3), the opcode, ModR/M
 * (reg field bits 5:3). The groups named here:
 *   0F C7 /1     cmpxchg8b m64, with REX.W cmpxchg16b m128 (group 9)
 *   0F C7 /3,4,5 xrstors, xsavec, xsaves (memory forms)
 *   0F AE /4,5,6 xsave, xrstor, xsaveopt (memory forms; mod = 11 is a fence)
 *   0F 01 D0/D1  xgetbv, xsetbv
 *   0F 01 C1/D9  vmcall, vmmcall
 */
const char *x86_insn_unemulated(const uint8_t *code, size_t n)
{
	bool lock = false, rexw = false;
	size_t i = 0;
	unsigned int reg, mod;

	for (; i < n; i++) {
		uint8_t b = code[i];

		if (b == 0xf0)
			lock = true;
		else if (b != 0xf2 && b != 0xf3 && b != 0x66 && b != 0x67 && b != 0x2e &&
			 b != 0x36 && b != 0x3e && b != 0x26 && b != 0x64 && b != 0x65)
			break;
	}
	if (i < n && (code[i] & 0xf0) == 0x40) {
		rexw = code[i] & 0x08;
		i++;
	}
	if (i + 3 > n || code[i] != 0x0f)
		return NULL;
	mod = code[i + 2] >> 6;
	reg = (code[i + 2] >> 3) & 7;
	switch (code[i + 1]) {
	case 0xc7:
		if (mod == 3)
			return NULL;
		if (reg == 1)
			return rexw ? (lock ? "lock cmpxchg16b" : "cmpxchg16b")
				    : (lock ? "lock cmpxchg8b" : "cmpxchg8b");
		if (reg == 3)
			return "xrstors";
		if (reg == 4)
			return "xsavec";
		if (reg == 5)
			return "xsaves";
		return NULL;
	case 0xae:
		if (mod == 3)
			return NULL;
		if (reg == 4)
			return "xsave";
		if (reg == 5)
			return "xrstor";
		if (reg == 6)
			return "xsaveopt";
		return NULL;
	case 0x01:
		switch (code[i + 2]) {
		case 0xd0: return "xgetbv";
		case 0xd1: return "xsetbv";
		case 0xc1: return "vmcall";
		case 0xd9: return "vmmcall";
		}
		return NULL;
	}
	return NULL;
}
