#include "core/input_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/errmsg.h"

/* Opens path for reading if it is a regular file of at most max bytes; its size in *size. */
static FILE *open_regular(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f) {
		errmsg(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0) {
		errmsg(err, errlen, "%s", strerror(errno));
		fclose(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg(err, errlen, "not a regular file");
		fclose(f);
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
