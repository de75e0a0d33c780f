/*
 * The snapshot file: a versioned container of tagged, checksummed sections
 * (README, "Snapshot file format"). KVM-free: kvm/snapshot.c decides what
 * goes in each section; this file only writes and checks the container,
 * and the sparse guest-RAM section.
 *
 * Layout (every integer little-endian, every section 8-byte aligned):
 *
 *   file header, 32 bytes
 *      0  magic "MPVMSNAP"
 *      8  u32 format version (SNAP_VERSION)
 *     12  u32 header size (32)
 *     16  u64 flags (0; a reader refuses bits it does not know)
 *     24  u32 reserved (0)
 *     28  u32 CRC-32C of bytes 0-27
 *   then sections, each
 *      0  char tag[4]            "VCPU", "RAM ", ... (printable ASCII)
 *      4  u32 index              which one of its kind (the vCPU number), else 0
 *      8  u64 payload length
 *     16  u32 CRC-32C of the payload
 *     20  u32 CRC-32C of bytes 0-19
 *     24  the payload, then zero bytes up to the next multiple of 8
 *   and last the section "END " (index 0, 4-byte payload): the CRC-32C
 *   chained over the file header and every section header before it.
 *   Each section header holds its payload's CRC, so the END checksum covers
 *   the whole file while a reader checks it from the headers alone.
 *
 * A reader refuses (with a message naming the offset and what was wrong):
 * a wrong magic, another version, unknown flags, a bad header or payload
 * CRC, a section that runs past the end, a tag that is not printable, two
 * sections with the same tag and index, nonzero padding, no END section,
 * bytes after it, or an END checksum that does not match.
 */
#ifndef MPVM_CORE_SNAPSHOT_FILE_H
#define MPVM_CORE_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/atomic_file.h"

#define SNAP_MAGIC "MPVMSNAP"
#define SNAP_VERSION 1u
#define SNAP_HEADER_SIZE 32u
#define SNAP_SECTION_HEADER_SIZE 24u
#define SNAP_PAGE_SIZE 4096u

/* A tag from four characters: SNAP_TAG('V','C','P','U'). Stored in file order. */
#define SNAP_TAG(a, b, c, d) \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
	 (uint32_t)(uint8_t)(d) << 24)
#define SNAP_TAG_END SNAP_TAG('E', 'N', 'D', ' ')

/* CRC-32C (Castagnoli, as iSCSI and ext4 use): crc32c(0, p, n) of a buffer, chained with crc32c(prev, ...). */
uint32_t snap_crc32c(uint32_t crc, const void *p, size_t n);

/* "VCPU" for a tag, into a 5-byte buffer (trailing spaces dropped, non-printable bytes as '?'). */
const char *snap_tag_name(uint32_t tag, char out[5]);

/* ---- writing ------------------------------------------------------------ */

struct snap_writer {
	struct atomic_file af;
	uint32_t chain;      /* CRC-32C over the file header and section headers so far */
	/* The section being streamed (snap_writer_begin() ... _end()). */
	bool open;
	uint32_t tag, index, crc;
	uint64_t len;
	long start;          /* file offset of its header */
	int error;           /* errno of the first failed write, reported at the end */
	/* snap_writer_open_memory(): the container goes to a buffer (open_memstream), not a file. */
	bool memory;
	char *mem;
	size_t mem_len;
};

/* Opens "PATH.tmp.XXXXXX" beside path and writes the file header. -1 with "PATH: reason" in err. */
int snap_writer_open(struct snap_writer *w, const char *path, char *err, size_t errlen);
/* One whole section. -1 with the reason in err. */
int snap_writer_section(struct snap_writer *w, uint32_t tag, uint32_t index, const void *data, size_t len,
			char *err, size_t errlen);
/* A section written in pieces: begin, any number of appends, end. */
int snap_writer_begin(struct snap_writer *w, uint32_t tag, uint32_t index, char *err, size_t errlen);
int snap_writer_append(struct snap_writer *w, const void *data, size_t len, char *err, size_t errlen);
int snap_writer_end(struct snap_writer *w, char *err, size_t errlen);
/*
 * Guest RAM [0, size) at host address mem as one section, sparse: runs of
 * pages that are not all zero, each as a record
 *   u64 offset (a multiple of 4096), u64 page count, then the pages,
 * after a u64 holding `size`. A page of zeros is not written, and a page
 * the host has no memory behind (mincore(): never touched) is not even
 * read. -1 with the reason in err.
 */
int snap_writer_ram(struct snap_writer *w, uint32_t tag, uint32_t index, const uint8_t *mem, uint64_t size,
		    char *err, size_t errlen);
/* Writes END, fsyncs, renames over the path, fsyncs the folder. -1 with the reason in err; the path untouched. */
int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen);
/* Removes the temporary file; the path untouched. */
void snap_writer_discard(struct snap_writer *w);
/*
 * The same container in memory (open_memstream()), for a state the
 * process keeps for itself (kvm/reset.c's power-on state): `what` names it
 * in messages. snap_writer_finish_memory() writes END and hands over the
 * buffer (malloc'd, for snap_file_parse(); *len bytes); on -1 (the reason
 * in err) it has freed everything. snap_writer_discard() also drops one.
 */
int snap_writer_open_memory(struct snap_writer *w, const char *what, char *err, size_t errlen);
int snap_writer_finish_memory(struct snap_writer *w, void **data, size_t *len, char *err, size_t errlen);

/* ---- reading ------------------------------------------------------------ */

struct snap_section {
	uint32_t tag, index;
	uint64_t offset;     /* of the payload in the file */
	uint64_t len;
	const uint8_t *data;
};

struct snap_file {
	const uint8_t *data; /* the whole file (mapped by snap_file_open(), or the caller's) */
	size_t size;
	bool mapped;
	uint32_t version;
	unsigned int nsections;     /* END not counted */
	struct snap_section *sections;
};

/*
 * Checks the whole container in a buffer (every CRC, the END chain, the
 * layout) and indexes its sections; `what` names it in messages (a path).
 * 0, or -1 with "WHAT: reason" in err.
 */
int snap_file_parse(struct snap_file *f, const void *data, size_t size, const char *what, char *err,
		    size_t errlen);
/* The same on a file, mapped read-only. */
int snap_file_open(struct snap_file *f, const char *path, char *err, size_t errlen);
void snap_file_close(struct snap_file *f);

/* The section with this tag and index, or NULL. */
const struct snap_section *snap_file_find(const struct snap_file *f, uint32_t tag, uint32_t index);
/*
 * Copies a section that must be there with exactly `len` bytes. -1 with
 * "section VCPU#1: missing" or "section VCPU#1: 40 bytes, expected 48" in err.
 */
int snap_file_get(const struct snap_file *f, uint32_t tag, uint32_t index, void *out, size_t len, char *err,
		  size_t errlen);
/*
 * A RAM section written by snap_writer_ram() into mem[0, size), which the
 * caller has zeroed (fresh anonymous memory is): its size must be `size`,
 * its records inside it, page-aligned, in ascending order and not
 * overlapping. -1 with the reason in err.
 */
int snap_file_ram(const struct snap_section *s, uint8_t *mem, uint64_t size, char *err, size_t errlen);
/* How many pages a RAM section holds (for reports). */
uint64_t snap_file_ram_pages(const struct snap_section *s);

#endif
