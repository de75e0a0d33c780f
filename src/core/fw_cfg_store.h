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
 *   0x0019 file dir    u32 count, big-endian, then per file (QEMU's
 *                      FWCfgFile): u32 size, u16 key, u16 reserved (all
 *                      big-endian), name[56] NUL-padded
 *   0x0020-            the files, in the order they were added (with --bios:
 *                      etc/smbios/smbios-anchor and etc/smbios/smbios-tables)
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
#define FW_CFG_FILE_FIRST 0x0020

#define FW_CFG_MAX_FILES  4
#define FW_CFG_MAX_ITEMS  (8 + FW_CFG_MAX_FILES)
#define FW_CFG_FILE_NAME  56 /* bytes of a directory entry's name, its NUL included */
#define FW_CFG_DIR_ENTRY  64

struct fw_cfg_item {
	uint16_t key;
	uint32_t len;
	const uint8_t *ext;        /* a file's bytes (the caller's) or the directory; NULL: data[] */
	uint8_t data[8];
};

struct fw_cfg_store {
	struct fw_cfg_item item[FW_CFG_MAX_ITEMS];
	unsigned int nitems, nfiles;
	uint8_t dir[4 + FW_CFG_MAX_FILES * FW_CFG_DIR_ENTRY]; /* the file directory's bytes */
	const struct fw_cfg_item *cur; /* NULL: an unknown key */
	uint32_t offset;
};

void fw_cfg_store_init(struct fw_cfg_store *s, unsigned int ncpus, uint64_t ram_bytes);
void fw_cfg_store_select(struct fw_cfg_store *s, uint16_t key);
uint8_t fw_cfg_store_read(struct fw_cfg_store *s);
/*
 * A file `name` (at most 55 bytes) of len bytes at data, which the caller
 * keeps for the store's lifetime; it gets the next key from 0x0020 and an
 * entry in the directory. 0, or -1 if the name is too long or
 * FW_CFG_MAX_FILES are there already.
 */
int fw_cfg_store_add_file(struct fw_cfg_store *s, const char *name, const void *data, uint32_t len);

#endif
