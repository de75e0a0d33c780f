/* smbios.c: the SMBIOS tables, found as an OS without EFI finds them. */
#ifndef GUEST_SMBIOS_H
#define GUEST_SMBIOS_H

/*
 * Finds the 3.0 entry point in 0xf0000-0xfffff, checks it and walks the
 * structure table; prints one line (`mpvm-guest: SMBIOS 3.0 at ...`) or
 * says there is none. A malformed table, or processor counts that do not
 * add up to the CPUs in the ACPI/MP tables, is a FAIL.
 */
void smbios_report(void);

#endif
