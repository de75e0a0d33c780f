/*
 * Files named on the command line that mpvm loads into the guest
 * (--kernel, --initrd, --bios): a regular file, read whole. The reasons
 * returned in err leave out the file name; callers add the option and name.
 */
#ifndef MPVM_CORE_INPUT_FILE_H
#define MPVM_CORE_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The size of the regular file at path, at most max bytes: 0, or -1 with the reason. */
int input_file_size(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen);

/*
 * Reads the whole file, at most max bytes. Returns a malloc'd buffer with
 * its length in *len, or NULL with the reason (also when the file changes
 * size while it is read).
 */
uint8_t *input_file_read(const char *path, uint64_t max, size_t *len, char *err, size_t errlen);

/* "a directory", "a FIFO", "a character device", ...: what a non-regular file is. */
const char *input_file_kind(mode_t mode);

#endif
