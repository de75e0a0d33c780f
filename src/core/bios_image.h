/*
 * --bios FILE: a raw firmware image, as QEMU's -bios takes it. KVM-free:
 * checks the file and says where its bytes go in guest-physical memory,
 * so unit tests drive every case. kvm/boot_bios.c maps it.
 *
 * Layout (as on a PC, and as QEMU lays out -bios):
 *   the whole image, read-only, at 4 GiB - size (so its last 16 bytes
 *   hold the reset vector, 0xfffffff0);
 *   its last min(size, 128 KiB), read-only too, also at 1 MiB - that
 *   (0xe0000-0xfffff for an image of 128 KiB or more), where real-mode
 *   code reaches it after a far jump to segment 0xf000.
 */
#ifndef MPVM_CORE_BIOS_IMAGE_H
#define MPVM_CORE_BIOS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BIOS_IMAGE_MAX     (16ull << 20) /* the top 16 MiB below 4 GiB, above the LAPIC/IOAPIC */
#define BIOS_IMAGE_ALIGN   4096ull       /* whole pages: KVM maps memory slots by the page */
#define BIOS_MIRROR_MAX    (128ull << 10)
#define BIOS_MIRROR_END    0x100000ull   /* the mirror ends at 1 MiB */
#define BIOS_MIRROR_WINDOW (BIOS_MIRROR_END - BIOS_MIRROR_MAX) /* 0xe0000 */
#define BIOS_ROM_END       (4ull << 30)

struct bios_layout {
	uint64_t rom_base;      /* 4 GiB - size */
	uint64_t size;
	uint64_t mirror_base;   /* 1 MiB - mirror_size */
	uint64_t mirror_size;   /* min(size, 128 KiB) */
	uint64_t mirror_offset; /* offset in the image of the mirrored part: size - mirror_size */
};

/*
 * Checks an image size: not empty, a multiple of 4 KiB, at most 16 MiB.
 * 0 and the layout in *l (if l), or -1 with the reason in err (no file name).
 */
int bios_image_layout(uint64_t size, struct bios_layout *l, char *err, size_t errlen);

/*
 * Reads and checks FILE. Returns the bytes (malloc'd; the caller frees) and
 * their count in *size, or NULL with "--bios FILE: reason" in err.
 */
uint8_t *bios_image_read(const char *path, size_t *size, char *err, size_t errlen);

/* bios_image_read without keeping the bytes: 0, or -1 with "--bios FILE: reason" in err. */
int bios_image_check(const char *path, char *err, size_t errlen);

#endif
