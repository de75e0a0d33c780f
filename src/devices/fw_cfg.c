#include "devices/fw_cfg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/fw_cfg_store.h"

struct fw_cfg {
	pthread_mutex_t lock; /* vCPUs share the selector, as on real hardware */
	struct fw_cfg_store store;
	void *files[FW_CFG_MAX_FILES]; /* the files' bytes, which the store points into */
};

struct fw_cfg *fw_cfg_create(unsigned int ncpus, uint64_t ram_bytes)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	fw_cfg_store_init(&f->store, ncpus, ram_bytes);
	return f;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	for (unsigned int i = 0; i < FW_CFG_MAX_FILES; i++)
		free(f->files[i]);
	free(f);
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len)
{
	unsigned int n = f->store.nfiles;
	void *copy;

	if (n >= FW_CFG_MAX_FILES || len > UINT32_MAX || !(copy = malloc(len ? len : 1)))
		return -1;
	memcpy(copy, data, len);
	pthread_mutex_lock(&f->lock);
	if (fw_cfg_store_add_file(&f->store, name, copy, (uint32_t)len)) {
		pthread_mutex_unlock(&f->lock);
		free(copy);
		return -1;
	}
	f->files[n] = copy;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int fw_cfg_pio(void *opaque, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size)
{
	struct fw_cfg *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (port == FW_CFG_PORT_SEL) {
		if (is_write)
			fw_cfg_store_select(&f->store, (uint16_t)*data);
		else
			*data = 0;
	} else if (is_write) {
		/* The data port is read-only on fw_cfg revision 2+: writes are ignored. */
	} else {
		/* A wider read takes that many bytes in a row, lowest first. */
		uint32_t v = 0;

		for (unsigned int i = 0; i < size; i++)
			v |= (uint32_t)fw_cfg_store_read(&f->store) << (8 * i);
		*data = v;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void fw_cfg_save(struct fw_cfg *f, struct fw_cfg_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&f->lock);
	if (f->store.cur) {
		s->key = f->store.cur->key;
		s->known = 1;
	}
	s->offset = f->store.offset;
	pthread_mutex_unlock(&f->lock);
}

int fw_cfg_load(struct fw_cfg *f, const struct fw_cfg_state *s, char *err, size_t errlen)
{
	int ret = 0;

	if (s->known > 1 || s->pad || (!s->known && s->key))
		return errmsg(err, errlen, "fw_cfg: malformed state");
	pthread_mutex_lock(&f->lock);
	if (s->known) {
		fw_cfg_store_select(&f->store, s->key);
		if (!f->store.cur || f->store.cur->key != s->key)
			ret = errmsg(err, errlen, "fw_cfg: item 0x%04x, selected in the snapshot, is not on this machine",
				     s->key);
	} else {
		f->store.cur = NULL;
	}
	if (!ret)
		f->store.offset = s->offset;
	pthread_mutex_unlock(&f->lock);
	return ret;
}
