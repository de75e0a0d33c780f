/* fw_cfg items and the selector/offset state (see fw_cfg_store.h). */
#include "core/fw_cfg_store.h"

#include <string.h>

/* Bit 14 of a selector is the write channel (mpvm has nothing writable): ignored. */
#define FW_CFG_KEY_MASK 0xbfffu

static void add(struct fw_cfg_store *s, uint16_t key, const void *data, uint8_t len)
{
	struct fw_cfg_item *it = &s->item[s->nitems++];

	it->key = key;
	it->len = len;
	memcpy(it->data, data, len);
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
	add(s, FW_CFG_FILE_DIR, (uint8_t[4]){ 0, 0, 0, 0 }, 4); /* big-endian count 0 */
	fw_cfg_store_select(s, FW_CFG_SIGNATURE);
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
	return s->cur->data[s->offset++];
}
