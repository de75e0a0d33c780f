/*
 * Names the instructions KVM's instruction emulator is known to lack, from
 * the bytes at the guest's RIP, so that an emulation failure says what the
 * guest tried (a guest kernel on a host that emulates guest code, such as
 * KVM-PVM, stops on them; hardware KVM runs them natively). KVM-free.
 */
#ifndef MPVM_CORE_X86_INSN_H
#define MPVM_CORE_X86_INSN_H

#include <stddef.h>
#include <stdint.h>

/*
 * The mnemonic ("lock cmpxchg16b", "xsave", "xrstor", ...) of the
 * instruction code[0..n) starts with, if it is one of those; else NULL.
 */
const char *x86_insn_unemulated(const uint8_t *code, size_t n);

#endif
