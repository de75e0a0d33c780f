#include "core/snapshot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errmsg.h"
#include "core/input_file.h"

/* ---- CRC-32C, reflected polynomial 0x82F63B78, eight bytes a step ------- */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t snap_crc32c(uint32_t crc, const void *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const uint8_t *b = p;

	pthread_once(&once, crc_init);
	crc = ~crc;
	while (n && ((uintptr_t)b & 7)) {
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *b++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint64_t v;

		memcpy(&v, b, 8); /* little-endian host (x86-64 only) */
		v ^= crc;
		crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^ crc_table[5][(v >> 16) & 0xff] ^
		      crc_table[4][(v >> 24) & 0xff] ^ crc_table[3][(v >> 32) & 0xff] ^
		      crc_table[2][(v >> 40) & 0xff] ^ crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		b += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *b++) & 0xff];
	return ~crc;
}

const char *snap_tag_name(uint32_t tag, char out[5])
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(tag >> (8 * i));

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[4] = '\0';
	for (int i = 3; i > 0 && out[i] == ' '; i--) /* "RAM " reads "RAM" in messages */
		out[i] = '\0';
	return out;
}

static bool tag_printable(uint32_t tag)
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(tag >> (8 * i));

		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* ---- writing ------------------------------------------------------------ */

static int w_fail(struct snap_writer *w, char *err, size_t errlen)
{
	return errmsg(err, errlen, "%s: writing the snapshot: %s", w->af.path,
		      strerror(w->error ? w->error : EIO));
}

static int w_write(struct snap_writer *w, const void *p, size_t n)
{
	if (w->error)
		return -1;
	if (n && fwrite(p, 1, n, w->af.f) != n) {
		w->error = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

/* The file header, first in either kind of writer. */
static int write_header(struct snap_writer *w, char *err, size_t errlen)
{
	uint8_t h[SNAP_HEADER_SIZE] = { 0 };

	memcpy(h, SNAP_MAGIC, 8);
	put32(h + 8, SNAP_VERSION);
	put32(h + 12, SNAP_HEADER_SIZE);
	put32(h + 28, snap_crc32c(0, h, 28));
	w->chain = snap_crc32c(0, h, sizeof(h));
	if (w_write(w, h, sizeof(h))) {
		w_fail(w, err, errlen);
		snap_writer_discard(w);
		return -1;
	}
	return 0;
}

int snap_writer_open(struct snap_writer *w, const char *path, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	if (atomic_file_begin(&w->af, path, err, errlen))
		return -1;
	return write_header(w, err, errlen);
}

int snap_writer_open_memory(struct snap_writer *w, const char *what, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->memory = true;
	w->af.path = strdup(what);
	/* A memory stream seeks and overwrites as a file does: snap_writer_end() rewrites each section header. */
	w->af.f = w->af.path ? open_memstream(&w->mem, &w->mem_len) : NULL;
	if (!w->af.f) {
		free(w->af.path);
		memset(w, 0, sizeof(*w));
		return errmsg(err, errlen, "%s: out of memory", what);
	}
	return write_header(w, err, errlen);
}

static void section_header(uint8_t h[SNAP_SECTION_HEADER_SIZE], uint32_t tag, uint32_t index, uint64_t len,
			   uint32_t crc)
{
	put32(h, tag);
	put32(h + 4, index);
	put64(h + 8, len);
	put32(h + 16, crc);
	put32(h + 20, snap_crc32c(0, h, 20));
}

int snap_writer_begin(struct snap_writer *w, uint32_t tag, uint32_t index, char *err, size_t errlen)
{
	uint8_t h[SNAP_SECTION_HEADER_SIZE] = { 0 };
	char name[5];

	if (w->open || !tag_printable(tag) || tag == SNAP_TAG_END)
		return errmsg(err, errlen, "%s: section %s: %s", w->af.path, snap_tag_name(tag, name),
			      w->open ? "another section is still open" : "not a tag for a section");
	w->start = ftell(w->af.f);
	if (w->start < 0) {
		w->error = errno;
		return w_fail(w, err, errlen);
	}
	/* A placeholder, rewritten by snap_writer_end() once length and CRC are known. */
	if (w_write(w, h, sizeof(h)))
		return w_fail(w, err, errlen);
	w->open = true;
	w->tag = tag;
	w->index = index;
	w->crc = 0;
	w->len = 0;
	return 0;
}

int snap_writer_append(struct snap_writer *w, const void *data, size_t len, char *err, size_t errlen)
{
	if (!w->open)
		return errmsg(err, errlen, "%s: no section is open", w->af.path);
	if (w_write(w, data, len))
		return w_fail(w, err, errlen);
	w->crc = snap_crc32c(w->crc, data, len);
	w->len += len;
	return 0;
}

int snap_writer_end(struct snap_writer *w, char *err, size_t errlen)
{
	static const uint8_t zeros[8];
	uint8_t h[SNAP_SECTION_HEADER_SIZE];
	long end;

	if (!w->open)
		return errmsg(err, errlen, "%s: no section is open", w->af.path);
	w->open = false;
	if (w_write(w, zeros, (8 - w->len % 8) % 8))
		return w_fail(w, err, errlen);
	section_header(h, w->tag, w->index, w->len, w->crc);
	w->chain = snap_crc32c(w->chain, h, sizeof(h));
	end = ftell(w->af.f);
	if (end < 0 || fseek(w->af.f, w->start, SEEK_SET) || w_write(w, h, sizeof(h)) ||
	    fseek(w->af.f, end, SEEK_SET)) {
		if (!w->error)
			w->error = errno;
		return w_fail(w, err, errlen);
	}
	return 0;
}

int snap_writer_section(struct snap_writer *w, uint32_t tag, uint32_t index, const void *data, size_t len,
			char *err, size_t errlen)
{
	if (snap_writer_begin(w, tag, index, err, errlen) || snap_writer_append(w, data, len, err, errlen))
		return -1;
	return snap_writer_end(w, err, errlen);
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;

	for (unsigned int i = 0; i < SNAP_PAGE_SIZE / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

/*
 * Which pages of [mem, mem + size) the host has behind them (mincore()):
 * a page never touched has none and reads as zeros, so it is skipped
 * without being read (reading it would only map the zero page). NULL if
 * mincore() cannot say (memory that is not page-aligned, a file mapping
 * it refuses): then every page is read.
 */
static unsigned char *resident_pages(const uint8_t *mem, uint64_t size)
{
	unsigned char *vec;

	if ((uintptr_t)mem % SNAP_PAGE_SIZE || !size)
		return NULL;
	vec = malloc(size / SNAP_PAGE_SIZE);
	if (vec && mincore((void *)(uintptr_t)mem, size, vec)) {
		free(vec);
		vec = NULL;
	}
	return vec;
}

/* A page to write: one the host has and whose bytes are not all zero. */
static bool page_data(const uint8_t *mem, const unsigned char *vec, uint64_t pg)
{
	return (!vec || (vec[pg] & 1)) && !page_zero(mem + pg * SNAP_PAGE_SIZE);
}

int snap_writer_ram(struct snap_writer *w, uint32_t tag, uint32_t index, const uint8_t *mem, uint64_t size,
		    char *err, size_t errlen)
{
	uint64_t npages = size / SNAP_PAGE_SIZE, pg = 0;
	unsigned char *vec;
	uint8_t hdr[16];
	int ret = -1;

	if (size % SNAP_PAGE_SIZE)
		return errmsg(err, errlen, "%s: RAM size %" PRIu64 " is not a multiple of 4096", w->af.path, size);
	if (snap_writer_begin(w, tag, index, err, errlen))
		return -1;
	put64(hdr, size);
	if (snap_writer_append(w, hdr, 8, err, errlen))
		return -1;
	vec = resident_pages(mem, size);
	while (pg < npages) {
		uint64_t first;

		while (pg < npages && !page_data(mem, vec, pg))
			pg++;
		if (pg == npages)
			break;
		first = pg;
		while (pg < npages && page_data(mem, vec, pg))
			pg++;
		put64(hdr, first * SNAP_PAGE_SIZE);
		put64(hdr + 8, pg - first);
		if (snap_writer_append(w, hdr, 16, err, errlen) ||
		    snap_writer_append(w, mem + first * SNAP_PAGE_SIZE, (pg - first) * SNAP_PAGE_SIZE, err, errlen))
			goto out;
	}
	ret = snap_writer_end(w, err, errlen);
out:
	free(vec);
	return ret;
}

/* The END section: the chained CRC of every header. On -1 (the reason in err) the writer is discarded. */
static int write_end(struct snap_writer *w, char *err, size_t errlen)
{
	uint8_t h[SNAP_SECTION_HEADER_SIZE], p[8] = { 0 };

	if (w->open) {
		errmsg(err, errlen, "%s: a section is still open", w->af.path);
		snap_writer_discard(w);
		return -1;
	}
	put32(p, w->chain);
	section_header(h, SNAP_TAG_END, 0, 4, snap_crc32c(0, p, 4));
	if (w_write(w, h, sizeof(h)) || w_write(w, p, 8)) {
		w_fail(w, err, errlen);
		snap_writer_discard(w);
		return -1;
	}
	return 0;
}

int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen)
{
	char *path = NULL, *dir = NULL;
	int fd, ret = -1;

	if (write_end(w, err, errlen))
		return -1;
	path = strdup(w->af.path);
	dir = atomic_file_folder(w->af.path);
	if (!path || !dir) {
		errmsg(err, errlen, "%s: out of memory", w->af.path);
		snap_writer_discard(w);
		goto out;
	}
	if (atomic_file_commit(&w->af, err, errlen))
		goto out;
	/* The rename is durable once the folder's entry is: fsync the folder. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		errmsg(err, errlen, "%s: written, but its folder %s could not be synced: %s", path, dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	ret = 0;
out:
	free(path);
	free(dir);
	return ret;
}

int snap_writer_finish_memory(struct snap_writer *w, void **data, size_t *len, char *err, size_t errlen)
{
	if (write_end(w, err, errlen))
		return -1;
	/* fclose() sets mem and mem_len last (they are only valid once the stream is flushed). */
	if (fclose(w->af.f)) {
		w->af.f = NULL;
		errmsg(err, errlen, "%s: out of memory", w->af.path);
		snap_writer_discard(w);
		return -1;
	}
	*data = w->mem;
	*len = w->mem_len;
	free(w->af.path);
	memset(w, 0, sizeof(*w));
	return 0;
}

void snap_writer_discard(struct snap_writer *w)
{
	if (w->memory) {
		if (w->af.f)
			fclose(w->af.f);
		free(w->mem);
		free(w->af.path);
	} else {
		atomic_file_discard(&w->af);
	}
	memset(w, 0, sizeof(*w));
}

/* ---- reading ------------------------------------------------------------ */

int snap_file_parse(struct snap_file *f, const void *data, size_t size, const char *what, char *err,
		    size_t errlen)
{
	const uint8_t *d = data;
	uint32_t chain, v;
	uint64_t flags, off;
	unsigned int cap = 0;
	char name[5];

	memset(f, 0, sizeof(*f));
	f->data = d;
	f->size = size;
	if (size < 8 || memcmp(d, SNAP_MAGIC, 8))
		return errmsg(err, errlen, "%s: not an mpvm snapshot (the file does not start with \"%s\")", what,
			      SNAP_MAGIC);
	if (size < SNAP_HEADER_SIZE)
		return errmsg(err, errlen, "%s: truncated: %zu bytes, shorter than the %u-byte header", what, size,
			      SNAP_HEADER_SIZE);
	if (get32(d + 28) != snap_crc32c(0, d, 28))
		return errmsg(err, errlen, "%s: the file header's checksum does not match (the header is corrupt)",
			      what);
	v = get32(d + 8);
	if (v > SNAP_VERSION)
		return errmsg(err, errlen, "%s: written by a newer mpvm (format version %u; this mpvm reads %u)", what,
			      v, SNAP_VERSION);
	if (v != SNAP_VERSION)
		return errmsg(err, errlen, "%s: format version %u, which this mpvm does not read (it reads %u)", what, v,
			      SNAP_VERSION);
	if (get32(d + 12) != SNAP_HEADER_SIZE)
		return errmsg(err, errlen, "%s: header size %u, expected %u", what, get32(d + 12), SNAP_HEADER_SIZE);
	flags = get64(d + 16);
	if (flags || get32(d + 24))
		return errmsg(err, errlen, "%s: unknown flags 0x%" PRIx64 " in the header", what, flags);
	f->version = v;
	chain = snap_crc32c(0, d, SNAP_HEADER_SIZE);
	off = SNAP_HEADER_SIZE;
	for (;;) {
		const uint8_t *h = d + off;
		uint64_t len, padded;
		uint32_t tag, index;

		if (size - off < SNAP_SECTION_HEADER_SIZE) {
			errmsg(err, errlen, "%s: truncated at byte %" PRIu64 " (%s)", what, off,
			       off == size ? "the END section is missing" : "in a section header");
			goto fail;
		}
		tag = get32(h);
		index = get32(h + 4);
		len = get64(h + 8);
		if (get32(h + 20) != snap_crc32c(0, h, 20)) {
			errmsg(err, errlen, "%s: the section header at byte %" PRIu64 " is corrupt (checksum mismatch)",
			       what, off);
			goto fail;
		}
		if (!tag_printable(tag)) {
			errmsg(err, errlen, "%s: the section at byte %" PRIu64 " has a tag that is not text", what, off);
			goto fail;
		}
		snap_tag_name(tag, name);
		padded = len + (8 - len % 8) % 8;
		if (len > size || padded > size - off - SNAP_SECTION_HEADER_SIZE) {
			errmsg(err, errlen,
			       "%s: truncated: section %s#%u at byte %" PRIu64 " holds %" PRIu64
			       " bytes, the file ends %" PRIu64 " bytes after its header",
			       what, name, index, off, len, size - off - SNAP_SECTION_HEADER_SIZE);
			goto fail;
		}
		if (get32(h + 16) != snap_crc32c(0, h + SNAP_SECTION_HEADER_SIZE, len)) {
			errmsg(err, errlen, "%s: section %s#%u at byte %" PRIu64 ": its contents are corrupt (checksum mismatch)",
			       what, name, index, off);
			goto fail;
		}
		for (uint64_t i = len; i < padded; i++)
			if (h[SNAP_SECTION_HEADER_SIZE + i]) {
				errmsg(err, errlen, "%s: section %s#%u at byte %" PRIu64 ": nonzero padding", what, name,
				       index, off);
				goto fail;
			}
		if (tag == SNAP_TAG_END) {
			uint64_t end = off + SNAP_SECTION_HEADER_SIZE + padded;

			if (len != 4 || index) {
				errmsg(err, errlen, "%s: the END section at byte %" PRIu64 " is malformed", what, off);
				goto fail;
			}
			if (get32(h + SNAP_SECTION_HEADER_SIZE) != chain) {
				errmsg(err, errlen, "%s: the whole-file checksum does not match (sections were changed, "
				       "removed or reordered)", what);
				goto fail;
			}
			if (end != size) {
				errmsg(err, errlen, "%s: %" PRIu64 " bytes after the END section", what, size - end);
				goto fail;
			}
			return 0;
		}
		chain = snap_crc32c(chain, h, SNAP_SECTION_HEADER_SIZE);
		if (snap_file_find(f, tag, index)) {
			errmsg(err, errlen, "%s: section %s#%u appears twice (again at byte %" PRIu64 ")", what, name,
			       index, off);
			goto fail;
		}
		if (f->nsections == cap) {
			struct snap_section *n;

			cap = cap ? 2 * cap : 16;
			n = realloc(f->sections, cap * sizeof(*n));
			if (!n) {
				errmsg(err, errlen, "%s: out of memory", what);
				goto fail;
			}
			f->sections = n;
		}
		f->sections[f->nsections++] = (struct snap_section){
			.tag = tag,
			.index = index,
			.offset = off + SNAP_SECTION_HEADER_SIZE,
			.len = len,
			.data = h + SNAP_SECTION_HEADER_SIZE,
		};
		off += SNAP_SECTION_HEADER_SIZE + padded;
	}
fail:
	free(f->sections);
	f->sections = NULL;
	f->nsections = 0;
	return -1;
}

int snap_file_open(struct snap_file *f, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *m;
	int fd;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		errmsg(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg(err, errlen, "%s: not a regular file (%s)", path, input_file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return errmsg(err, errlen, "%s: empty, not an mpvm snapshot", path);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return errmsg(err, errlen, "%s: %s", path, strerror(errno));
	if (snap_file_parse(f, m, (size_t)st.st_size, path, err, errlen)) {
		munmap(m, (size_t)st.st_size);
		memset(f, 0, sizeof(*f));
		return -1;
	}
	f->mapped = true;
	return 0;
}

void snap_file_close(struct snap_file *f)
{
	if (f->mapped)
		munmap((void *)(uintptr_t)f->data, f->size);
	free(f->sections);
	memset(f, 0, sizeof(*f));
}

const struct snap_section *snap_file_find(const struct snap_file *f, uint32_t tag, uint32_t index)
{
	for (unsigned int i = 0; i < f->nsections; i++)
		if (f->sections[i].tag == tag && f->sections[i].index == index)
			return &f->sections[i];
	return NULL;
}

int snap_file_get(const struct snap_file *f, uint32_t tag, uint32_t index, void *out, size_t len, char *err,
		  size_t errlen)
{
	const struct snap_section *s = snap_file_find(f, tag, index);
	char name[5];

	if (!s)
		return errmsg(err, errlen, "section %s#%u: missing", snap_tag_name(tag, name), index);
	if (s->len != len)
		return errmsg(err, errlen, "section %s#%u: %" PRIu64 " bytes, expected %zu", snap_tag_name(tag, name),
			      index, s->len, len);
	memcpy(out, s->data, len);
	return 0;
}

/* Walks the records; with mem NULL only checks them. Returns pages or -1. */
static int64_t ram_walk(const struct snap_section *s, uint8_t *mem, uint64_t size, char *err, size_t errlen)
{
	uint64_t off = 8, next = 0, pages = 0;
	char name[5];

	snap_tag_name(s->tag, name);
	if (s->len < 8)
		return errmsg(err, errlen, "section %s#%u: %" PRIu64 " bytes, too short for RAM", name, s->index,
			      s->len);
	if (get64(s->data) != size)
		return errmsg(err, errlen, "section %s#%u: holds %" PRIu64 " bytes of RAM, expected %" PRIu64, name,
			      s->index, get64(s->data), size);
	while (off < s->len) {
		uint64_t at, n;

		if (s->len - off < 16)
			return errmsg(err, errlen, "section %s#%u: a record cut short at byte %" PRIu64, name, s->index,
				      off);
		at = get64(s->data + off);
		n = get64(s->data + off + 8);
		off += 16;
		if (at % SNAP_PAGE_SIZE || at < next || n == 0 || at >= size ||
		    n > (size - at) / SNAP_PAGE_SIZE)
			return errmsg(err, errlen,
				      "section %s#%u: a record of %" PRIu64 " pages at 0x%" PRIx64
				      " is not page-aligned, out of order or outside RAM",
				      name, s->index, n, at);
		if (n > (s->len - off) / SNAP_PAGE_SIZE)
			return errmsg(err, errlen, "section %s#%u: the record at 0x%" PRIx64 " is cut short", name,
				      s->index, at);
		if (mem)
			memcpy(mem + at, s->data + off, n * SNAP_PAGE_SIZE);
		off += n * SNAP_PAGE_SIZE;
		next = at + n * SNAP_PAGE_SIZE;
		pages += n;
	}
	return (int64_t)pages;
}

int snap_file_ram(const struct snap_section *s, uint8_t *mem, uint64_t size, char *err, size_t errlen)
{
	/* Check every record before copying any, so a bad file leaves RAM untouched. */
	if (ram_walk(s, NULL, size, err, errlen) < 0 || ram_walk(s, mem, size, err, errlen) < 0)
		return -1;
	return 0;
}

uint64_t snap_file_ram_pages(const struct snap_section *s)
{
	int64_t n;

	if (s->len < 8)
		return 0;
	n = ram_walk(s, NULL, get64(s->data), NULL, 0);
	return n < 0 ? 0 : (uint64_t)n;
}
