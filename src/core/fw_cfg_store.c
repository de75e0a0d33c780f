/* fw_cfg items and the selector/offset state (see fw_cfg_store.h). */
#include "core/fw_cfg_store.h"

#include <string.h>

/* Bit 14 of a selector is the write channel (mpvm has nothing writable): ignored. */
#define FW_CFG_KEY_MASK 0xbfffu

static struct fw_cfg_item *add(struct fw_cfg_store *s, uint16_t key, const void *data, uint8_t len)
{
	struct fw_cfg_item *it = &s->item[s->nitems++];

	it->key = key;
	it->len = len;
	if (len)
		memcpy(it->data, data, len);
	return it;
}

static void put_be(uint8_t *p, uint32_t v, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
}

static void add_le(struct fw_cfg_store *s, uint16_t key, uint64_t v, uint8_t len)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	add(s, key, b, len);
}

void fw_cfg_store_init(struct fw_cfg_store *s, unsigned int ncpus, uint64_t ram_bytes)
{
	*s = (struct fw_cfg_store){ 0 };
	add(s, FW_CFG_SIGNATURE, "QEMU", 4);
	add_le(s, FW_CFG_ID, 1, 4);
	add_le(s, FW_CFG_RAM_SIZE, ram_bytes, 8);
	add_le(s, FW_CFG_NB_CPUS, ncpus, 2);
	add_le(s, FW_CFG_MAX_CPUS, ncpus, 2);
	/* The directory: a big-endian count (0 until a file comes), then the entries. */
	struct fw_cfg_item *dir = add(s, FW_CFG_FILE_DIR, NULL, 0);
	dir->ext = s->dir;
	dir->len = 4;
	fw_cfg_store_select(s, FW_CFG_SIGNATURE);
}

int fw_cfg_store_add_file(struct fw_cfg_store *s, const char *name, const void *data, uint32_t len)
{
	size_t nl = strlen(name);
	uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + s->nfiles);
	uint8_t *e = s->dir + 4 + s->nfiles * FW_CFG_DIR_ENTRY;
	struct fw_cfg_item *it, *dir = NULL;

	if (nl >= FW_CFG_FILE_NAME || s->nfiles >= FW_CFG_MAX_FILES || s->nitems >= FW_CFG_MAX_ITEMS)
		return -1;
	it = add(s, key, NULL, 0);
	it->ext = data;
	it->len = len;
	/* QEMU's struct FWCfgFile: size, select, reserved, name; the numbers big-endian. */
	memset(e, 0, FW_CFG_DIR_ENTRY);
	put_be(e, len, 4);
	put_be(e + 4, key, 2);
	memcpy(e + 8, name, nl);
	s->nfiles++;
	put_be(s->dir, s->nfiles, 4);
	for (unsigned int i = 0; i < s->nitems; i++)
		if (s->item[i].key == FW_CFG_FILE_DIR)
			dir = &s->item[i];
	dir->len = 4 + s->nfiles * FW_CFG_DIR_ENTRY;
	return 0;
}

void fw_cfg_store_select(struct fw_cfg_store *s, uint16_t key)
{
	key &= FW_CFG_KEY_MASK;
	s->cur = NULL;
	s->offset = 0;
	for (unsigned int i = 0; i < s->nitems; i++)
		if (s->item[i].key == key)
			s->cur = &s->item[i];
}

uint8_t fw_cfg_store_read(struct fw_cfg_store *s)
{
	if (!s->cur || s->offset >= s->cur->len)
		return 0;
	return (s->cur->ext ? s->cur->ext : s->cur->data)[s->offset++];
}
