/* Single-instruction helpers. General-purpose instructions only (KVM-PVM). */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include <stdbool.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

/*
 * WRMSR that may fault: the #GP handler (idt.c) resumes at the label after
 * the instruction when gp_fixup holds its address. False if it faulted.
 */
extern volatile uint64_t gp_fixup;
extern volatile int gp_seen;

static inline bool wrmsr_safe(uint32_t msr, uint64_t v)
{
	gp_seen = 0;
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %[fix]\n\twrmsr\n1:\n\tmovq $0, %[fix]"
			 : [fix] "=m"(gp_fixup)
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "r11", "memory");
	return !gp_seen;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/*
 * CPUID as KVM answers it from the VMM's table (KVM_SET_CPUID2). KVM-PVM
 * runs a guest at the hardware's CPL 3, where a plain CPUID need not trap
 * (it then returns the host CPU's values); PVM's synthetic CPUID, an INVLPG
 * of 0xffffffffff4d5650 right before the CPUID, always traps and goes to
 * KVM. At CPL 0 elsewhere the INVLPG only drops a TLB entry and the CPUID
 * is an ordinary one, which KVM always intercepts.
 */
static inline void cpuid_vmm(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile(".byte 0x0f, 0x01, 0x3c, 0x25, 0x50, 0x56, 0x4d, 0xff\n\tcpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub) : "memory");
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/*
 * A pointer to a guest-physical (= identity-mapped) address. The empty asm
 * hides the constant from GCC, which otherwise warns about dereferencing
 * small constant addresses such as the BIOS data area.
 */
static inline void *phys(uintptr_t addr)
{
	__asm__("" : "+r"(addr));
	return (void *)addr;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

#endif
