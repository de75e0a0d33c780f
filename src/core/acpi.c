/*
 * ACPI table builder. Section and table numbers are from the ACPI 6.3
 * specification (January 2019); the layouts are those of ACPI 6.x.
 *
 * Layout in the buffer (each table 16-byte aligned, FACS 64-byte aligned,
 * alignment taken relative to the guest-physical address):
 *
 *   RSDP | RSDT | XSDT | FADT | FACS | DSDT | MADT
 *
 * The RSDT and XSDT list the FADT and MADT; the FADT points at the FACS and
 * DSDT. Everything is built in one pass after a sizing pass, so a buffer
 * that is too small is reported with the size it would have needed.
 */
#include <string.h>

#include "core/acpi.h"
#include "core/acpi_cpu_hotplug.h"
#include "core/aml.h"

#define ACPI_OEM_ID        "MPVM  "   /* 6 bytes */
#define ACPI_OEM_TABLE_ID  "MPVMVMM "  /* 8 bytes */
#define ACPI_CREATOR_ID    "MPVM"
#define ACPI_OEM_REVISION  1
#define ACPI_CREATOR_REV   1

/* 5.2.5.3 Root System Description Pointer (RSDP) Structure */
struct acpi_rsdp {
	char signature[8];         /* "RSD PTR " */
	uint8_t checksum;          /* over the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;          /* 2: ACPI 2.0+ layout with the XSDT */
	uint32_t rsdt_address;
	uint32_t length;           /* of this whole structure, 36 */
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");

/* 5.2.6 System Description Table Header */
struct acpi_header {
	char signature[4];
	uint32_t length;           /* of the whole table, this header included */
	uint8_t revision;
	uint8_t checksum;          /* the whole table sums to zero */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header is 36 bytes");

/* 5.2.3.2 Generic Address Structure (GAS) */
struct acpi_gas {
	uint8_t space_id;          /* 1: system I/O space */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;       /* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");

#define ACPI_GAS_IO     1
#define ACPI_ACCESS_BYTE  1
#define ACPI_ACCESS_WORD  2
#define ACPI_ACCESS_DWORD 3

/* 5.2.9 Fixed ACPI Description Table (FADT), revision 6 (ACPI 6.x) */
struct acpi_fadt {
	struct acpi_header h;      /* "FACP" */
	uint32_t firmware_ctrl;    /* FACS, 32-bit */
	uint32_t dsdt;
	uint8_t reserved0;         /* INT_MODEL in ACPI 1.0 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

/* 5.2.9 Fixed ACPI Description Table Fixed Feature Flags */
#define FADT_F_WBINVD        (1u << 0)
#define FADT_F_PROC_C1       (1u << 2)
#define FADT_F_SLP_BUTTON    (1u << 5)  /* set: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
/* 5.2.9.3 IA-PC Boot Architecture Flags */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042           (1u << 1)

/* 5.2.10 Firmware ACPI Control Structure (FACS) */
struct acpi_facs {
	char signature[4];         /* "FACS" */
	uint32_t length;           /* 64 */
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;           /* 2 */
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");

/* 5.2.12 Multiple APIC Description Table (MADT) */
struct acpi_madt {
	struct acpi_header h;      /* "APIC" */
	uint32_t lapic_address;
	uint32_t flags;            /* bit 0 PCAT_COMPAT: there are 8259s too */
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header is 44 bytes");

/* Interrupt controller structure types */
enum {
	MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4,
	MADT_X2APIC = 9, MADT_X2APIC_NMI = 10,
};

/* 5.2.12.2 Processor Local APIC Structure */
struct madt_lapic {
	uint8_t type, length;
	uint8_t uid;               /* ACPI Processor UID: the _UID in the DSDT */
	uint8_t apic_id;
	uint32_t flags;            /* bit 0 Enabled */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC entry is 8 bytes");

/* 5.2.12.3 I/O APIC Structure */
struct madt_ioapic {
	uint8_t type, length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC entry is 12 bytes");

/* 5.2.12.5 Interrupt Source Override Structure */
struct madt_iso {
	uint8_t type, length;
	uint8_t bus;               /* 0: ISA */
	uint8_t source;            /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;            /* MPS INTI flags */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "MADT override entry is 10 bytes");

/* 5.2.12.7 Local APIC NMI Structure */
struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t uid;               /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI entry is 6 bytes");

/* 5.2.12.12 Processor Local x2APIC Structure */
struct madt_x2apic {
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;            /* as in the Local APIC structure */
	uint32_t uid;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_x2apic) == 16, "MADT x2APIC entry is 16 bytes");

/* 5.2.12.13 Local x2APIC NMI Structure */
struct madt_x2apic_nmi {
	uint8_t type, length;
	uint16_t flags;
	uint32_t uid;              /* 0xffffffff: all processors */
	uint8_t lint;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct madt_x2apic_nmi) == 12, "MADT x2APIC NMI entry is 12 bytes");

#define MADT_PCAT_COMPAT   (1u << 0)
#define MADT_CPU_ENABLED   (1u << 0)
#define MADT_CPU_ONLINE_CAPABLE (1u << 1) /* ACPI 6.3 */
/* 5.2.12.5 MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2 */
#define MPS_INTI_HIGH      0x1
#define MPS_INTI_EDGE      (0x1 << 2)
#define MPS_INTI_LEVEL     (0x3 << 2)

/*
 * A Local APIC structure has 8-bit APIC ID and UID fields, and UID 0xff is
 * the "all processors" value of the Local APIC NMI structure. Any vCPU that
 * does not fit (ACPI 6.3 5.2.12.12 wants x2APIC structures for APIC IDs
 * >= 255) is described by a Local x2APIC structure instead.
 */
static int cpu_needs_x2apic(const struct fw_topology *t, unsigned int i)
{
	return t->apic_ids[i] >= 0xff || i >= 0xff;
}

/*
 * The DSDT body (after the table header):
 *
 *   Name (\_S5, Package () { 5, 5, 0, 0 })
 *   Scope (\_SB) {
 *       Device (C000) { Name (_HID, "ACPI0007") Name (_UID, 0) }
 *       ...one per vCPU, C000..C3FF, _UID = vCPU index = MADT UID
 *   }
 *
 * or, when CPUs can be hot-plugged (maxcpus above ncpus), Scope (\_SB)
 * holds QEMU's CPU hotplug container \_SB.CPUS with a device per possible
 * CPU, and Scope (\_GPE) its GPE handler (acpi_cpu_hotplug.c).
 *
 * \_S5 (7.4.2, \_Sx System States): SLP_TYPa, SLP_TYPb, two reserved.
 * ACPI0007 processor devices (8.4 Declaring Processors): Processor() is
 * deprecated since ACPI 6.0, and devices work for any UID width.
 */
static void dsdt_body(struct aml *a, const struct fw_topology *t)
{
	size_t pkg, scope, dev;
	unsigned int i;

	aml_byte(a, AML_NAME_OP);
	aml_name(a, "\\_S5_");
	aml_byte(a, AML_PACKAGE_OP);
	pkg = aml_open(a);
	aml_byte(a, 4); /* NumElements */
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a, pkg);

	aml_byte(a, AML_SCOPE_OP);
	scope = aml_open(a);
	aml_name(a, "\\_SB_");
	if (fw_hotplug(t)) {
		acpi_cpu_hotplug_aml(a, t);
		aml_close(a, scope);
		acpi_cpu_hotplug_gpe_aml(a);
		return;
	}
	for (i = 0; i < t->ncpus; i++) {
		static const char hex[] = "0123456789ABCDEF";
		char name[5] = { 'C', hex[(i >> 8) & 0xf], hex[(i >> 4) & 0xf],
				 hex[i & 0xf], 0 };

		aml_ext(a, AML_DEVICE_OP);
		dev = aml_open(a);
		aml_name(a, name);
		aml_name_string(a, "_HID", "ACPI0007");
		aml_name_int(a, "_UID", i);
		aml_close(a, dev);
	}
	aml_close(a, scope);
}

/* ------------------------------------------------------------------------ */

static size_t dsdt_size(const struct fw_topology *t)
{
	struct aml a = { 0 };

	dsdt_body(&a, t);
	return sizeof(struct acpi_header) + a.len;
}

static size_t madt_size(const struct fw_topology *t)
{
	size_t len = sizeof(struct acpi_madt);
	int x2 = 0;
	unsigned int i;

	for (i = 0; i < fw_maxcpus(t); i++) {
		if (cpu_needs_x2apic(t, i)) {
			len += sizeof(struct madt_x2apic);
			x2 = 1;
		} else {
			len += sizeof(struct madt_lapic);
		}
	}
	len += sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
	       sizeof(struct madt_lapic_nmi);
	if (x2)
		len += sizeof(struct madt_x2apic_nmi);
	return len;
}

static void header_init(struct acpi_header *h, const char *sig, size_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REV;
}

/* Last step for a table: every byte is in place, the checksum is zero. */
static void header_sum(struct acpi_header *h)
{
	h->checksum = fw_checksum(h, h->length);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bytes, uint8_t access)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_IO,
		.bit_width = (uint8_t)(bytes * 8),
		.access_size = access,
		.address = port,
	};
}

static void build_fadt(struct acpi_fadt *f, uint64_t facs, uint64_t dsdt)
{
	header_init(&f->h, "FACP", sizeof(*f), 6);
	/*
	 * 5.2.9: FIRMWARE_CTRL must be zero when X_FIRMWARE_CTRL is set, so
	 * the FACS (always below 4 GiB here) goes in the 32-bit field only.
	 * The DSDT may be in both; an OS that reads X_DSDT ignores DSDT.
	 */
	f->firmware_ctrl = (uint32_t)facs;
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	/* No SMI command port: the hardware is always in ACPI mode (SCI_EN
	 * reads 1), so there is nothing for ACPI_ENABLE/DISABLE to do. */
	f->smi_cmd = 0;

	f->pm1a_evt_blk = ACPI_PM1_EVT_BLK;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = ACPI_PM1_CNT_BLK;
	f->pm1_cnt_len = 2;
	f->pm_tmr_blk = ACPI_PM_TMR_BLK;
	f->pm_tmr_len = 4;
	/* The same blocks as GAS; bit widths must match the lengths above. */
	f->x_pm1a_evt_blk = gas_io(ACPI_PM1_EVT_BLK, 4, ACPI_ACCESS_WORD);
	f->x_pm1a_cnt_blk = gas_io(ACPI_PM1_CNT_BLK, 2, ACPI_ACCESS_WORD);
	f->x_pm_tmr_blk = gas_io(ACPI_PM_TMR_BLK, 4, ACPI_ACCESS_DWORD);
	/* 4.8.4.1 General-Purpose Event Register Blocks: GPE0_STS then
	 * GPE0_EN, each half of GPE0_BLK_LEN; GPE 2 is CPU hotplug. */
	f->gpe0_blk = ACPI_GPE0_BLK;
	f->gpe0_blk_len = ACPI_GPE0_BLK_LEN;
	f->x_gpe0_blk = gas_io(ACPI_GPE0_BLK, ACPI_GPE0_BLK_LEN, ACPI_ACCESS_BYTE);

	/* No C2/C3: latencies above 100/1000 us say "not supported". */
	f->p_lvl2_lat = 101;
	f->p_lvl3_lat = 1001;

	/* 5.2.9: the RTC's century register in CMOS RAM (devices/rtc.h). */
	f->century = ACPI_RTC_CENTURY;
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042;
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
		   FADT_F_RESET_REG_SUP;
	/* Reset through the PIIX/ICH-style reset control register at 0xcf9,
	 * the one register every PC OS already knows. */
	f->reset_reg = gas_io(ACPI_RESET_PORT, 1, ACPI_ACCESS_BYTE);
	f->reset_value = ACPI_RESET_VALUE;
	f->minor_version = 3; /* ACPI 6.3 */
	header_sum(&f->h);
}

static void build_facs(struct acpi_facs *facs)
{
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
}

static void build_dsdt(void *at, size_t len, const struct fw_topology *t)
{
	struct acpi_header *h = at;
	struct aml a = { (uint8_t *)at + sizeof(*h), len - sizeof(*h), 0 };

	header_init(h, "DSDT", len, 2); /* revision 2: 64-bit AML integers */
	dsdt_body(&a, t);
	header_sum(h);
}

/* Appends one MADT entry of the given size at *p; returns it zeroed. */
static void *madt_entry(uint8_t **p, uint8_t type, size_t len)
{
	uint8_t *e = *p;

	memset(e, 0, len);
	e[0] = type;
	e[1] = (uint8_t)len;
	*p += len;
	return e;
}

size_t acpi_madt_cpu_entry(const struct fw_topology *t, unsigned int i, uint32_t flags,
			   uint8_t out[16])
{
	if (cpu_needs_x2apic(t, i)) {
		struct madt_x2apic x = { .type = MADT_X2APIC, .length = sizeof(x),
					 .x2apic_id = t->apic_ids[i], .flags = flags, .uid = i };

		memcpy(out, &x, sizeof(x));
		return sizeof(x);
	} else {
		struct madt_lapic l = { .type = MADT_LAPIC, .length = sizeof(l), .uid = (uint8_t)i,
					.apic_id = (uint8_t)t->apic_ids[i], .flags = flags };

		memcpy(out, &l, sizeof(l));
		return sizeof(l);
	}
}

/*
 * A present vCPU is Enabled; a possible one (hot-pluggable, maxcpus) is
 * Online Capable: ACPI 6.3 §5.2.12.2 Table 5-47 allows that bit only where
 * Enabled is clear, and only in a MADT of revision 5 or later (this one's).
 */
static void madt_cpu(uint8_t **p, const struct fw_topology *t, unsigned int i)
{
	uint32_t flags = i < t->ncpus ? MADT_CPU_ENABLED : MADT_CPU_ONLINE_CAPABLE;

	*p += acpi_madt_cpu_entry(t, i, flags, *p);
}

static void madt_iso(uint8_t **p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	struct madt_iso *o = madt_entry(p, MADT_ISO, sizeof(*o));

	o->bus = 0;
	o->source = irq;
	o->gsi = gsi;
	o->flags = flags;
}

static void build_madt(void *at, size_t len, const struct fw_topology *t)
{
	struct acpi_madt *m = at;
	uint8_t *p = (uint8_t *)at + sizeof(*m);
	struct madt_ioapic *io;
	struct madt_lapic_nmi *nmi;
	unsigned int i;
	int x2 = 0;

	header_init(&m->h, "APIC", len, 5); /* revision 5: ACPI 6.3 */
	m->lapic_address = FW_LAPIC_ADDR;
	m->flags = MADT_PCAT_COMPAT;

	/* 5.2.12.1: the boot processor's entry comes first. */
	madt_cpu(&p, t, t->boot_cpu);
	for (i = 0; i < fw_maxcpus(t); i++)
		if (i != t->boot_cpu)
			madt_cpu(&p, t, i);
	for (i = 0; i < fw_maxcpus(t); i++)
		x2 |= cpu_needs_x2apic(t, i);

	io = madt_entry(&p, MADT_IOAPIC, sizeof(*io));
	io->id = t->ioapic_id;
	io->address = FW_IOAPIC_ADDR;
	io->gsi_base = 0;

	/* 5.2.12.5: the PIT (ISA IRQ 0) is on I/O APIC pin 2, as on real
	 * PCs; the SCI is a shareable level-triggered, active-high line. */
	madt_iso(&p, 0, 2, 0);
	madt_iso(&p, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_INTI_LEVEL | MPS_INTI_HIGH);

	/* LINT1 of every local APIC is wired to NMI (edge, active high). */
	nmi = madt_entry(&p, MADT_LAPIC_NMI, sizeof(*nmi));
	nmi->uid = 0xff;
	nmi->flags = MPS_INTI_EDGE | MPS_INTI_HIGH;
	nmi->lint = 1;
	if (x2) {
		/* 5.2.12.13: processors described by x2APIC structures take
		 * their NMI wiring from the x2APIC NMI structure. */
		struct madt_x2apic_nmi *xn =
			madt_entry(&p, MADT_X2APIC_NMI, sizeof(*xn));

		xn->uid = 0xffffffffu;
		xn->flags = MPS_INTI_EDGE | MPS_INTI_HIGH;
		xn->lint = 1;
	}
	header_sum(&m->h);
}

/* The smallest offset >= off whose guest-physical address is aligned. */
static size_t place(size_t off, uint64_t gpa, size_t align)
{
	uint64_t a = gpa + off;

	return off + (size_t)(((a + align - 1) & ~(uint64_t)(align - 1)) - a);
}

long acpi_build(const struct fw_topology *t, void *buf, size_t size, uint64_t gpa,
		char *err, size_t errlen)
{
	size_t rsdt, xsdt, fadt, facs, dsdt, madt, dsdt_len, madt_len, end;
	uint8_t *b = buf;
	struct acpi_rsdp *rsdp;
	struct acpi_header *h;
	uint32_t rsdt_ptr[2];
	uint64_t xsdt_ptr[2];

	if (fw_topology_check(t, err, errlen))
		return -1;
	/* 5.2.5.1: the RSDP is found by scanning 16-byte boundaries. */
	if (gpa & 15)
		return errmsg(err, errlen, "ACPI tables: address 0x%llx not 16-byte aligned",
				(unsigned long long)gpa);

	/* Sizing pass: where everything goes. */
	rsdt = place(sizeof(struct acpi_rsdp), gpa, 16);
	xsdt = place(rsdt + sizeof(struct acpi_header) + 2 * 4, gpa, 16);
	fadt = place(xsdt + sizeof(struct acpi_header) + 2 * 8, gpa, 16);
	facs = place(fadt + sizeof(struct acpi_fadt), gpa, 64); /* 5.2.10 */
	dsdt = place(facs + sizeof(struct acpi_facs), gpa, 16);
	dsdt_len = dsdt_size(t);
	madt = place(dsdt + dsdt_len, gpa, 16);
	madt_len = madt_size(t);
	end = madt + madt_len;

	if ((!buf || size < end) && fw_hotplug(t))
		return errmsg(err, errlen,
				"ACPI tables for maxcpus=%u with CPU hotplug need %zu bytes, the area has %zu",
				t->maxcpus, end, buf ? size : 0);
	if (!buf || size < end)
		return errmsg(err, errlen,
				"ACPI tables for %u vCPUs need %zu bytes, buffer has %zu",
				t->ncpus, end, buf ? size : 0);
	if (gpa + end > 0x100000000ull)
		return errmsg(err, errlen,
				"ACPI tables at 0x%llx would cross 4 GiB (RSDT holds 32-bit pointers)",
				(unsigned long long)gpa);
	memset(b, 0, end);

	/* Leaves first, so each checksum covers final bytes. */
	build_facs((struct acpi_facs *)(b + facs));
	build_dsdt(b + dsdt, dsdt_len, t);
	build_madt(b + madt, madt_len, t);
	build_fadt((struct acpi_fadt *)(b + fadt), gpa + facs, gpa + dsdt);

	/* 5.2.7 RSDT and 5.2.8 XSDT: FADT and MADT. The pointer arrays start
	 * at offset 36, so XSDT entries are not 8-byte aligned: the pointers
	 * go through memcpy. */
	h = (struct acpi_header *)(b + rsdt);
	header_init(h, "RSDT", sizeof(*h) + 2 * 4, 1);
	rsdt_ptr[0] = (uint32_t)(gpa + fadt);
	rsdt_ptr[1] = (uint32_t)(gpa + madt);
	memcpy(h + 1, rsdt_ptr, sizeof(rsdt_ptr));
	header_sum(h);

	h = (struct acpi_header *)(b + xsdt);
	header_init(h, "XSDT", sizeof(*h) + 2 * 8, 1);
	xsdt_ptr[0] = gpa + fadt;
	xsdt_ptr[1] = gpa + madt;
	memcpy(h + 1, xsdt_ptr, sizeof(xsdt_ptr));
	header_sum(h);

	rsdp = (struct acpi_rsdp *)b;
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = (uint32_t)(gpa + rsdt);
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = gpa + xsdt;
	rsdp->checksum = fw_checksum(rsdp, 20);
	rsdp->extended_checksum = fw_checksum(rsdp, sizeof(*rsdp));

	return (long)end;
}
