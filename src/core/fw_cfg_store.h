/*
 * The data behind the fw_cfg device (QEMU's firmware configuration
 * interface): a selector and items of bytes read one at a time with
 * auto-increment. KVM-free so unit tests drive it; devices/fw_cfg.c puts it
 * on I/O ports 0x510 (selector, 16-bit write) and 0x511 (data, 8-bit read).
 *
 * Items mpvm serves (all little-endian unless noted):
 *   0x0000 signature   "QEMU"
 *   0x0001 ID          u32 1 (traditional interface, no DMA)
 *   0x0003 RAM size    u64 bytes (--memory)
 *   0x0005 NB_CPUS     u16 (--cpus)
 *   0x000f MAX_CPUS    u16 (--cpus)
 *   0x0019 file dir    u32 count, big-endian; no files (count 0)
 * Any other key reads as zeros, as an unknown key does on QEMU; reading past
 * the end of an item also gives zeros.
 */
#ifndef MPVM_CORE_FW_CFG_STORE_H
#define MPVM_CORE_FW_CFG_STORE_H

#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL   0x510
#define FW_CFG_PORT_DATA  0x511

#define FW_CFG_SIGNATURE  0x0000
#define FW_CFG_ID         0x0001
#define FW_CFG_RAM_SIZE   0x0003
#define FW_CFG_NB_CPUS    0x0005
#define FW_CFG_MAX_CPUS   0x000f
#define FW_CFG_FILE_DIR   0x0019

#define FW_CFG_MAX_ITEMS  8

struct fw_cfg_item {
	uint16_t key;
	uint8_t len;
	uint8_t data[8];
};

struct fw_cfg_store {
	struct fw_cfg_item item[FW_CFG_MAX_ITEMS];
	unsigned int nitems;
	const struct fw_cfg_item *cur; /* NULL: an unknown key */
	uint32_t offset;
};

void fw_cfg_store_init(struct fw_cfg_store *s, unsigned int ncpus, uint64_t ram_bytes);
void fw_cfg_store_select(struct fw_cfg_store *s, uint16_t key);
uint8_t fw_cfg_store_read(struct fw_cfg_store *s);

#endif
