/*
 * Writing a file so that readers see the old contents or the new, never a
 * half-written one: a temporary file in the same folder, fsync, rename.
 */
#ifndef MPVM_CORE_ATOMIC_FILE_H
#define MPVM_CORE_ATOMIC_FILE_H

#include <stddef.h>

/* -1 with "PATH: reason" in err. */
int atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
