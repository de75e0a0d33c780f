#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/input_file.h"

char *atomic_file_folder(const char *path)
{
	size_t len = strlen(path);
	char *dir = malloc(len + 2), *slash; /* room for "." when path is "" */

	if (!dir)
		return NULL;
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

int atomic_file_check(const char *path, char *err, size_t errlen)
{
	char *dir = atomic_file_folder(path);
	struct stat st;
	int ret = -1;

	if (!dir) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (!*path) {
		snprintf(err, errlen, "'': an empty file name");
		goto out;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file (%s; mpvm writes a new file and "
				 "renames it over this path, which would replace it)", path,
				 input_file_kind(st.st_mode));
			goto out;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: the folder %s: %s", path, dir, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a folder", path, dir);
		goto out;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: cannot create files in %s: %s", path, dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

int atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	const char *p = data;
	int fd, saved;

	if (!tmp) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (atomic_file_check(path, err, errlen)) { /* it may have changed since it was checked */
		free(tmp);
		return -1;
	}
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file next to it: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, 0644) || fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	free(tmp);
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	snprintf(err, errlen, "%s: %s", path, strerror(saved ? saved : EIO));
	free(tmp);
	return -1;
}

int atomic_file_begin(struct atomic_file *af, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	int fd;

	memset(af, 0, sizeof(*af));
	if (atomic_file_check(path, err, errlen))
		return -1;
	af->path = strdup(path);
	af->tmp = malloc(n + 16);
	if (!af->path || !af->tmp) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	snprintf(af->tmp, n + 16, "%s.tmp.XXXXXX", path);
	fd = mkostemp(af->tmp, O_CLOEXEC); /* not inherited by a forked helper */
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file next to it: %s", path, strerror(errno));
		goto fail;
	}
	/* mkstemp() makes it 0600; the renamed file should read like any other. */
	if (fchmod(fd, 0644) || !(af->f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(af->tmp);
		goto fail;
	}
	return 0;
fail:
	free(af->path);
	free(af->tmp);
	memset(af, 0, sizeof(*af));
	return -1;
}

int atomic_file_commit(struct atomic_file *af, char *err, size_t errlen)
{
	int saved = 0;

	errno = 0;
	/* fflush() before fsync(), and ferror() for a write that failed long ago (ENOSPC). */
	if (fflush(af->f) || ferror(af->f) || fsync(fileno(af->f)))
		saved = errno ? errno : EIO;
	if (fclose(af->f) && !saved)
		saved = errno ? errno : EIO;
	af->f = NULL;
	if (!saved && rename(af->tmp, af->path))
		saved = errno;
	if (saved) {
		snprintf(err, errlen, "%s: %s", af->path, strerror(saved));
		unlink(af->tmp);
	}
	free(af->path);
	free(af->tmp);
	memset(af, 0, sizeof(*af));
	return saved ? -1 : 0;
}

void atomic_file_discard(struct atomic_file *af)
{
	if (af->f) {
		fclose(af->f);
		unlink(af->tmp);
	}
	free(af->path);
	free(af->tmp);
	memset(af, 0, sizeof(*af));
}
