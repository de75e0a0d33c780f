/*
 * libFuzzer target: the snapshot file reader (core/snapshot_file.c). Byte
 * 0 bit 0 asks for the checksums to be made right before parsing (the
 * rest of the input laid out as the format says: a header, then sections
 * by their lengths, then END), so that mutations reach the layout and RAM
 * record checks behind the CRCs instead of stopping at them; with the bit
 * clear the input is parsed as it is. Every section that parses is then
 * read as RAM of the size it claims (up to 1 MiB), as a restore would.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The checksums a writer would have put there, as far as the layout goes. */
static void fix_crcs(uint8_t *b, size_t size)
{
	uint32_t chain;
	size_t off = SNAP_HEADER_SIZE;

	if (size < SNAP_HEADER_SIZE)
		return;
	put32(b + 28, snap_crc32c(0, b, 28));
	chain = snap_crc32c(0, b, SNAP_HEADER_SIZE);
	while (size - off >= SNAP_SECTION_HEADER_SIZE) {
		uint8_t *h = b + off;
		uint64_t len;
		uint32_t tag;

		memcpy(&tag, h, 4);
		memcpy(&len, h + 8, 8);
		if (len > size - off - SNAP_SECTION_HEADER_SIZE)
			len = size - off - SNAP_SECTION_HEADER_SIZE; /* cut short: make it fit */
		memcpy(h + 8, &len, 8);
		if (tag == SNAP_TAG_END && len >= 4)
			put32(h + SNAP_SECTION_HEADER_SIZE, chain);
		put32(h + 16, snap_crc32c(0, h + SNAP_SECTION_HEADER_SIZE, len));
		put32(h + 20, snap_crc32c(0, h, 20));
		if (tag == SNAP_TAG_END)
			return;
		chain = snap_crc32c(chain, h, SNAP_SECTION_HEADER_SIZE);
		len += (8 - len % 8) % 8;
		if (len > size - off - SNAP_SECTION_HEADER_SIZE)
			return;
		off += SNAP_SECTION_HEADER_SIZE + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_file f;
	uint8_t *b;
	char err[256];

	if (size < 1)
		return 0;
	b = malloc(size);
	if (!b)
		return 0;
	memcpy(b, data + 1, size - 1);
	if (data[0] & 1)
		fix_crcs(b, size - 1);
	if (snap_file_parse(&f, b, size - 1, "fuzz", err, sizeof(err)) == 0) {
		for (unsigned int i = 0; i < f.nsections; i++) {
			const struct snap_section *s = &f.sections[i];
			uint64_t ram;
			uint8_t *mem;

			if (s->len < 8)
				continue;
			memcpy(&ram, s->data, 8);
			(void)snap_file_ram_pages(s);
			if (ram > (1u << 20) || !(mem = calloc(1, ram ? ram : 1)))
				continue;
			(void)snap_file_ram(s, mem, ram, err, sizeof(err));
			free(mem);
		}
		snap_file_close(&f);
	}
	free(b);
	return 0;
}
