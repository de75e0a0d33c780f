/*
 * Reading the SMBIOS tables back the way an OS without EFI does (DSP0134
 * 3.0 §5.2.2: the "_SM3_" anchor on a 16-byte boundary in 0xf0000-0xfffff),
 * to check what mpvm placed: the entry point's checksum and the frame of
 * every structure (§6.1.2 header, §6.1.3 string set ending in a double
 * NUL), the processor structures' counts (§7.5) against the CPUs the ACPI
 * or MP tables list, and the memory device's size (§7.18.5).
 */
#include "guest.h"
#include "smbios.h"

#define SCAN_START 0xf0000
#define SCAN_END   0x100000

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static const uint8_t *find_entry(void)
{
	for (uintptr_t a = SCAN_START; a + 24 <= SCAN_END; a += 16)
		if (!memcmp((const void *)a, "_SM3_", 5))
			return (const uint8_t *)a;
	return NULL;
}

void smbios_report(void)
{
	const uint8_t *ep = find_entry(), *t, *p, *end;
	unsigned structs = 0, sockets = 0, enabled_sockets = 0, all_cores_on = 1;
	uint64_t cores = 0, threads = 0, mem_mib = 0, addr;
	uint32_t len;
	uint8_t sum = 0;

	if (!ep) {
		gprintf("mpvm-guest: no SMBIOS entry point in 0xf0000-0xfffff\n");
		return;
	}
	for (unsigned i = 0; i < ep[6] && i < 32; i++)
		sum += ep[i];
	if (ep[6] != 0x18 || sum || ep[7] != 3) {
		FAIL("SMBIOS entry point at 0x%lx: length %u, checksum %s, version %u.%u\n",
		     (uint64_t)(uintptr_t)ep, ep[6], sum ? "bad" : "good", ep[7], ep[8]);
		return;
	}
	addr = rd64(ep + 0x10);
	len = rd32(ep + 0x0c);
	if (addr >= (1ull << 32) || addr + len > (1ull << 32) || len < 4) {
		FAIL("SMBIOS structure table at 0x%lx, %u bytes: not where this guest can read it\n",
		     addr, len);
		return;
	}
	t = (const uint8_t *)(uintptr_t)addr;
	end = t + len;
	for (p = t; p + 4 <= end;) {
		const uint8_t *q = p + p[1];

		if (p[1] < 4 || q + 2 > end) {
			FAIL("SMBIOS structure %u (type %u) runs past the table\n", structs, p[0]);
			return;
		}
		/* The string set: strings, each NUL-terminated, then a NUL (two if none). */
		if (!q[0])
			q += 2;
		else {
			while (q < end && *q)
				q += strlen((const char *)q) + 1;
			q++;
		}
		if (q > end) {
			FAIL("SMBIOS structure %u (type %u): its strings run past the table\n", structs, p[0]);
			return;
		}
		structs++;
		if (p[0] == 4 && p[1] >= 0x30) {
			unsigned c = rd16(p + 0x2a), ce = rd16(p + 0x2c), th = rd16(p + 0x2e);

			sockets++;
			cores += c;
			threads += th;
			if ((p[0x18] & 7) == 1)
				enabled_sockets++;
			if (ce != c)
				all_cores_on = 0;
		}
		if (p[0] == 17 && p[1] >= 0x20) {
			uint16_t sz = rd16(p + 0x0c);

			mem_mib += sz == 0x7fff ? (rd32(p + 0x1c) & 0x7fffffff)
			       : sz & 0x8000 ? 0 : sz;
		}
		if (p[0] == 127)
			break;
		p = q;
	}
	if (p + 4 > end || p[0] != 127) {
		FAIL("SMBIOS table at 0x%lx: no End-of-Table structure in its %u bytes\n", addr, len);
		return;
	}
	gprintf("mpvm-guest: SMBIOS 3.0 at 0x%lx, table at 0x%lx (%u bytes): %u structures, "
		"%u processor sockets (%u enabled), %lu cores, %lu threads, %lu MiB of memory devices\n",
		(uint64_t)(uintptr_t)ep, addr, len, structs, sockets, enabled_sockets, cores, threads,
		mem_mib);
	/* Every socket's cores on: its thread count is all there, so they must add up. */
	if (all_cores_on && enabled_sockets == sockets && threads != cpus.n)
		FAIL("SMBIOS lists %lu threads, the %s %u CPUs\n", threads, cpus.source, cpus.n);
}
