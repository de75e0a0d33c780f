#include "core/input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errmsg.h"

/* What a path names when it is not a regular file, for the message. */
const char *input_file_kind(mode_t mode)
{
	return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
	     : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : S_ISLNK(mode) ? "a symbolic link"
	     : "something else";
}

/*
 * Opens path for reading if it is a regular file of at most max bytes; its
 * size in *size. O_NONBLOCK: opening a FIFO for reading would otherwise
 * wait for a writer, forever; a FIFO is refused like any non-file.
 */
static FILE *open_regular(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		errmsg(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		errmsg(err, errlen, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg(err, errlen, "not a regular file (%s)", input_file_kind(st.st_mode));
		close(fd);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	f = fdopen(fd, "rb");
	if (!f) {
		errmsg(err, errlen, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		errmsg(err, errlen, "%llu bytes: more than the %llu (%llu MiB) it may have here",
		       (unsigned long long)st.st_size, (unsigned long long)max,
		       (unsigned long long)(max >> 20));
		fclose(f);
		return NULL;
	}
	*size = (uint64_t)st.st_size;
	return f;
}

int input_file_size(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen)
{
	FILE *f = open_regular(path, max, size, err, errlen);

	if (!f)
		return -1;
	fclose(f);
	return 0;
}

uint8_t *input_file_read(const char *path, uint64_t max, size_t *len, char *err, size_t errlen)
{
	uint64_t size;
	FILE *f = open_regular(path, max, &size, err, errlen);
	uint8_t *buf = NULL;

	if (!f)
		return NULL;
	buf = malloc(size ? (size_t)size : 1);
	if (!buf) {
		errmsg(err, errlen, "out of memory");
		goto out;
	}
	/* One byte more than stat said: a file that grew meanwhile is caught too. */
	if (fread(buf, 1, (size_t)size, f) != (size_t)size || fgetc(f) != EOF) {
		errmsg(err, errlen, "%s", ferror(f) ? strerror(errno)
						    : "the file changed size while mpvm read it");
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)size;
out:
	fclose(f);
	return buf;
}
