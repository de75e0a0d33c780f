/*
 * x86 ELF executables (ELF32 and ELF64) as mpvm loads them: the program
 * headers checked and turned into a load plan against mpvm's memory map
 * (core/memmap.h), the entry point made physical, and ELF notes found.
 * Used by the multiboot and the PVH loaders. KVM-free: the caller copies
 * the planned bytes into guest RAM.
 */
#ifndef MPVM_CORE_ELF_IMAGE_H
#define MPVM_CORE_ELF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_IMAGE_MAX_SEGMENTS 16u

struct elf_segment {
	uint64_t paddr;    /* guest-physical load address */
	uint64_t offset;   /* in the file */
	uint64_t filesz;   /* bytes copied from the file */
	uint64_t memsz;    /* bytes in memory: memsz - filesz zeroed (bss) */
};

struct elf_image {
	unsigned int cls;  /* 32 or 64 */
	uint64_t entry;    /* e_entry made physical through its segment */
	unsigned int nsegs;
	struct elf_segment seg[ELF_IMAGE_MAX_SEGMENTS];
	uint64_t end;      /* first byte above every segment */
};

/* Does img start with the ELF magic? */
bool elf_image_is_elf(const uint8_t *img, size_t len);

/*
 * Checks the ELF header and program headers of img[0..len) and plans the
 * load of its PT_LOAD segments (p_paddr) into `memory` bytes of RAM, below
 * which [0, low_free) is mpvm's. 0, or -1 with a one-line reason in err.
 */
int elf_image_parse(const uint8_t *img, size_t len, uint64_t memory, uint64_t low_free,
		    struct elf_image *e, char *err, size_t errlen);

/*
 * Finds the note (name, type) in the PT_NOTE segments of an image that
 * elf_image_parse() accepted: 1 with *desc and *desclen set, 0 if there is none,
 * -1 with a reason in err if a note segment is malformed.
 */
int elf_image_find_note(const uint8_t *img, size_t len, const char *name, uint32_t type,
			const uint8_t **desc, uint32_t *desclen, char *err, size_t errlen);

#endif
