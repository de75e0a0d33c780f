/*
 * What the firmware-table builders (acpi.c, mptable.c) need to know about
 * the machine, plus the two helpers they share. Pure C: the builders write
 * byte images into a caller's buffer, which the caller then copies to the
 * guest-physical address it passed in. No KVM or host headers here.
 */
#ifndef MPVM_CORE_FIRMWARE_H
#define MPVM_CORE_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "core/errmsg.h"

#define FW_LAPIC_ADDR  0xfee00000u
#define FW_IOAPIC_ADDR 0xfec00000u
#define FW_MAX_CPUS    1024u

/* The tables are laid out with native integer stores: x86 hosts only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");

struct fw_topology {
	unsigned int ncpus;        /* 1 .. FW_MAX_CPUS: present at boot, vCPUs 0 .. ncpus-1 */
	unsigned int maxcpus;      /* possible: 0 or ncpus, no CPU hotplug; above it, vCPUs
				    * ncpus .. maxcpus-1 are absent and hot-pluggable (ACPI) */
	const uint32_t *apic_ids;  /* apic_ids[i] = APIC ID of vCPU i (ACPI processor UID = i),
				    * for every possible vCPU */
	unsigned int boot_cpu;     /* index of the BSP (0..ncpus-1) */
	uint8_t ioapic_id;         /* ID of the single I/O APIC */
	uint32_t cpu_signature;    /* CPUID.1:EAX, for MP processor entries */
	uint32_t cpu_features;     /* CPUID.1:EDX, for MP processor entries */
};

/* Possible vCPUs, and whether some can be hot-plugged. */
static inline unsigned int fw_maxcpus(const struct fw_topology *t)
{
	return t->maxcpus > t->ncpus ? t->maxcpus : t->ncpus;
}

static inline int fw_hotplug(const struct fw_topology *t)
{
	return t->maxcpus > t->ncpus;
}

/*
 * The byte that makes the 8-bit sum of buf[0..len) zero. Call it with the
 * checksum field still zero, then store the result in that field.
 */
uint8_t fw_checksum(const void *buf, size_t len);

/*
 * Checks what both builders rely on: 1 <= ncpus <= FW_MAX_CPUS, maxcpus
 * 0 or ncpus to FW_MAX_CPUS, apic_ids given, boot_cpu < ncpus, APIC IDs unique and not 0xffffffff (the x2APIC
 * broadcast ID). Returns 0, or -1 with a one-line reason in err.
 */
int fw_topology_check(const struct fw_topology *t, char *err, size_t errlen);

#endif
