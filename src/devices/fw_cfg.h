/*
 * fw_cfg (QEMU's firmware configuration interface), the traditional I/O
 * port interface only: selector at 0x510 (16-bit write), data at 0x511
 * (8-bit reads with auto-increment). No DMA. The items are in
 * core/fw_cfg_store.h.
 */
#ifndef MPVM_DEVICES_FW_CFG_H
#define MPVM_DEVICES_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define FW_CFG_PORTS 2 /* 0x510-0x511 */

struct fw_cfg *fw_cfg_create(unsigned int ncpus, uint64_t ram_bytes);
void fw_cfg_destroy(struct fw_cfg *f);
/*
 * Adds a file (a copy of data[0..len)) before the guest runs: firmware
 * finds it by name in the file directory, as QEMU's fw_cfg files. 0, or -1
 * (out of memory, a name of 56 bytes or more, too many files).
 */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len);
/* The port-bus handler for ports 0x510-0x511; opaque is the struct fw_cfg. */
int fw_cfg_pio(void *opaque, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size);

/*
 * What a snapshot keeps (kvm/snapshot.c): the selected item and the read
 * position in it. The items themselves are rebuilt from the options.
 */
struct fw_cfg_state {
	uint16_t key;     /* the selected item's key; unused when !known */
	uint8_t known;    /* 0: the guest selected a key with no item (it reads zeros) */
	uint8_t pad;
	uint32_t offset;
};

void fw_cfg_save(struct fw_cfg *f, struct fw_cfg_state *s);
/* -1 with the reason in err (an item this machine does not have); nothing changed then. */
int fw_cfg_load(struct fw_cfg *f, const struct fw_cfg_state *s, char *err, size_t errlen);

#endif
