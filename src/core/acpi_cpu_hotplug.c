/*
 * The DSDT side of QEMU's CPU hotplug interface (acpi_cpu_hotplug.h): the
 * ASL below is what these functions emit (iasl -d gives it back), written
 * from the interface's register description; Linux's ACPI processor and
 * container drivers take it as they take QEMU's.
 *
 *   Device (CPUS) {                          // ACPI 6.3 §8.4.2: processor container
 *     Name (_HID, "ACPI0010")  Name (_CID, EisaId ("PNP0A05"))
 *     Mutex (CPLK, 0)                        // one user of the selector at a time
 *     OperationRegion (PRST, SystemIO, 0x0CD8, 0x0C)
 *     Field (PRST, ByteAcc, NoLock, WriteAsZeros) {
 *       Offset (4), CPEN, 1, CINS, 1, CRMV, 1, CEJ0, 1, CEJF, 1, , 3, CCMD, 8 }
 *     Field (PRST, DWordAcc, NoLock, Preserve) { CSEL, 32, , 32, CDAT, 32 }
 *     Method (CSTA, 1, Serialized) {         // _STA of CPU Arg0: 0xF present, 0 absent
 *       Acquire (CPLK, 0xFFFF)  CSEL = Arg0  Local0 = Zero
 *       If (CPEN == One) { Local0 = 0x0F }
 *       Release (CPLK)  Return (Local0) }
 *     Method (CEJM, 1, Serialized) {         // _EJ0: the OS has offlined it
 *       Acquire (CPLK, 0xFFFF)  CSEL = Arg0  CEJ0 = One  Release (CPLK) }
 *     Method (COST, 3, Serialized) {         // _OST (CPU, event, status); no use for its info
 *       Acquire (CPLK, 0xFFFF)  CSEL = Arg0
 *       CCMD = One  CDAT = Arg1  CCMD = 2  CDAT = Arg2  Release (CPLK) }
 *     Method (CTFY, 2, NotSerialized) {      // Notify (CPU Arg0, Arg1)
 *       If (Arg0 == Zero) { Notify (C000, Arg1) } ... one per CPU }
 *     Method (CSCN, 0, Serialized) {         // the GPE's scan
 *       Acquire (CPLK, 0xFFFF)  Local0 = One
 *       While (Local0 == One) {
 *         Local0 = Zero  CCMD = Zero         // select the next CPU with an event
 *         If (CINS == One) { CTFY (CDAT, One)  CINS = One  Local0 = One }   // Device Check
 *         Else { If (CRMV == One) { CTFY (CDAT, 3)  CRMV = One  Local0 = One } } // Eject Request
 *       }
 *       Release (CPLK) }
 *     Device (C000) {
 *       Name (_HID, "ACPI0007")  Name (_UID, Zero)
 *       Method (_STA, 0, NotSerialized) { Return (CSTA (Zero)) }
 *       Name (_MAT, Buffer (0x08) { ... })   // its MADT entry, Enabled (§6.2.10)
 *       Method (_EJ0, 1, NotSerialized) { CEJM (Zero) }  // not on the boot CPU
 *       Method (_OST, 3, NotSerialized) { COST (Zero, Arg0, Arg1) } }
 *     ...
 *   }
 *   Scope (\_GPE) { Method (_E02, 0, NotSerialized) { \_SB.CPUS.CSCN () } }
 *
 * The scan clears each event (writes 1 to CINS or CRMV) after its Notify,
 * and loops until command 0 finds no CPU with an event. Notify is queued
 * by OSPM and runs after the scan has let go of CPLK (ACPI 6.3 §5.6.6), so
 * the notified _STA cannot deadlock on it.
 */
#include <stdio.h>

#include "core/acpi.h"
#include "core/acpi_cpu_hotplug.h"
#include "core/aml.h"
#include "core/firmware.h"

#define LOCAL0 (AML_LOCAL0_OP + 0)
#define ARG(n) ((uint8_t)(AML_ARG0_OP + (n)))

static void acquire(struct aml *a)
{
	aml_ext(a, AML_ACQUIRE_OP);
	aml_name(a, "CPLK");
	aml_bytes(a, &(uint16_t){ 0xffff }, 2); /* Timeout: WordData, wait forever */
}

static void release(struct aml *a)
{
	aml_ext(a, AML_RELEASE_OP);
	aml_name(a, "CPLK");
}

/* Store (Integer, Name) */
static void store_int(struct aml *a, uint32_t v, const char *name)
{
	aml_byte(a, AML_STORE_OP);
	aml_integer(a, v);
	aml_name(a, name);
}

/* Store (ArgN, Name) */
static void store_arg(struct aml *a, unsigned int n, const char *name)
{
	aml_byte(a, AML_STORE_OP);
	aml_byte(a, ARG(n));
	aml_name(a, name);
}

/* Store (Integer, Local0) */
static void local0_set(struct aml *a, uint32_t v)
{
	aml_byte(a, AML_STORE_OP);
	aml_integer(a, v);
	aml_byte(a, LOCAL0);
}

/* If (LEqual (Name, One)) {: close with aml_close(). */
static size_t if_name_is_one(struct aml *a, const char *name)
{
	size_t i;

	aml_byte(a, AML_IF_OP);
	i = aml_open(a);
	aml_byte(a, AML_LEQUAL_OP);
	aml_name(a, name);
	aml_integer(a, 1);
	return i;
}

/* One FieldUnit: NameSeg then its width in bits (a PkgLength-coded number, < 64 here). */
static void field_unit(struct aml *a, const char *name, uint8_t bits)
{
	if (name)
		aml_name(a, name);
	else
		aml_byte(a, 0x00); /* ReservedField */
	aml_byte(a, bits);
}

static void cpu_name(char name[5], unsigned int i)
{
	static const char hex[] = "0123456789ABCDEF";

	name[0] = 'C';
	name[1] = hex[(i >> 8) & 0xf];
	name[2] = hex[(i >> 4) & 0xf];
	name[3] = hex[i & 0xf];
	name[4] = 0;
}

static void cpu_device(struct aml *a, const struct fw_topology *t, unsigned int i)
{
	uint8_t mat[16];
	size_t dev, m, n;
	char name[5];

	cpu_name(name, i);
	aml_ext(a, AML_DEVICE_OP);
	dev = aml_open(a);
	aml_name(a, name);
	aml_name_string(a, "_HID", "ACPI0007");
	aml_name_int(a, "_UID", i);

	m = aml_method(a, "_STA", 0, 0);
	aml_byte(a, AML_RETURN_OP);
	aml_name(a, "CSTA");
	aml_integer(a, i);
	aml_close(a, m);

	/* _MAT (ACPI 6.3 §6.2.10): the MADT entry with Enabled set, which is
	 * where an OS finds a hot-added CPU's APIC ID. */
	n = acpi_madt_cpu_entry(t, i, 1u << 0, mat);
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_MAT");
	aml_buffer(a, mat, n);

	if (i != t->boot_cpu) {
		m = aml_method(a, "_EJ0", 1, 0);
		aml_name(a, "CEJM");
		aml_integer(a, i);
		aml_close(a, m);
	}

	m = aml_method(a, "_OST", 3, 0);
	aml_name(a, "COST");
	aml_integer(a, i);
	aml_byte(a, ARG(0));
	aml_byte(a, ARG(1));
	aml_close(a, m);
	aml_close(a, dev);
}

void acpi_cpu_hotplug_aml(struct aml *a, const struct fw_topology *t)
{
	unsigned int i, maxcpus = t->maxcpus > t->ncpus ? t->maxcpus : t->ncpus;
	size_t dev, f, m, w, b, e;

	aml_ext(a, AML_DEVICE_OP);
	dev = aml_open(a);
	aml_name(a, "CPUS");
	aml_name_string(a, "_HID", "ACPI0010");
	aml_name_int(a, "_CID", 0x050ad041u); /* EisaId ("PNP0A05"): a generic container */

	aml_ext(a, AML_MUTEX_OP);
	aml_name(a, "CPLK");
	aml_byte(a, 0); /* SyncLevel 0 */

	aml_ext(a, AML_OPREGION_OP);
	aml_name(a, "PRST");
	aml_byte(a, AML_SPACE_SYSTEM_IO);
	aml_integer(a, ACPI_CPU_HOTPLUG_BASE);
	aml_integer(a, ACPI_CPU_HOTPLUG_LEN);

	/* WriteAsZeros: writing one of the event bits must not write back the
	 * others as read (bit 0 reads "enabled" but must be written 0). */
	aml_ext(a, AML_FIELD_OP);
	f = aml_open(a);
	aml_name(a, "PRST");
	aml_byte(a, AML_FIELD_BYTE_ACC | AML_FIELD_WRITE_ZEROS);
	field_unit(a, NULL, 8 * CPUHP_OFF_STS);
	field_unit(a, "CPEN", 1);
	field_unit(a, "CINS", 1);
	field_unit(a, "CRMV", 1);
	field_unit(a, "CEJ0", 1);
	field_unit(a, "CEJF", 1);
	field_unit(a, NULL, 3);
	field_unit(a, "CCMD", 8);
	aml_close(a, f);

	aml_ext(a, AML_FIELD_OP);
	f = aml_open(a);
	aml_name(a, "PRST");
	aml_byte(a, AML_FIELD_DWORD_ACC | AML_FIELD_PRESERVE);
	field_unit(a, "CSEL", 32);
	field_unit(a, NULL, 8 * (CPUHP_OFF_DATA - 4));
	field_unit(a, "CDAT", 32);
	aml_close(a, f);

	m = aml_method(a, "CSTA", 1, 1);
	acquire(a);
	store_arg(a, 0, "CSEL");
	local0_set(a, 0);
	b = if_name_is_one(a, "CPEN");
	local0_set(a, 0x0f);
	aml_close(a, b);
	release(a);
	aml_byte(a, AML_RETURN_OP);
	aml_byte(a, LOCAL0);
	aml_close(a, m);

	m = aml_method(a, "CEJM", 1, 1);
	acquire(a);
	store_arg(a, 0, "CSEL");
	store_int(a, 1, "CEJ0");
	release(a);
	aml_close(a, m);

	m = aml_method(a, "COST", 3, 1);
	acquire(a);
	store_arg(a, 0, "CSEL");
	store_int(a, CPUHP_CMD_OST_EVENT, "CCMD");
	store_arg(a, 1, "CDAT");
	store_int(a, CPUHP_CMD_OST_STATUS, "CCMD");
	store_arg(a, 2, "CDAT");
	release(a);
	aml_close(a, m);

	m = aml_method(a, "CTFY", 2, 0);
	for (i = 0; i < maxcpus; i++) {
		char name[5];

		cpu_name(name, i);
		aml_byte(a, AML_IF_OP);
		b = aml_open(a);
		aml_byte(a, AML_LEQUAL_OP);
		aml_byte(a, ARG(0));
		aml_integer(a, i);
		aml_byte(a, AML_NOTIFY_OP);
		aml_name(a, name);
		aml_byte(a, ARG(1));
		aml_close(a, b);
	}
	aml_close(a, m);

	m = aml_method(a, "CSCN", 0, 1);
	acquire(a);
	local0_set(a, 1);
	aml_byte(a, AML_WHILE_OP);
	w = aml_open(a);
	aml_byte(a, AML_LEQUAL_OP);
	aml_byte(a, LOCAL0);
	aml_integer(a, 1);
	local0_set(a, 0);
	store_int(a, CPUHP_CMD_NEXT_EVENT, "CCMD");
	b = if_name_is_one(a, "CINS");
	aml_name(a, "CTFY");
	aml_name(a, "CDAT");
	aml_integer(a, ACPI_NOTIFY_DEVICE_CHECK);
	store_int(a, 1, "CINS");
	local0_set(a, 1);
	aml_close(a, b);
	aml_byte(a, AML_ELSE_OP);
	e = aml_open(a);
	b = if_name_is_one(a, "CRMV");
	aml_name(a, "CTFY");
	aml_name(a, "CDAT");
	aml_integer(a, ACPI_NOTIFY_EJECT_REQUEST);
	store_int(a, 1, "CRMV");
	local0_set(a, 1);
	aml_close(a, b);
	aml_close(a, e);
	aml_close(a, w);
	release(a);
	aml_close(a, m);

	for (i = 0; i < maxcpus; i++)
		cpu_device(a, t, i);
	aml_close(a, dev);
}

void acpi_cpu_hotplug_gpe_aml(struct aml *a)
{
	char name[5];
	size_t s, m;

	aml_byte(a, AML_SCOPE_OP);
	s = aml_open(a);
	aml_name(a, "\\_GPE");
	snprintf(name, sizeof(name), "_E%02X", ACPI_GPE_CPU_HOTPLUG);
	m = aml_method(a, name, 0, 0);
	aml_name(a, "\\_SB.CPUS.CSCN");
	aml_close(a, m);
	aml_close(a, s);
}
