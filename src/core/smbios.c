/*
 * SMBIOS builder. Section numbers are from DMTF DSP0134, SMBIOS Reference
 * Specification 3.0.0 (2015); each structure has the length that version
 * gives it, so an OS reads every field it knows of.
 *
 * A structure is its formatted area (header and fields) and then its string
 * set: the strings its string fields number from 1, each NUL-terminated,
 * and one more NUL; a structure without strings ends in two NULs (§6.1.3).
 * The writer below emits both and keeps counting once the buffer is full,
 * so a buffer that is too small is reported with the size it would need.
 */
#include <stdio.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/firmware.h"
#include "core/smbios.h"

#define SMBIOS_VENDOR       "mpvm"
#define SMBIOS_BIOS_VERSION "1.0"
#define SMBIOS_BIOS_DATE    "12/03/2026" /* mm/dd/yyyy (§7.1.1); when these tables took this form */
#define SMBIOS_PRODUCT      "mpvm"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define HIGH_RAM_BASE (4ull << 30)

/* §6.1.2 Structure header */
struct sm_header {
	uint8_t type;
	uint8_t length;            /* the formatted area, header included; not the strings */
	uint16_t handle;
} __attribute__((packed));

/* §5.2.2 SMBIOS 3.0 (64-bit) Entry Point */
struct sm3_entry {
	char anchor[5];            /* "_SM3_" */
	uint8_t checksum;          /* the 24 bytes sum to zero */
	uint8_t length;            /* 0x18 */
	uint8_t major, minor, docrev;
	uint8_t revision;          /* 1: the 3.0 entry point layout */
	uint8_t reserved;
	uint32_t table_max_size;   /* the structure table's length: ours is exact */
	uint64_t table_address;
} __attribute__((packed));
_Static_assert(sizeof(struct sm3_entry) == SMBIOS_EP_LEN, "3.0 entry point is 24 bytes");

/* §7.1 BIOS Information (Type 0), the 2.4+ layout */
struct sm_bios {
	struct sm_header h;
	uint8_t vendor, version;   /* strings */
	uint16_t start_segment;
	uint8_t release_date;      /* string */
	uint8_t rom_size;          /* 64 KiB * (n + 1) */
	uint64_t characteristics;
	uint8_t ext[2];            /* characteristics extension bytes (§7.1.2.1, §7.1.2.2) */
	uint8_t major, minor;      /* system BIOS release */
	uint8_t ec_major, ec_minor; /* embedded controller firmware: 0xff, none */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_bios) == 0x18, "type 0 is 0x18 bytes");

#define BIOS_CHAR_NOT_SUPPORTED (1ull << 3) /* §7.1.1: "BIOS Characteristics are not supported" */
#define BIOS_EXT2_VM            (1u << 4)   /* §7.1.2.2: the tables describe a virtual machine */

/* §7.2 System Information (Type 1), the 2.4+ layout */
struct sm_system {
	struct sm_header h;
	uint8_t manufacturer, product, version, serial; /* strings */
	uint8_t uuid[16];          /* all zeros: "not present but can be set" (§7.2.1) */
	uint8_t wakeup;            /* 6: power switch */
	uint8_t sku, family;       /* strings */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_system) == 0x1b, "type 1 is 0x1b bytes");

/* §7.4 System Enclosure or Chassis (Type 3), the 2.7+ layout with no contained elements */
struct sm_chassis {
	struct sm_header h;
	uint8_t manufacturer;      /* string */
	uint8_t type;              /* 1: Other (§7.4.1) */
	uint8_t version, serial, asset; /* strings */
	uint8_t bootup, power, thermal; /* 3: Safe (§7.4.2) */
	uint8_t security;          /* 3: None (§7.4.3) */
	uint32_t oem;
	uint8_t height, cords;     /* 0: unspecified */
	uint8_t elements, element_len; /* no contained elements */
	uint8_t sku;               /* string */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_chassis) == 0x16, "type 3 is 0x16 bytes");

/* §7.5 Processor Information (Type 4), the 3.0 layout */
struct sm_cpu {
	struct sm_header h;
	uint8_t socket;            /* string */
	uint8_t type;              /* 3: Central Processor (§7.5.1) */
	uint8_t family;            /* 1: Other (§7.5.2); Family 2 says the same */
	uint8_t manufacturer;      /* string */
	uint64_t id;               /* CPUID.1 EAX, then EDX (§7.5.3.2) */
	uint8_t version;           /* string */
	uint8_t voltage;           /* 0: unknown */
	uint16_t ext_clock, max_speed, cur_speed; /* MHz, 0: unknown */
	uint8_t status;            /* SMBIOS_CPU_POPULATED_* */
	uint8_t upgrade;           /* 1: Other (§7.5.5) */
	uint16_t l1, l2, l3;       /* 0xffff: no cache information structures */
	uint8_t serial, asset, part; /* strings */
	uint8_t cores, cores_enabled, threads; /* 0xff above 255: see the "2" fields */
	uint16_t characteristics;  /* §7.5.9 */
	uint16_t family2;
	uint16_t cores2, cores_enabled2, threads2; /* 3.0: counts above 255 */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_cpu) == 0x30, "type 4 is 0x30 bytes");

#define CPU_CHAR_64BIT     (1u << 2)
#define CPU_CHAR_MULTICORE (1u << 3)
#define CPU_CHAR_HWTHREAD  (1u << 4)

/* §7.17 Physical Memory Array (Type 16), the 2.7+ layout */
struct sm_mem_array {
	struct sm_header h;
	uint8_t location;          /* 3: system board (§7.17.1) */
	uint8_t use;               /* 3: system memory (§7.17.2) */
	uint8_t ecc;               /* 3: none (§7.17.3) */
	uint32_t max_capacity;     /* KiB; 0x80000000: see ext_max_capacity */
	uint16_t error_handle;     /* 0xfffe: no error information */
	uint16_t devices;
	uint64_t ext_max_capacity; /* bytes */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_mem_array) == 0x17, "type 16 is 0x17 bytes");

/* §7.18 Memory Device (Type 17), the 2.8+ layout (3.0 adds nothing) */
struct sm_mem_device {
	struct sm_header h;
	uint16_t array_handle;
	uint16_t error_handle;     /* 0xfffe */
	uint16_t total_width, data_width; /* bits; 0xffff: unknown */
	uint16_t size;             /* §7.18.5 */
	uint8_t form_factor;       /* 9: DIMM (§7.18.1) */
	uint8_t device_set;        /* 0: none */
	uint8_t locator, bank;     /* strings */
	uint8_t memory_type;       /* 7: RAM (§7.18.2) */
	uint16_t type_detail;      /* bit 1: Other (§7.18.3) */
	uint16_t speed;            /* MT/s, 0: unknown */
	uint8_t manufacturer, serial, asset, part; /* strings */
	uint8_t attributes;        /* rank, 0: unknown */
	uint32_t ext_size;         /* MiB, when size is 0x7fff */
	uint16_t configured_speed;
	uint16_t min_voltage, max_voltage, configured_voltage; /* mV, 0: unknown */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_mem_device) == 0x28, "type 17 is 0x28 bytes");

/* §7.20 Memory Array Mapped Address (Type 19), the 2.7+ layout */
struct sm_mem_mapped {
	struct sm_header h;
	uint32_t start_kib, end_kib; /* 0xffffffff: see the extended fields */
	uint16_t array_handle;
	uint8_t partition_width;   /* memory devices that form a row */
	uint64_t ext_start, ext_end; /* bytes; end is the last byte */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_mem_mapped) == 0x1f, "type 19 is 0x1f bytes");

/* §7.33 System Boot Information (Type 32) */
struct sm_boot_info {
	struct sm_header h;
	uint8_t reserved[6];
	uint8_t status;            /* 0: no errors detected */
} __attribute__((packed));
_Static_assert(sizeof(struct sm_boot_info) == 0x0b, "type 32 is 0x0b bytes");

/* ---- the writer ------------------------------------------------------------ */

struct writer {
	uint8_t *buf;
	size_t size, pos;          /* pos keeps counting past size */
};

#define MAX_STRINGS 4

/*
 * One structure: its formatted area `fmt` (len bytes, string fields
 * already numbered in the order of strs) and its strings, NULs included.
 */
static void emit(struct writer *w, const void *fmt, size_t len, const char *const *strs, unsigned int n)
{
	size_t need = len + 1, at = w->pos;

	for (unsigned int i = 0; i < n; i++)
		need += strlen(strs[i]) + 1;
	if (n == 0)
		need++; /* two NULs end a structure with no strings */
	w->pos += need;
	if (w->pos > w->size)
		return;
	memcpy(w->buf + at, fmt, len);
	at += len;
	for (unsigned int i = 0; i < n; i++) {
		size_t l = strlen(strs[i]) + 1;

		memcpy(w->buf + at, strs[i], l);
		at += l;
	}
	memset(w->buf + at, 0, n ? 1 : 2);
}

/* A structure's strings: add() gives each its number, 1 up. */
struct strings {
	const char *s[MAX_STRINGS];
	unsigned int n;
};

static uint8_t add(struct strings *ss, const char *s)
{
	ss->s[ss->n++] = s;
	return (uint8_t)ss->n;
}

static struct sm_header header(uint8_t type, uint8_t len, uint16_t handle)
{
	return (struct sm_header){ .type = type, .length = len, .handle = handle };
}

/* ---- the structures -------------------------------------------------------- */

static void bios_info(struct writer *w, uint16_t handle)
{
	struct strings ss = { .n = 0 };
	struct sm_bios b = {
		.h = header(SMBIOS_BIOS, sizeof(b), handle),
		/* No BIOS is there: say so (bit 3), as QEMU does, and that this is a VM. */
		.start_segment = 0xe800, /* the conventional 96 KiB below 1 MiB */
		.characteristics = BIOS_CHAR_NOT_SUPPORTED,
		.ext = { 0, BIOS_EXT2_VM },
		.major = 1, .minor = 0,
		.ec_major = 0xff, .ec_minor = 0xff,
	};

	b.vendor = add(&ss, SMBIOS_VENDOR);
	b.version = add(&ss, SMBIOS_BIOS_VERSION);
	b.release_date = add(&ss, SMBIOS_BIOS_DATE);
	emit(w, &b, sizeof(b), ss.s, ss.n);
}

static void system_info(struct writer *w, uint16_t handle)
{
	struct strings ss = { .n = 0 };
	struct sm_system y = { .h = header(SMBIOS_SYSTEM, sizeof(y), handle), .wakeup = 6 };

	y.manufacturer = add(&ss, SMBIOS_VENDOR);
	y.product = add(&ss, SMBIOS_PRODUCT);
	emit(w, &y, sizeof(y), ss.s, ss.n);
}

static void chassis(struct writer *w, uint16_t handle)
{
	struct strings ss = { .n = 0 };
	struct sm_chassis c = {
		.h = header(SMBIOS_CHASSIS, sizeof(c), handle),
		.type = 1, .bootup = 3, .power = 3, .thermal = 3, .security = 3,
	};

	c.manufacturer = add(&ss, SMBIOS_VENDOR);
	emit(w, &c, sizeof(c), ss.s, ss.n);
}

/* §7.5.6-7.5.8, 7.5.14-7.5.16: the byte says 0xff from 256 up, the word holds every count. */
static uint8_t count8(unsigned int n)
{
	return n > 0xfe ? 0xff : (uint8_t)n;
}

static void processor(struct writer *w, uint16_t handle, const struct smbios_shape *s,
		      unsigned int socket)
{
	unsigned int per_socket = s->cores * s->threads;
	unsigned int first = socket * per_socket;
	/* CPUs present in this socket: the present ones are the first s->present. */
	unsigned int here = s->present <= first ? 0
			  : s->present - first >= per_socket ? per_socket : s->present - first;
	unsigned int cores_on = (here + s->threads - 1) / s->threads;
	struct strings ss = { .n = 0 };
	char name[16];
	struct sm_cpu c = {
		.h = header(SMBIOS_PROCESSOR, sizeof(c), handle),
		.type = 3, .family = 1, .family2 = 1,
		.id = (uint64_t)s->cpu_features << 32 | s->cpu_signature,
		.status = here ? SMBIOS_CPU_POPULATED_ENABLED : SMBIOS_CPU_POPULATED_DISABLED,
		.upgrade = 1,
		.l1 = 0xffff, .l2 = 0xffff, .l3 = 0xffff,
		.cores = count8(s->cores), .cores2 = (uint16_t)s->cores,
		.cores_enabled = count8(cores_on), .cores_enabled2 = (uint16_t)cores_on,
		.threads = count8(per_socket), .threads2 = (uint16_t)per_socket,
		.characteristics = CPU_CHAR_64BIT | (s->cores > 1 ? CPU_CHAR_MULTICORE : 0) |
				   (s->threads > 1 ? CPU_CHAR_HWTHREAD : 0),
	};

	/* Designations as QEMU's ("CPU 0", ...), which guests' tools are used to. */
	snprintf(name, sizeof(name), "CPU %u", socket);
	c.socket = add(&ss, name);
	c.manufacturer = add(&ss, SMBIOS_VENDOR);
	emit(w, &c, sizeof(c), ss.s, ss.n);
}

static void memory_array(struct writer *w, uint16_t handle, uint64_t ram)
{
	uint64_t kib = ram / KIB;
	struct sm_mem_array a = {
		.h = header(SMBIOS_MEM_ARRAY, sizeof(a), handle),
		.location = 3, .use = 3, .ecc = 3,
		.error_handle = 0xfffe,
		.devices = 1,
	};

	/* §7.17.4: 2 TiB and up goes in the extended field, in bytes. */
	if (kib >= 0x80000000ull) {
		a.max_capacity = 0x80000000u;
		a.ext_max_capacity = ram;
	} else {
		a.max_capacity = (uint32_t)kib;
	}
	emit(w, &a, sizeof(a), NULL, 0);
}

static void memory_device(struct writer *w, uint16_t handle, uint16_t array, uint64_t ram)
{
	uint64_t mib = ram / MIB;
	struct strings ss = { .n = 0 };
	struct sm_mem_device d = {
		.h = header(SMBIOS_MEM_DEVICE, sizeof(d), handle),
		.array_handle = array,
		.error_handle = 0xfffe,
		.total_width = 0xffff, .data_width = 0xffff,
		.form_factor = 9, .memory_type = 7, .type_detail = 1u << 1,
	};

	/*
	 * §7.18.5: MiB in bits 14:0 up to 32 GiB - 2 MiB; from 32 GiB - 1 MiB
	 * the field is 0x7fff and the Extended Size (§7.18.12) has the MiB.
	 * (RAM is at least 16 MiB, so the KiB form of bit 15 is never needed.)
	 */
	if (mib >= 0x7fff) {
		d.size = 0x7fff;
		d.ext_size = (uint32_t)mib;
	} else {
		d.size = (uint16_t)mib;
	}
	d.locator = add(&ss, "DIMM 0");
	d.manufacturer = add(&ss, SMBIOS_VENDOR);
	emit(w, &d, sizeof(d), ss.s, ss.n);
}

static void mapped_range(struct writer *w, uint16_t handle, uint16_t array, uint64_t start, uint64_t len)
{
	uint64_t end = start + len - 1;
	struct sm_mem_mapped m = {
		.h = header(SMBIOS_MEM_ARRAY_MAPPED, sizeof(m), handle),
		.array_handle = array,
		.partition_width = 1,
	};

	/* §7.20: KiB fields below 4 TiB, else 0xffffffff and the byte addresses. */
	if (end / KIB >= 0xffffffffull) {
		m.start_kib = m.end_kib = 0xffffffffu;
		m.ext_start = start;
		m.ext_end = end;
	} else {
		m.start_kib = (uint32_t)(start / KIB);
		m.end_kib = (uint32_t)(end / KIB);
	}
	emit(w, &m, sizeof(m), NULL, 0);
}

static int check_shape(const struct smbios_shape *s, char *err, size_t errlen)
{
	if (!s)
		return errmsg(err, errlen, "no machine shape given");
	if (!s->sockets || !s->cores || !s->threads)
		return errmsg(err, errlen, "%u sockets x %u cores x %u threads: each must be at least 1",
			      s->sockets, s->cores, s->threads);
	if (s->sockets > SMBIOS_MAX_SOCKETS || s->cores > FW_MAX_CPUS || s->threads > FW_MAX_CPUS ||
	    (uint64_t)s->sockets * s->cores * s->threads != s->max_cpus)
		return errmsg(err, errlen, "%u sockets x %u cores x %u threads is not %u CPUs",
			      s->sockets, s->cores, s->threads, s->max_cpus);
	if (s->max_cpus > FW_MAX_CPUS)
		return errmsg(err, errlen, "%u CPUs: at most %u", s->max_cpus, FW_MAX_CPUS);
	if (s->present < 1 || s->present > s->max_cpus)
		return errmsg(err, errlen, "%u CPUs present: must be 1 to %u", s->present, s->max_cpus);
	if (!s->low_ram || s->low_ram > HIGH_RAM_BASE)
		return errmsg(err, errlen, "RAM below 4 GiB: 0x%llx bytes is not a RAM size",
			      (unsigned long long)s->low_ram);
	return 0;
}

long smbios_build(const struct smbios_shape *s, void *buf, size_t size, uint64_t gpa,
		  char *err, size_t errlen)
{
	struct writer w = { .size = size, .pos = SMBIOS_TABLE_OFFSET };
	uint64_t ram;
	uint16_t handle = 0, array;
	size_t len;

	if (check_shape(s, err, errlen))
		return -1;
	if (gpa % 16)
		return errmsg(err, errlen, "SMBIOS entry point at 0x%llx: not 16-byte aligned",
			      (unsigned long long)gpa);
	ram = s->low_ram + s->high_ram;
	w.buf = buf;

	bios_info(&w, handle++);
	system_info(&w, handle++);
	chassis(&w, handle++);
	/* §7.5: one structure per socket, populated or not. */
	for (unsigned int i = 0; i < s->sockets; i++)
		processor(&w, handle++, s, i);
	array = handle++;
	memory_array(&w, array, ram);
	memory_device(&w, handle++, array, ram);
	mapped_range(&w, handle++, array, 0, s->low_ram);
	if (s->high_ram)
		mapped_range(&w, handle++, array, HIGH_RAM_BASE, s->high_ram);
	emit(&w, &(struct sm_boot_info){ .h = header(SMBIOS_BOOT_INFO, sizeof(struct sm_boot_info),
						     handle++) },
	     sizeof(struct sm_boot_info), NULL, 0);
	/* §7.46 End-of-Table (Type 127): a header and the two NULs. */
	emit(&w, &(struct sm_header){ .type = SMBIOS_END, .length = 4, .handle = handle++ },
	     sizeof(struct sm_header), NULL, 0);

	if (w.pos > size)
		return errmsg(err, errlen, "SMBIOS tables need %zu bytes, have %zu", w.pos, size);
	if (w.pos > 0xffffffffu - SMBIOS_TABLE_OFFSET)
		return errmsg(err, errlen, "SMBIOS table too large");

	len = w.pos - SMBIOS_TABLE_OFFSET;
	struct sm3_entry ep = {
		.anchor = { '_', 'S', 'M', '3', '_' },
		.length = SMBIOS_EP_LEN,
		.major = 3, .minor = 0, .docrev = 0,
		.revision = 1,
		.table_max_size = (uint32_t)len,
		.table_address = gpa + SMBIOS_TABLE_OFFSET,
	};
	ep.checksum = fw_checksum(&ep, sizeof(ep));
	memset(buf, 0, SMBIOS_TABLE_OFFSET);
	memcpy(buf, &ep, sizeof(ep));
	return (long)w.pos;
}
