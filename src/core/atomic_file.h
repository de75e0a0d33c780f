/*
 * Writing a file so that readers see the old contents or the new, never a
 * half-written one: a temporary file in the same folder, fsync, rename.
 */
#ifndef MPVM_CORE_ATOMIC_FILE_H
#define MPVM_CORE_ATOMIC_FILE_H

#include <stddef.h>

/*
 * Whether atomic_file_write(path) can work, for checking an output path
 * before the work that fills it: path is a regular file or does not exist
 * yet (never a device, FIFO, directory or symbolic link, which the rename
 * would replace), in a folder mpvm may create files in. 0, or -1 with
 * "PATH: reason" in err.
 */
int atomic_file_check(const char *path, char *err, size_t errlen);

/* -1 with "PATH: reason" in err; refuses what atomic_file_check() refuses. */
int atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
