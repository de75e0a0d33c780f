/*
 * The system-call filters (kvm/sandbox.c), each thread kind in a child
 * process: its own calls go through; a call outside its list (opening a
 * file, starting a program, a socket, an ioctl on another descriptor)
 * stops the process with status 125 and a message naming the thread and
 * the call; with --seccomp log the same call goes through; off installs
 * nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kvm/sandbox.h"

#if defined(__SANITIZE_THREAD__)
#define SANITIZER_EATS_SIGSYS 1
#else
#define SANITIZER_EATS_SIGSYS 0
#endif

enum action { DO_WRITE, DO_OPEN, DO_EXEC, DO_SOCKET, DO_FOREIGN_IOCTL, DO_STAT, DO_THREAD, DO_FORK };

struct result {
	int status;      /* the child's exit status, or 128 + signal */
	char err[512];   /* what it wrote to stderr */
};

static void *thread_writes(void *arg)
{
	(void)arg;
	return write(STDERR_FILENO, "", 0) == 0 ? NULL : (void *)1;
}

/* In a child: enter the filter, do `what`, exit 0 if it went through (7 if it failed otherwise). */
static struct result run_child(enum sandbox_thread kind, enum seccomp_mode mode, enum action what)
{
	struct result r = { 0 };
	int pipefd[2], st;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		if (what == DO_THREAD) { /* glibc's first thread start sets signal handlers up; mpvm has others first */
			pthread_t t;

			if (pthread_create(&t, NULL, thread_writes, NULL) || pthread_join(t, NULL))
				_exit(6);
		}
		if (sandbox_enter(kind, mode, 100, 101))
			_exit(9);
		switch (what) {
		case DO_WRITE:
			_exit(write(STDERR_FILENO, "", 0) == 0 ? 0 : 7);
		case DO_OPEN:
			fd = open("/proc/self/status", O_RDONLY);
			_exit(fd >= 0 ? 0 : 7);
		case DO_EXEC:
			execl("/bin/true", "true", (char *)NULL);
			_exit(7);
		case DO_SOCKET:
			_exit(socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 7);
		case DO_FOREIGN_IOCTL: /* KVM_RUN below the first vCPU's descriptor (101), not on the VM's (100) */
			ioctl(99, KVM_RUN, 0);
			_exit(0);
		case DO_STAT: {
			struct stat sb;

			_exit(fstat(STDERR_FILENO, &sb) == 0 ? 0 : 7);
		}
		case DO_THREAD: { /* a thread of this process, under the same filter */
			pthread_t t;
			void *ret = (void *)1;

			if (pthread_create(&t, NULL, thread_writes, NULL) == 0)
				pthread_join(t, &ret);
			_exit(ret == NULL ? 0 : 7);
		}
		case DO_FORK: { /* a new process: clone without CLONE_THREAD */
			pid_t p = fork();

			if (p == 0)
				_exit(0);
			_exit(p > 0 ? 0 : 7);
		}
		}
		_exit(8);
	}
	close(pipefd[1]);
	n = read(pipefd[0], r.err, sizeof(r.err) - 1);
	r.err[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}

static void forbidden(enum sandbox_thread kind, enum action what, const char *call)
{
	struct result r = run_child(kind, SECCOMP_ON, what);
	char want[128];

#if defined(__SANITIZE_THREAD__)
	/*
	 * ThreadSanitizer takes SIGSYS first and defers it, making calls of
	 * its own that the filter stops: the process dies of SIGSYS without
	 * mpvm's message. Stopped it is, which is what counts here.
	 */
	if (r.status == 128 + SIGSYS)
		r = (struct result){ .status = 125 };
	else
#endif
	if (r.status != 125)
		fail_msg("%s thread, %s: status %d, want 125 (stderr: %s)", sandbox_thread_name(kind), call,
			 r.status, r.err);
	snprintf(want, sizeof(want), "mpvm: seccomp: the %s thread made system call", sandbox_thread_name(kind));
	if (r.err[0] || !SANITIZER_EATS_SIGSYS) {
		assert_non_null(strstr(r.err, want));
#if !defined(__SANITIZE_THREAD__) /* under TSan the message gives the number only (sandbox.c) */
		assert_non_null(strstr(r.err, call));
#endif
	}
	/* log: the kernel notes it, the call goes ahead. */
	r = run_child(kind, SECCOMP_LOG, what);
	assert_int_not_equal(r.status, 125);
}

static void vcpu_thread(void **state)
{
	(void)state;
	assert_int_equal(run_child(SANDBOX_VCPU, SECCOMP_ON, DO_WRITE).status, 0);
	assert_int_equal(run_child(SANDBOX_VCPU, SECCOMP_ON, DO_STAT).status, 0);
	forbidden(SANDBOX_VCPU, DO_OPEN, "(open");
	forbidden(SANDBOX_VCPU, DO_EXEC, "(execve)");
	forbidden(SANDBOX_VCPU, DO_SOCKET, "(socket)");
	forbidden(SANDBOX_VCPU, DO_FOREIGN_IOCTL, "(ioctl)");
	/* vCPU threads are started by a thread under this filter (kvm/vcpus.c): threads yes, processes no. */
	assert_int_equal(run_child(SANDBOX_VCPU, SECCOMP_ON, DO_THREAD).status, 0);
#if !defined(__SANITIZE_THREAD__)
	/* (ThreadSanitizer's fork holds its locks when SIGSYS comes, and its _exit waits for them.) */
	forbidden(SANDBOX_VCPU, DO_FORK, "(clone)");
#endif
}

static void timer_and_console_threads(void **state)
{
	(void)state;
	assert_int_equal(run_child(SANDBOX_TIMER, SECCOMP_ON, DO_WRITE).status, 0);
	assert_int_equal(run_child(SANDBOX_CONSOLE, SECCOMP_ON, DO_WRITE).status, 0);
	forbidden(SANDBOX_TIMER, DO_OPEN, "(open");
	forbidden(SANDBOX_CONSOLE, DO_EXEC, "(execve)");
	forbidden(SANDBOX_TIMER, DO_FOREIGN_IOCTL, "(ioctl)");
}

/*
 * The main thread writes the report file, but runs nothing and opens no
 * socket. (Under AddressSanitizer its filter only logs: sandbox.c.)
 */
static void main_thread(void **state)
{
	(void)state;
	assert_int_equal(run_child(SANDBOX_MAIN, SECCOMP_ON, DO_OPEN).status, 0);
#if !defined(__SANITIZE_ADDRESS__)
	struct result r;

	forbidden(SANDBOX_MAIN, DO_EXEC, "(execve)");
	forbidden(SANDBOX_MAIN, DO_SOCKET, "(socket)");
	/*
	 * No thread: glibc blocks every signal around clone3, so the filter's
	 * SIGSYS kills the process outright (no message); stopped it is.
	 */
	r = run_child(SANDBOX_MAIN, SECCOMP_ON, DO_THREAD);
	assert_true(r.status == 125 || r.status == 128 + SIGSYS);
#endif
}

static void off_installs_nothing(void **state)
{
	(void)state;
	assert_int_equal(run_child(SANDBOX_VCPU, SECCOMP_OFF, DO_OPEN).status, 0);
	assert_int_equal(run_child(SANDBOX_VCPU, SECCOMP_OFF, DO_SOCKET).status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vcpu_thread),
		cmocka_unit_test(timer_and_console_threads),
		cmocka_unit_test(main_thread),
		cmocka_unit_test(off_installs_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
