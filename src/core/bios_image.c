/* --bios images: the checks and the layout (see bios_image.h). */
#include "core/bios_image.h"

#include <stdlib.h>

#include "core/errmsg.h"
#include "core/input_file.h"

int bios_image_layout(uint64_t size, struct bios_layout *l, char *err, size_t errlen)
{
	if (size == 0)
		return errmsg(err, errlen, "empty file; a firmware image has at least one 4 KiB page "
			      "(its last 16 bytes are the reset vector)");
	if (size > BIOS_IMAGE_MAX)
		return errmsg(err, errlen, "%llu bytes: larger than 16 MiB (16777216 bytes), the most "
			      "that fits below 4 GiB above the local APIC and IOAPIC", (unsigned long long)size);
	if (size % BIOS_IMAGE_ALIGN)
		return errmsg(err, errlen, "%llu bytes: not a multiple of 4 KiB (4096 bytes); "
			      "pad the image at its start", (unsigned long long)size);
	if (l) {
		l->size = size;
		l->rom_base = BIOS_ROM_END - size;
		l->mirror_size = size < BIOS_MIRROR_MAX ? size : BIOS_MIRROR_MAX;
		l->mirror_base = BIOS_MIRROR_END - l->mirror_size;
		l->mirror_offset = size - l->mirror_size;
	}
	return 0;
}

uint8_t *bios_image_read(const char *path, size_t *size, char *err, size_t errlen)
{
	uint64_t st_size;
	uint8_t *buf;
	char why[256];

	/* The size first: a wrong one is refused without reading the image. */
	if (input_file_size(path, UINT64_MAX, &st_size, why, sizeof(why)) ||
	    bios_image_layout(st_size, NULL, why, sizeof(why))) {
		errmsg(err, errlen, "--bios %s: %s", path, why);
		return NULL;
	}
	buf = input_file_read(path, st_size, size, why, sizeof(why));
	if (!buf)
		errmsg(err, errlen, "--bios %s: %s", path, why);
	return buf;
}

int bios_image_check(const char *path, char *err, size_t errlen)
{
	size_t size;
	uint8_t *buf = bios_image_read(path, &size, err, errlen);

	if (!buf)
		return -1;
	free(buf);
	return 0;
}
