#include "core/pvh.h"

#include <string.h>

#include "core/errmsg.h"
#include "core/guest_abi.h"
#include "core/memmap.h"

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int find_entry(const uint8_t *img, size_t len, uint64_t *entry, char *err, size_t errlen)
{
	const uint8_t *desc;
	uint32_t desclen;
	int r = elf_image_find_note(img, len, PVH_NOTE_NAME, XEN_ELFNOTE_PHYS32_ENTRY,
				    &desc, &desclen, err, errlen);

	if (r <= 0)
		return r;
	/* Linux writes the address as a pointer-sized value (8 bytes on x86-64). */
	if (desclen == 4) {
		uint32_t v;

		memcpy(&v, desc, 4);
		*entry = v;
	} else if (desclen == 8) {
		memcpy(entry, desc, 8);
	} else {
		return errmsg(err, errlen, "the PVH entry note (Xen, type 18) has %u bytes, "
			       "not 4 or 8", desclen);
	}
	return 1;
}

int pvh_has_entry(const uint8_t *img, size_t len)
{
	uint64_t entry;
	char err[8];

	return find_entry(img, len, &entry, err, sizeof(err));
}

int pvh_parse(const uint8_t *img, size_t len, uint64_t memory, struct pvh_kernel *k,
	      char *err, size_t errlen)
{
	uint64_t entry = 0;
	int r;

	*k = (struct pvh_kernel){ 0 };
	if (elf_image_parse(img, len, memory, MPVM_GUEST_LOAD_ADDR, &k->elf, err, errlen))
		return -1;
	r = find_entry(img, len, &entry, err, errlen);
	if (r < 0)
		return -1;
	if (r == 0)
		return errmsg(err, errlen, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a vmlinux "
			       "built without CONFIG_PVH cannot be booted uncompressed; boot its "
			       "bzImage instead");
	if (entry > 0xffffffffull)
		return errmsg(err, errlen, "PVH entry point 0x%llx is above 4 GiB; PVH enters in "
			       "32-bit mode", (unsigned long long)entry);
	for (unsigned int i = 0; i < k->elf.nsegs; i++) {
		const struct elf_segment *s = &k->elf.seg[i];

		if (entry >= s->paddr && entry < s->paddr + s->memsz) {
			k->entry = (uint32_t)entry;
			return 0;
		}
	}
	return errmsg(err, errlen, "PVH entry point 0x%llx is in no loadable segment",
		       (unsigned long long)entry);
}

void pvh_build_start_info(const struct pvh_params *p, uint8_t *buf)
{
	struct memmap_entry map[MEMMAP_MAX_ENTRIES];
	unsigned int n = memmap_build(p->memory, map);
	uint8_t *mod = buf + PVH_MODLIST_OFFSET;

	memset(buf, 0, 0x1000);
	/* struct hvm_start_info, version 1. */
	put32(buf + 0, HVM_START_MAGIC);
	put32(buf + 4, 1);                  /* version */
	put32(buf + 8, 0);                  /* flags */
	put32(buf + 12, p->initrd_size ? 1 : 0); /* nr_modules */
	put64(buf + 16, p->initrd_size ? p->info_addr + PVH_MODLIST_OFFSET : 0);
	put64(buf + 24, p->cmdline_addr);
	put64(buf + 32, p->rsdp_addr);
	put64(buf + 40, p->info_addr + PVH_MEMMAP_OFFSET);
	put32(buf + 48, n);                 /* memmap_entries */
	/* struct hvm_modlist_entry: paddr, size, cmdline_paddr (none). */
	if (p->initrd_size) {
		put64(mod, p->initrd_addr);
		put64(mod + 8, p->initrd_size);
	}
	/* struct hvm_memmap_table_entry: addr, size, type (e820), reserved. */
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = buf + PVH_MEMMAP_OFFSET + i * 24;

		put64(e, map[i].addr);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}
}
