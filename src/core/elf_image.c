#include "core/elf_image.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/memmap.h"

/* One program header, whatever the class, widened to 64 bits. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

static void read_phdr(const uint8_t *p, unsigned int cls, struct phdr *h)
{
	if (cls == 32) {
		Elf32_Phdr e;

		memcpy(&e, p, sizeof(e));
		*h = (struct phdr){ e.p_type, e.p_offset, e.p_vaddr, e.p_paddr, e.p_filesz, e.p_memsz };
	} else {
		Elf64_Phdr e;

		memcpy(&e, p, sizeof(e));
		*h = (struct phdr){ e.p_type, e.p_offset, e.p_vaddr, e.p_paddr, e.p_filesz, e.p_memsz };
	}
}

bool elf_image_is_elf(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* The program header table: where, how many, how big; -1 with a reason. */
static int phdr_table(const uint8_t *img, size_t len, unsigned int *cls, uint64_t *phoff,
		      unsigned int *phnum, uint64_t *entry, char *err, size_t errlen)
{
	unsigned int phentsize, machine, type;

	if (len < EI_NIDENT)
		return errmsg(err, errlen, "truncated ELF header (%zu bytes)", len);
	if (img[EI_DATA] != ELFDATA2LSB)
		return errmsg(err, errlen, "ELF data encoding %u: not little-endian", img[EI_DATA]);
	if (img[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr e;

		if (len < sizeof(e))
			return errmsg(err, errlen, "truncated ELF header (%zu bytes)", len);
		memcpy(&e, img, sizeof(e));
		*cls = 32;
		*phoff = e.e_phoff; *phnum = e.e_phnum; phentsize = e.e_phentsize;
		machine = e.e_machine; type = e.e_type; *entry = e.e_entry;
		if (phentsize != sizeof(Elf32_Phdr))
			return errmsg(err, errlen, "ELF program header size %u, not %zu", phentsize,
				       sizeof(Elf32_Phdr));
	} else if (img[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		if (len < sizeof(e))
			return errmsg(err, errlen, "truncated ELF header (%zu bytes)", len);
		memcpy(&e, img, sizeof(e));
		*cls = 64;
		*phoff = e.e_phoff; *phnum = e.e_phnum; phentsize = e.e_phentsize;
		machine = e.e_machine; type = e.e_type; *entry = e.e_entry;
		if (phentsize != sizeof(Elf64_Phdr))
			return errmsg(err, errlen, "ELF program header size %u, not %zu", phentsize,
				       sizeof(Elf64_Phdr));
	} else {
		return errmsg(err, errlen, "ELF class %u: neither ELF32 nor ELF64", img[EI_CLASS]);
	}
	if (machine != EM_386 && machine != EM_X86_64)
		return errmsg(err, errlen, "ELF machine %u: not x86 (EM_386 or EM_X86_64)", machine);
	if (type != ET_EXEC)
		return errmsg(err, errlen, "ELF type %u: not an executable (ET_EXEC)", type);
	if (*phnum == 0)
		return errmsg(err, errlen, "no ELF program headers");
	if (*phoff > len || (uint64_t)*phnum * phentsize > len - *phoff)
		return errmsg(err, errlen, "truncated: the %u ELF program headers at offset 0x%llx "
			       "end after the file's %zu bytes", *phnum, (unsigned long long)*phoff, len);
	return 0;
}

static size_t phdr_size(unsigned int cls)
{
	return cls == 32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
}

int elf_image_parse(const uint8_t *img, size_t len, uint64_t memory, uint64_t low_free,
		    struct elf_image *e, char *err, size_t errlen)
{
	uint64_t phoff, entry;
	unsigned int phnum;
	bool entry_found = false;

	*e = (struct elf_image){ 0 };
	if (!elf_image_is_elf(img, len))
		return errmsg(err, errlen, "not an ELF file (no \\x7fELF at its start)");
	if (phdr_table(img, len, &e->cls, &phoff, &phnum, &entry, err, errlen))
		return -1;

	for (unsigned int i = 0; i < phnum; i++) {
		struct phdr h;
		char what[64];

		read_phdr(img + phoff + (uint64_t)i * phdr_size(e->cls), e->cls, &h);
		if (h.type != PT_LOAD || h.memsz == 0)
			continue;
		snprintf(what, sizeof(what), "segment %u", i);
		if (h.filesz > h.memsz)
			return errmsg(err, errlen, "%s: file size 0x%llx above its memory size 0x%llx",
				       what, (unsigned long long)h.filesz, (unsigned long long)h.memsz);
		if (h.offset > len || h.filesz > len - h.offset)
			return errmsg(err, errlen, "truncated: %s (0x%llx bytes at offset 0x%llx) ends "
				       "after the file's %zu bytes", what, (unsigned long long)h.filesz,
				       (unsigned long long)h.offset, len);
		if (memmap_check_load(h.paddr, h.memsz, memory, low_free, what, err, errlen))
			return -1;
		for (unsigned int j = 0; j < e->nsegs; j++) {
			const struct elf_segment *s = &e->seg[j];

			if (h.paddr < s->paddr + s->memsz && s->paddr < h.paddr + h.memsz)
				return errmsg(err, errlen, "%s at 0x%llx overlaps another segment at 0x%llx",
					       what, (unsigned long long)h.paddr, (unsigned long long)s->paddr);
		}
		if (e->nsegs == ELF_IMAGE_MAX_SEGMENTS)
			return errmsg(err, errlen, "more than %u loadable segments", ELF_IMAGE_MAX_SEGMENTS);
		e->seg[e->nsegs++] = (struct elf_segment){ h.paddr, h.offset, h.filesz, h.memsz };
		if (h.paddr + h.memsz > e->end)
			e->end = h.paddr + h.memsz;
		/* The entry point is virtual: find it in this segment and make it physical. */
		if (!entry_found && entry >= h.vaddr && entry - h.vaddr < h.memsz) {
			entry = entry - h.vaddr + h.paddr;
			entry_found = true;
		}
	}
	if (e->nsegs == 0)
		return errmsg(err, errlen, "no loadable (PT_LOAD) ELF segments");
	/* Some images (Linux's vmlinux) give a physical e_entry. */
	for (unsigned int i = 0; i < e->nsegs && !entry_found; i++)
		entry_found = entry >= e->seg[i].paddr && entry - e->seg[i].paddr < e->seg[i].memsz;
	if (!entry_found)
		return errmsg(err, errlen, "entry point 0x%llx is in no loadable segment",
			       (unsigned long long)entry);
	e->entry = entry;
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * ELF notes (System V gABI, "Note Section"): namesz, descsz, type, then the
 * name and the descriptor, each padded to 4 bytes (x86-64 too, in practice).
 */
int elf_image_find_note(const uint8_t *img, size_t len, const char *name, uint32_t type,
			const uint8_t **desc, uint32_t *desclen, char *err, size_t errlen)
{
	uint64_t phoff, entry;
	unsigned int phnum, cls;
	size_t want = strlen(name) + 1;

	if (phdr_table(img, len, &cls, &phoff, &phnum, &entry, err, errlen))
		return -1;
	for (unsigned int i = 0; i < phnum; i++) {
		struct phdr h;
		uint64_t off, end;

		read_phdr(img + phoff + (uint64_t)i * phdr_size(cls), cls, &h);
		if (h.type != PT_NOTE)
			continue;
		if (h.offset > len || h.filesz > len - h.offset)
			return errmsg(err, errlen, "truncated: note segment %u ends after the file", i);
		off = h.offset;
		end = h.offset + h.filesz;
		while (end - off >= 12) {
			uint32_t namesz = get32(img + off), descsz = get32(img + off + 4);
			uint32_t ntype = get32(img + off + 8);
			uint64_t name_off = off + 12;
			uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
			uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);

			if (next > end)
				return errmsg(err, errlen, "malformed ELF note at offset 0x%llx in note "
					       "segment %u (it runs past the segment)",
					       (unsigned long long)off, i);
			if (ntype == type && namesz == want && !memcmp(img + name_off, name, want)) {
				*desc = img + desc_off;
				*desclen = descsz;
				return 1;
			}
			off = next;
		}
	}
	return 0;
}
