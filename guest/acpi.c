/*
 * Finding the CPUs the way an OS does: the ACPI MADT (ACPI spec §5.2.5 RSDP,
 * §5.2.7/8 RSDT/XSDT, §5.2.12 MADT), else the MP configuration table (MP
 * spec 1.4 §4). Everything below 4 GiB is identity-mapped, so table
 * addresses are pointers; tables above 4 GiB are skipped.
 */
#include "guest.h"
#include "cpu.h"

#define BDA_EBDA_SEG 0x40e /* u16: EBDA segment */
#define BDA_BASE_KB  0x413 /* u16: base memory size in KiB */

struct __attribute__((packed)) rsdp {
	char sig[8];
	uint8_t checksum;
	char oem[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length; /* revision >= 2 from here on */
	uint64_t xsdt;
	uint8_t xchecksum;
	uint8_t reserved[3];
};

struct __attribute__((packed)) sdt_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem[6];
	char oem_table[8];
	uint32_t oem_rev;
	uint32_t creator;
	uint32_t creator_rev;
};

struct __attribute__((packed)) madt {
	struct sdt_header h;
	uint32_t lapic_addr;
	uint32_t flags;
	uint8_t entries[];
};

struct __attribute__((packed)) madt_lapic { /* type 0 */
	uint8_t type, len, acpi_id, apic_id;
	uint32_t flags;
};

struct __attribute__((packed)) madt_x2apic { /* type 9 */
	uint8_t type, len;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t acpi_uid;
};

#define MADT_ENABLED 1

struct __attribute__((packed)) mp_fps { /* MP floating pointer structure */
	char sig[4];
	uint32_t config;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
};

struct __attribute__((packed)) mp_config {
	char sig[4];
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
};

struct __attribute__((packed)) mp_proc { /* entry type 0 */
	uint8_t type, apic_id, apic_version, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
};

#define MP_PROC_EN 1
#define MP_PROC_BP 2

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static uint16_t bda16(uintptr_t off)
{
	return *(const volatile uint16_t *)phys(off);
}

static void add_cpu(struct cpu_list *cl, uint32_t apic_id, bool bp)
{
	if (cl->n == MAX_CPUS) {
		gprintf("mpvm-guest: more than %u CPUs in the table, ignoring APIC ID %u\n",
			MAX_CPUS, apic_id);
		return;
	}
	if (apic_id >= MAX_APIC_ID) {
		FAIL("APIC ID %u is beyond this guest's limit of %u, ignored\n", apic_id,
		     MAX_APIC_ID - 1);
		return;
	}
	for (unsigned i = 0; i < cl->n; i++) {
		if (cl->apic_id[i] == apic_id) {
			FAIL("APIC ID %u listed twice\n", apic_id);
			return;
		}
	}
	cl->apic_id[cl->n] = apic_id;
	cl->mp_bp[cl->n] = bp;
	cl->n++;
}

/* ---- ACPI ---------------------------------------------------------------- */

static const struct rsdp *rsdp_scan(uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a + 20 <= end; a += 16) {
		const struct rsdp *r = (const void *)a;
		if (memcmp(r->sig, "RSD PTR ", 8))
			continue;
		if (sum8(r, 20)) {
			gprintf("mpvm-guest: RSDP at 0x%lx: bad checksum, skipped\n", a);
			continue;
		}
		if (r->revision >= 2 && (r->length < 36 || sum8(r, r->length))) {
			gprintf("mpvm-guest: RSDP at 0x%lx: bad extended checksum, skipped\n", a);
			continue;
		}
		return r;
	}
	return NULL;
}

static const struct sdt_header *sdt_map(uint64_t addr, const char *sig)
{
	if (!addr || addr >= (1ull << 32) - sizeof(struct sdt_header))
		return NULL;
	const struct sdt_header *h = (const void *)(uintptr_t)addr;
	if (memcmp(h->sig, sig, 4))
		return NULL;
	if (h->length < sizeof(*h) || sum8(h, h->length)) {
		FAIL("ACPI table %s at 0x%lx: bad length or checksum\n", sig, addr);
		return NULL;
	}
	return h;
}

static void madt_parse(const struct madt *m, struct cpu_list *cl)
{
	const uint8_t *p = m->entries, *end = (const uint8_t *)m + m->h.length;

	while (p + 2 <= end) {
		uint8_t type = p[0], len = p[1];
		if (len < 2 || p + len > end) {
			FAIL("MADT entry at 0x%lx: bad length %u\n", (uint64_t)(uintptr_t)p, len);
			return;
		}
		if (type == 0 && len >= sizeof(struct madt_lapic)) {
			const struct madt_lapic *e = (const void *)p;
			bool en = e->flags & MADT_ENABLED;
			gprintf("mpvm-guest: MADT: Local APIC, APIC ID %u, ACPI ID %u, %s\n",
				e->apic_id, e->acpi_id, en ? "enabled" : "disabled");
			if (en)
				add_cpu(cl, e->apic_id, false);
		} else if (type == 9 && len >= sizeof(struct madt_x2apic)) {
			const struct madt_x2apic *e = (const void *)p;
			bool en = e->flags & MADT_ENABLED;
			gprintf("mpvm-guest: MADT: Local x2APIC, APIC ID %u, ACPI UID %u, %s\n",
				e->x2apic_id, e->acpi_uid, en ? "enabled" : "disabled");
			if (en)
				add_cpu(cl, e->x2apic_id, false);
		}
		p += len;
	}
}

bool acpi_find_cpus(struct cpu_list *cl)
{
	const struct rsdp *r = NULL;
	uintptr_t ebda = (uintptr_t)bda16(BDA_EBDA_SEG) << 4;

	if (ebda && ebda + 1024 <= 0xa0000)
		r = rsdp_scan(ebda, ebda + 1024);
	if (!r)
		r = rsdp_scan(0xe0000, 0x100000);
	if (!r) {
		gprintf("mpvm-guest: no ACPI RSDP found\n");
		return false;
	}

	/* ACPI 2.0+: the XSDT (64-bit entries) supersedes the RSDT. */
	bool x = r->revision >= 2 && r->xsdt;
	const struct sdt_header *root = x ? sdt_map(r->xsdt, "XSDT") : sdt_map(r->rsdt, "RSDT");
	gprintf("mpvm-guest: ACPI RSDP at 0x%lx, revision %u, %s at 0x%lx\n",
		(uint64_t)(uintptr_t)r, r->revision, x ? "XSDT" : "RSDT",
		x ? r->xsdt : (uint64_t)r->rsdt);
	if (!root) {
		FAIL("no valid %s\n", x ? "XSDT" : "RSDT");
		return false;
	}

	size_t esize = x ? 8 : 4;
	size_t n = (root->length - sizeof(*root)) / esize;
	const uint8_t *ents = (const uint8_t *)(root + 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = 0;
		memcpy(&a, ents + i * esize, esize);
		const struct sdt_header *h = sdt_map(a, "APIC");
		if (!h)
			continue;
		if (h->length < sizeof(struct madt)) {
			FAIL("MADT at 0x%lx too short\n", a);
			return false;
		}
		cl->source = "ACPI MADT";
		cl->addr = a;
		madt_parse((const void *)h, cl);
		return true;
	}
	gprintf("mpvm-guest: no MADT in the %s\n", x ? "XSDT" : "RSDT");
	return false;
}

/* ---- MP table ------------------------------------------------------------ */

static const struct mp_fps *fps_scan(uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a + 16 <= end; a += 16) {
		const struct mp_fps *f = (const void *)a;
		if (memcmp(f->sig, "_MP_", 4))
			continue;
		if (f->length == 0 || sum8(f, f->length * 16u)) {
			gprintf("mpvm-guest: MP floating pointer at 0x%lx: bad checksum, skipped\n", a);
			continue;
		}
		return f;
	}
	return NULL;
}

bool mptable_find_cpus(struct cpu_list *cl)
{
	/* MP spec §4: EBDA first KiB, else the last KiB of base memory, then the BIOS ROM. */
	const struct mp_fps *f = NULL;
	uintptr_t ebda = (uintptr_t)bda16(BDA_EBDA_SEG) << 4;
	uintptr_t base_kb = bda16(BDA_BASE_KB);

	if (ebda && ebda + 1024 <= 0xa0000)
		f = fps_scan(ebda, ebda + 1024);
	if (!f) {
		uintptr_t top = (base_kb >= 512 && base_kb <= 640 ? base_kb : 640) * 1024;
		f = fps_scan(top - 1024, top);
	}
	if (!f)
		f = fps_scan(0xf0000, 0x100000);
	if (!f) {
		gprintf("mpvm-guest: no MP floating pointer structure found\n");
		return false;
	}
	gprintf("mpvm-guest: MP floating pointer at 0x%lx, spec 1.%u, config table at 0x%x\n",
		(uint64_t)(uintptr_t)f, f->spec_rev, f->config);

	if (!f->config) {
		/* A default configuration (MP spec §5): two CPUs, APIC IDs 0 and 1. */
		if (!f->feature[0]) {
			FAIL("MP floating pointer has neither a config table nor a default configuration\n");
			return false;
		}
		cl->source = "MP default configuration";
		cl->addr = (uintptr_t)f;
		add_cpu(cl, 0, true);
		add_cpu(cl, 1, false);
		return true;
	}

	const struct mp_config *c = (const void *)(uintptr_t)f->config;
	if (memcmp(c->sig, "PCMP", 4) || c->length < sizeof(*c) || sum8(c, c->length)) {
		FAIL("MP config table at 0x%x: bad signature, length or checksum\n", f->config);
		return false;
	}
	cl->source = "MP table";
	cl->has_bp = true;
	cl->addr = f->config;

	const uint8_t *p = (const uint8_t *)(c + 1), *end = (const uint8_t *)c + c->length;
	for (unsigned i = 0; i < c->entry_count && p < end; i++) {
		if (p[0] == 0) {
			if (p + sizeof(struct mp_proc) > end)
				break;
			const struct mp_proc *e = (const void *)p;
			bool en = e->flags & MP_PROC_EN, bp = e->flags & MP_PROC_BP;
			gprintf("mpvm-guest: MP table: processor, APIC ID %u, %s%s\n", e->apic_id,
				en ? "enabled" : "disabled", bp ? ", BP" : "");
			if (en)
				add_cpu(cl, e->apic_id, bp);
			p += sizeof(struct mp_proc);
		} else if (p[0] <= 4) {
			p += 8; /* bus, I/O APIC, I/O and local interrupt entries */
		} else {
			FAIL("MP config table: unknown entry type %u\n", p[0]);
			break;
		}
	}
	return true;
}
