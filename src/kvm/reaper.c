#include "kvm/reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The reaper: closes everything but the VM and its end of the pipe (so
 * that nothing waiting for mpvm's output or files waits for it), and
 * reads until mpvm's end closes, which happens at reaper_release() or,
 * whatever way mpvm ends, kill -9 included, at its exit. Then its own
 * _exit drops the last reference and KVM destroys the VM. The signals
 * mpvm blocks stay blocked here (the mask is inherited), so Ctrl-C or a
 * SIGTERM to the process group does not cut the reaper short; SIGKILL
 * does, and then the VM goes with it, which is no worse.
 */
static void reaper(int vm_fd, int wait_fd)
{
	char c;
	int keep_lo = vm_fd < wait_fd ? vm_fd : wait_fd, keep_hi = vm_fd < wait_fd ? wait_fd : vm_fd;

	prctl(PR_SET_NAME, "mpvm-reaper");
	close_range(0, (unsigned int)keep_lo - 1, 0);
	close_range((unsigned int)keep_lo + 1, (unsigned int)keep_hi - 1, 0);
	close_range((unsigned int)keep_hi + 1, ~0u, 0);
	while (read(wait_fd, &c, 1) > 0) /* nothing is ever written: EOF */
		;
	_exit(0);
}

/*
 * Two forks, so that the reaper is nobody's child once the first one is
 * gone (init or a subreaper collects it): mpvm never waits for it and
 * leaves no zombie when it makes several VMs (the KVM-layer tests do).
 * The first child is collected later (reaper_collect()): waiting for it
 * here cost up to 3.5 ms on the way to the first guest instruction.
 */
int reaper_start(int vm_fd, pid_t *middle)
{
	int p[2];
	pid_t pid;

	*middle = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (fork() == 0)
			reaper(vm_fd, p[0]);
		_exit(0);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	*middle = pid;
	return p[1];
}

void reaper_collect(pid_t *middle)
{
	int status;

	if (*middle > 0)
		waitpid(*middle, &status, 0);
	*middle = -1;
}

void reaper_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
