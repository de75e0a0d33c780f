/*
 * bench/launch-probe: times one VMM run for bench/launch (not a test).
 *
 *   launch-probe [-t SECONDS] [-o OUT] [-e ERR] FIRST ALL -- COMMAND [ARG...]
 *
 * Starts COMMAND (posix_spawn, in a session of its own, stdin /dev/null,
 * stdout a pipe, stderr to ERR or /dev/null), reads the pipe as the bytes
 * arrive (no buffering: each read(2) is timestamped when it returns) and
 * copies them to OUT, and prints one line:
 *
 *   first_us all_us exit_us status maxrss_kb
 *
 * first_us: CLOCK_MONOTONIC from just before the spawn to the arrival of
 * the first byte of the first output line that is exactly FIRST; all_us:
 * the same for the line ALL; exit_us: to the child's end (a pidfd poll,
 * then wait4());
 * status: its exit status, 128 + signal, or "timeout" (the session was
 * killed after SECONDS, default 120); maxrss_kb: ru_maxrss of the child
 * from wait4() (its peak resident set). A marker never seen prints "-".
 *
 * Measured here rather than in the shell: the timestamps are taken by the
 * reader itself in the read loop, so a marker's time is the pipe's
 * arrival time plus a system call, not an interpreter's fork or loop, and
 * wait4() gives the peak RSS of exactly that process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: launch-probe [-t SECONDS] [-o OUT] [-e ERR] FIRST ALL -- COMMAND [ARG...]\n");
	exit(2);
}

static void print_us(uint64_t t0, uint64_t t)
{
	if (t)
		printf("%.1f ", (double)(t - t0) / 1000.0);
	else
		printf("- ");
}

int main(int argc, char **argv)
{
	const char *out_path = NULL, *err_path = "/dev/null";
	long timeout_s = 120;
	int opt;

	while ((opt = getopt(argc, argv, "+t:o:e:")) != -1) {
		switch (opt) {
		case 't': timeout_s = strtol(optarg, NULL, 10); break;
		case 'o': out_path = optarg; break;
		case 'e': err_path = optarg; break;
		default: usage();
		}
	}
	if (argc - optind < 4 || strcmp(argv[optind + 2], "--") != 0 || timeout_s <= 0)
		usage();
	const char *first = argv[optind], *all = argv[optind + 1];
	char **cmd = &argv[optind + 3];

	int out_fd = -1;
	if (out_path) {
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0) { perror(out_path); return 2; }
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) { perror("pipe2"); return 2; }

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);

	uint64_t t0 = now_ns(), t_first = 0, t_all = 0, t_exit, deadline;
	pid_t pid;
	int rc = posix_spawnp(&pid, cmd[0], &fa, &attr, cmd, environ);
	if (rc != 0) {
		fprintf(stderr, "launch-probe: %s: %s\n", cmd[0], strerror(rc));
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
		return 2;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[1]);
	deadline = t0 + (uint64_t)timeout_s * 1000000000u;

	char line[256];
	size_t len = 0;
	uint64_t line_t = 0;	/* arrival of the current line's first byte */
	int timed_out = 0;
	for (;;) {
		uint64_t t = now_ns();
		if (t >= deadline) { timed_out = 1; break; }
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int ms = (int)((deadline - t) / 1000000u) + 1;
		int n = poll(&pfd, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		char buf[4096];
		ssize_t got = read(p[0], buf, sizeof(buf));
		t = now_ns();
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (out_fd >= 0 && write(out_fd, buf, (size_t)got) != got) {
			perror("launch-probe: write");
			out_fd = -1;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (len == 0)
				line_t = t;
			if (buf[i] == '\n') {
				line[len < sizeof(line) ? len : sizeof(line) - 1] = '\0';
				if (len > 0 && line[len - 1] == '\r')
					line[len - 1] = '\0';
				if (!t_first && strcmp(line, first) == 0)
					t_first = line_t;
				if (!t_all && strcmp(line, all) == 0)
					t_all = line_t;
				len = 0;
			} else if (len < sizeof(line) - 1) {
				line[len++] = buf[i];
			} else {
				len++;	/* too long to be a marker; keep counting */
			}
		}
	}
	close(p[0]);

	/* Output closed: the exit is imminent. Wait for it on a pidfd (no
	 * polling delay), or in short sleeps if there is none. */
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	if (timed_out)
		kill(-pid, SIGKILL);
	int pidfd = pidfd_open(pid, 0);
	for (;;) {
		pid_t w = wait4(pid, &status, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) { perror("launch-probe: wait4"); return 2; }
		uint64_t t = now_ns();
		if (!timed_out && t >= deadline) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			continue;
		}
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
			poll(&pfd, 1, timed_out ? 1000 : (int)((deadline - t) / 1000000u) + 1);
		} else {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
	t_exit = now_ns();

	print_us(t0, t_first);
	print_us(t0, t_all);
	print_us(t0, t_exit);
	if (timed_out)
		printf("timeout ");
	else if (WIFEXITED(status))
		printf("%d ", WEXITSTATUS(status));
	else
		printf("%d ", 128 + WTERMSIG(status));
	printf("%ld\n", ru.ru_maxrss);
	if (pidfd >= 0)
		close(pidfd);
	if (out_fd >= 0)
		close(out_fd);
	return fflush(stdout) == 0 ? 0 : 2;
}
