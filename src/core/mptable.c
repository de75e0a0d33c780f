/*
 * MP table builder: Intel MultiProcessor Specification, version 1.4 (May
 * 1997). Chapter 4 ("MP Configuration Table") gives every layout used here.
 *
 *   MP floating pointer structure (16 bytes) | MP configuration table
 *
 * The configuration table's base section lists, in the order of table 4-3
 * (entries sorted by type): processors, the ISA bus, the I/O APIC, I/O
 * interrupt assignments, local interrupt assignments. There is no
 * extended section.
 */
#include <string.h>

#include "core/mptable.h"

/* 4.1 MP Floating Pointer Structure (figure 4-2, table 4-1) */
struct mpf {
	char signature[4];         /* "_MP_" */
	uint32_t config;           /* physical address of the config table */
	uint8_t length;            /* in 16-byte paragraphs: 1 */
	uint8_t spec_rev;          /* 4: version 1.4 */
	uint8_t checksum;          /* all 16 bytes sum to zero */
	uint8_t feature1;          /* 0: a configuration table is present */
	uint8_t feature2;          /* bit 7 IMCRP clear: virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf) == 16, "MP floating pointer is 16 bytes");

/* 4.2 MP Configuration Table Header (figure 4-3, table 4-2) */
struct mpc_header {
	char signature[4];         /* "PCMP" */
	uint16_t base_length;      /* header plus base entries */
	uint8_t spec_rev;          /* 4 */
	uint8_t checksum;          /* over base_length bytes */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;      /* base section entries */
	uint32_t lapic_address;
	uint16_t ext_length;
	uint8_t ext_checksum;      /* over the extended section (empty: 0) */
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_header) == 44, "MP config table header is 44 bytes");

/* Base MP configuration table entry types, table 4-3 */
enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINT = 3, MP_LINT = 4 };

/* 4.3.1 Processor Entries (figure 4-4, table 4-4) */
struct mpc_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;             /* bit 0 EN, bit 1 BP */
	uint32_t signature;        /* CPUID.1:EAX */
	uint32_t features;         /* CPUID.1:EDX */
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry is 20 bytes");

#define MP_CPU_EN 0x01
#define MP_CPU_BP 0x02

/* 4.3.2 Bus Entries (figure 4-5, table 4-7); bus type strings, table 4-8 */
struct mpc_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];          /* blank-padded, "ISA   " */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "MP bus entry is 8 bytes");

/* 4.3.3 I/O APIC Entries (figure 4-6, table 4-9) */
struct mpc_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;             /* bit 0 EN */
	uint32_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP I/O APIC entry is 8 bytes");

#define MP_IOAPIC_EN 0x01

/*
 * 4.3.4 I/O Interrupt Assignment Entries (figure 4-7, table 4-10) and
 * 4.3.5 Local Interrupt Assignment Entries (figure 4-8, table 4-12): the
 * same layout; dst_id is the I/O APIC or local APIC ID, dst_pin its
 * INTIN or LINTIN number.
 */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irq_type;          /* table 4-11: 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t flags;            /* PO bits 1:0, EL bits 3:2; 0 = as the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_id;
	uint8_t dst_pin;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intsrc) == 8, "MP interrupt entry is 8 bytes");

enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define MP_IRQ_HIGH_LEVEL 0x000d   /* PO = 01 active high, EL = 11 level */
#define MP_ALL_LAPICS     0xff
#define MP_ISA_BUS        0
#define MP_SCI_IRQ        9        /* the ACPI SCI: see acpi.h */

/* ISA IRQs 0-15 except 2 (the cascade, which IRQ 0 takes the pin of). */
#define MP_NR_IOINTS 15

static void *entry(uint8_t **p, size_t len)
{
	void *e = *p;

	*p += len;
	return e;
}

static void ioint(uint8_t **p, uint8_t ioapic, uint8_t irq, uint8_t pin, uint16_t flags)
{
	struct mpc_intsrc *e = entry(p, sizeof(*e));

	e->type = MP_IOINT;
	e->irq_type = MP_INT;
	e->flags = flags;
	e->src_bus = MP_ISA_BUS;
	e->src_irq = irq;
	e->dst_id = ioapic;
	e->dst_pin = pin;
}

static void lint(uint8_t **p, uint8_t irq_type, uint8_t pin)
{
	struct mpc_intsrc *e = entry(p, sizeof(*e));

	e->type = MP_LINT;
	e->irq_type = irq_type;
	e->flags = 0;
	e->src_bus = MP_ISA_BUS;
	e->src_irq = 0;
	e->dst_id = MP_ALL_LAPICS;
	e->dst_pin = pin;
}

static void cpu(uint8_t **p, const struct fw_topology *t, unsigned int i)
{
	struct mpc_cpu *c = entry(p, sizeof(*c));

	c->type = MP_PROCESSOR;
	c->apic_id = (uint8_t)t->apic_ids[i];
	c->apic_version = MPTABLE_LAPIC_VERSION;
	c->flags = MP_CPU_EN | (i == t->boot_cpu ? MP_CPU_BP : 0);
	c->signature = t->cpu_signature;
	c->features = t->cpu_features;
}

long mptable_build(const struct fw_topology *t, void *buf, size_t size, uint64_t gpa,
		   char *err, size_t errlen)
{
	struct mpf *mpf = buf;
	struct mpc_header *h;
	struct mpc_bus *bus;
	struct mpc_ioapic *io;
	size_t base_len, end;
	unsigned int i, irq;
	uint8_t *p;

	if (fw_topology_check(t, err, errlen))
		return -1;
	for (i = 0; i < t->ncpus; i++)
		if (t->apic_ids[i] > MPTABLE_MAX_APIC_ID)
			return errmsg(err, errlen,
					"vCPU %u has APIC ID %u: an MP table can only describe APIC IDs 0-%u",
					i, t->apic_ids[i], MPTABLE_MAX_APIC_ID);
	/* 4 (Locating the floating pointer): it sits on a 16-byte boundary. */
	if (gpa & 15)
		return errmsg(err, errlen, "MP table: address 0x%llx not 16-byte aligned",
				(unsigned long long)gpa);

	base_len = sizeof(*h) + t->ncpus * sizeof(struct mpc_cpu) +
		   sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
		   (MP_NR_IOINTS + 2) * sizeof(struct mpc_intsrc);
	end = sizeof(*mpf) + base_len;
	if (!buf || size < end)
		return errmsg(err, errlen,
				"MP table for %u vCPUs needs %zu bytes, buffer has %zu",
				t->ncpus, end, buf ? size : 0);
	if (gpa + end > 0x100000000ull)
		return errmsg(err, errlen,
				"MP table at 0x%llx would cross 4 GiB (it holds 32-bit pointers)",
				(unsigned long long)gpa);
	memset(buf, 0, end);

	h = (struct mpc_header *)(mpf + 1);
	p = (uint8_t *)(h + 1);

	/* 4.3.1: processors; the BP flag marks the boot processor. */
	for (i = 0; i < t->ncpus; i++)
		cpu(&p, t, i);

	/* 4.3.2: one ISA bus, ID 0, the source bus of every interrupt. */
	bus = entry(&p, sizeof(*bus));
	bus->type = MP_BUS;
	bus->bus_id = MP_ISA_BUS;
	memcpy(bus->bus_type, "ISA   ", 6);

	/* 4.3.3 */
	io = entry(&p, sizeof(*io));
	io->type = MP_IOAPIC;
	io->id = t->ioapic_id;
	io->version = MPTABLE_IOAPIC_VERSION;
	io->flags = MP_IOAPIC_EN;
	io->address = FW_IOAPIC_ADDR;

	/* 4.3.4: ISA IRQs to I/O APIC pins. The PIT's IRQ 0 is on pin 2, as
	 * on PC chipsets (pin 0 would be the 8259's output), and IRQ 2 is the
	 * 8259 cascade, which never reaches the I/O APIC. The SCI is level
	 * triggered, active high, as the MADT's override says too. */
	ioint(&p, t->ioapic_id, 0, 2, 0);
	for (irq = 1; irq < 16; irq++)
		if (irq != 2)
			ioint(&p, t->ioapic_id, (uint8_t)irq, (uint8_t)irq,
			      irq == MP_SCI_IRQ ? MP_IRQ_HIGH_LEVEL : 0);

	/* 4.3.5 and 3.6.2.2 (virtual wire mode): the 8259 on every LINT0,
	 * NMI on every LINT1. */
	lint(&p, MP_EXTINT, 0);
	lint(&p, MP_NMI, 1);

	memcpy(h->signature, "PCMP", 4);
	h->base_length = (uint16_t)base_len;
	h->spec_rev = 4;
	memcpy(h->oem_id, "MPVM    ", 8);
	memcpy(h->product_id, "MPVM VMM    ", 12);
	h->entry_count = (uint16_t)(t->ncpus + 1 + 1 + MP_NR_IOINTS + 2);
	h->lapic_address = FW_LAPIC_ADDR;
	h->ext_length = 0;
	h->ext_checksum = 0; /* the 8-bit sum of no bytes */
	h->checksum = fw_checksum(h, base_len);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->config = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec_rev = 4;
	mpf->checksum = fw_checksum(mpf, sizeof(*mpf));

	return (long)end;
}
