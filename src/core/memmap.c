#include "core/memmap.h"

#include "core/errmsg.h"
#include "core/guest_abi.h"

uint64_t memmap_low_ram(uint64_t memory)
{
	return memory < MEMMAP_LOW_RAM_MAX ? memory : MEMMAP_LOW_RAM_MAX;
}

unsigned int memmap_build(uint64_t memory, struct memmap_entry *out)
{
	uint64_t low = memmap_low_ram(memory), high = memory - low;
	unsigned int n = 0;

	out[n++] = (struct memmap_entry){ 0, MPVM_EBDA_ADDR, MEMMAP_RAM };
	out[n++] = (struct memmap_entry){ MPVM_EBDA_ADDR, 0xa0000 - MPVM_EBDA_ADDR, MEMMAP_RESERVED };
	out[n++] = (struct memmap_entry){ MPVM_ACPI_ADDR, MPVM_GUEST_LOAD_ADDR - MPVM_ACPI_ADDR,
					  MEMMAP_RESERVED };
	out[n++] = (struct memmap_entry){ MPVM_GUEST_LOAD_ADDR, low - MPVM_GUEST_LOAD_ADDR, MEMMAP_RAM };
	if (high)
		out[n++] = (struct memmap_entry){ MEMMAP_HIGH_RAM_BASE, high, MEMMAP_RAM };
	return n;
}

int memmap_check_load(uint64_t a, uint64_t len, uint64_t memory, uint64_t low_free,
		      const char *what, char *err, size_t errlen)
{
	uint64_t low = memmap_low_ram(memory), high = memory - low;
	uint64_t end = a + len;

	if (end < a)
		return errmsg(err, errlen, "%s: address range wraps around", what);
	if (a < low_free && end > 0)
		return errmsg(err, errlen, "%s at 0x%llx-0x%llx overlaps mpvm's low memory "
			       "(IVT, BIOS data, boot GDT and boot information at 0x0-0x%llx)",
			       what, (unsigned long long)a, (unsigned long long)end,
			       (unsigned long long)low_free - 1);
	if (a < MPVM_GUEST_LOAD_ADDR && end > MPVM_EBDA_ADDR)
		return errmsg(err, errlen, "%s at 0x%llx-0x%llx overlaps mpvm's EBDA, ACPI and "
			       "MP tables (0x%x-0xfffff)", what, (unsigned long long)a,
			       (unsigned long long)end, MPVM_EBDA_ADDR);
	if (end <= low)
		return 0;
	if (a >= MEMMAP_HIGH_RAM_BASE && end - MEMMAP_HIGH_RAM_BASE <= high)
		return 0;
	return errmsg(err, errlen, "%s at 0x%llx-0x%llx is outside guest RAM "
		       "(%llu MiB: 0x0-0x%llx%s; try a larger --memory)",
		       what, (unsigned long long)a, (unsigned long long)end,
		       (unsigned long long)(memory >> 20), (unsigned long long)low,
		       high ? " and from 4 GiB" : "");
}
