/*
 * Writing a file so that readers see the old contents or the new, never a
 * half-written one: a temporary file in the same folder, fsync, rename.
 */
#ifndef MPVM_CORE_ATOMIC_FILE_H
#define MPVM_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Whether atomic_file_write(path) can work, for checking an output path
 * before the work that fills it: path is a regular file or does not exist
 * yet (never a device, FIFO, directory or symbolic link, which the rename
 * would replace), in a folder mpvm may create files in. 0, or -1 with
 * "PATH: reason" in err.
 */
int atomic_file_check(const char *path, char *err, size_t errlen);
/* The folder path is in ("." for a bare name, "/" at the root), malloc'd; NULL if out of memory. */
char *atomic_file_folder(const char *path);

/* -1 with "PATH: reason" in err; refuses what atomic_file_check() refuses. */
int atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

/*
 * The same, written as it goes (a trace that grows while the VM runs):
 * atomic_file_begin() checks path as atomic_file_check() does and opens
 * "PATH.tmp.XXXXXX" beside it as a FILE; atomic_file_commit() flushes,
 * fsyncs, closes and renames it over path, atomic_file_discard() closes
 * and removes it. Until the commit, path itself is untouched. Each returns
 * -1 with "PATH: reason" in err; either of the last two frees what the
 * first took, whatever the outcome.
 */
struct atomic_file {
	FILE *f;
	char *path, *tmp;
};

int atomic_file_begin(struct atomic_file *af, const char *path, char *err, size_t errlen);
int atomic_file_commit(struct atomic_file *af, char *err, size_t errlen);
void atomic_file_discard(struct atomic_file *af);

#endif
