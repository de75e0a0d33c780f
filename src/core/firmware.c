/* Helpers shared by the ACPI and MP table builders (see firmware.h). */
#include <stdarg.h>
#include <stdio.h>

#include "core/firmware.h"

uint8_t fw_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

int fw_topology_check(const struct fw_topology *t, char *err, size_t errlen)
{
	unsigned int i, j;

	if (!t || !t->apic_ids)
		return errmsg(err, errlen, "no CPU topology given");
	if (t->ncpus < 1 || t->ncpus > FW_MAX_CPUS)
		return errmsg(err, errlen, "%u vCPUs: must be 1 to %u",
				t->ncpus, FW_MAX_CPUS);
	if (t->maxcpus > FW_MAX_CPUS || (t->maxcpus && t->maxcpus < t->ncpus))
		return errmsg(err, errlen, "maxcpus %u: must be %u to %u",
				t->maxcpus, t->ncpus, FW_MAX_CPUS);
	if (t->boot_cpu >= t->ncpus)
		return errmsg(err, errlen, "boot vCPU %u out of range (%u vCPUs)",
				t->boot_cpu, t->ncpus);
	/* Quadratic, but at most half a million compares, once per boot. */
	for (i = 0; i < fw_maxcpus(t); i++) {
		if (t->apic_ids[i] == 0xffffffffu)
			return errmsg(err, errlen,
					"vCPU %u: APIC ID 0xffffffff is the broadcast ID", i);
		for (j = 0; j < i; j++)
			if (t->apic_ids[j] == t->apic_ids[i])
				return errmsg(err, errlen,
						"vCPUs %u and %u have the same APIC ID %u",
						j, i, t->apic_ids[i]);
	}
	return 0;
}
