/* A CPU topology for the firmware-table tests (test_acpi.c, test_mptable.c). */
#ifndef MPVM_TESTS_FW_TOPO_H
#define MPVM_TESTS_FW_TOPO_H

#include <string.h>

#include "core/firmware.h"

/* What the tests give the builders and expect back. */
#define TEST_IOAPIC_ID 0xfe
#define TEST_CPU_SIGNATURE 0x000806eau /* CPUID.1:EAX */
#define TEST_CPU_FEATURES 0x178bfbffu  /* CPUID.1:EDX */

struct topo {
	struct fw_topology t;
	uint32_t ids[FW_MAX_CPUS];
};

/* n vCPUs, vCPU `boot` the BSP, APIC IDs first, first + stride, ... */
static inline void make_topo(struct topo *tp, unsigned int n, unsigned int boot,
			     uint32_t first, uint32_t stride)
{
	memset(tp, 0, sizeof(*tp));
	for (unsigned int i = 0; i < n; i++)
		tp->ids[i] = first + i * stride;
	tp->t.ncpus = n;
	tp->t.apic_ids = tp->ids;
	tp->t.boot_cpu = boot;
	tp->t.ioapic_id = TEST_IOAPIC_ID;
	tp->t.cpu_signature = TEST_CPU_SIGNATURE;
	tp->t.cpu_features = TEST_CPU_FEATURES;
}

#endif
