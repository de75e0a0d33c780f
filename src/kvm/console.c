/*
 * The host side of COM1 (see console.h).
 *
 * One reader thread per VM. It sleeps in poll() on stdin and on an eventfd
 * that console_stop() writes, so stopping never waits on input. What it
 * reads goes to serial_receive(); what the UART cannot take yet (its host
 * buffer is full, or the guest has not raised RTS) stays in `pending` and
 * is offered again every RETRY_MS. For a pipe or a file that is real
 * back-pressure: nothing more is read until the guest catches up. A
 * terminal is read on regardless, or Ctrl-A x could not get through to a
 * guest that reads nothing; keys beyond `pending` are dropped then, with a
 * message.
 *
 * Raw mode is cfmakeraw() without its output part: input is not echoed,
 * not edited and makes no signals (ISIG off: Ctrl-C, Ctrl-Z and Ctrl-\ are
 * the guest's), CR is not mapped to NL (the guest's tty does that) and
 * XON/XOFF flow control is off; c_oflag (OPOST, ONLCR) is untouched, since
 * stdout is usually the same terminal and mpvm's own messages end in "\n".
 *
 * The saved terminal state is process-wide (there is one stdin), so that
 * an atexit handler and the handlers of fatal signals can put it back:
 * tcsetattr() is async-signal-safe. Those handlers then hand the signal to
 * whatever handled it before (the default action, or a sanitizer's).
 */
#include "kvm/console.h"
#include "kvm/sandbox.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "devices/serial.h"
#include "kvm/vm.h"

#define ESCAPE_KEY 0x01   /* Ctrl-A */
#define PENDING 4096      /* bytes read but not yet taken by the UART */
#define RETRY_MS 10       /* how often such bytes are offered again */

struct console {
	struct vm *vm;
	struct serial *com1;
	int in_fd;
	int wake_fd;          /* console_stop() writes it */
	bool raw;             /* in_fd is a terminal in raw mode: the escape key works */
	pthread_t thread;

	/* The reader thread's own. */
	bool escape;          /* Ctrl-A seen; the next key is a command */
	bool eof;
	bool warned;          /* "dropped" said since `pending` was last empty */
	size_t len;
	uint8_t pending[PENDING];
};

/* ---- the terminal's saved state -------------------------------------- */

static struct termios saved_tio;
static int saved_fd = -1;
static atomic_int tio_raw;  /* 1 while the terminal is in raw mode */
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT };
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction old_actions[NFATAL];

/* Async-signal-safe; only the first caller after enter_raw() does anything. */
static void restore_terminal(void)
{
	if (atomic_exchange(&tio_raw, 0)) {
		while (tcsetattr(saved_fd, TCSANOW, &saved_tio) && errno == EINTR)
			;
	}
}

static void fatal_signal(int sig)
{
	int saved_errno = errno;

	restore_terminal();
	for (unsigned int i = 0; i < NFATAL; i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &old_actions[i], NULL);
	/*
	 * Blocked while this handler runs, it arrives at the old handler on
	 * return; a fault that raised it also happens again there.
	 */
	raise(sig);
	errno = saved_errno;
}

static int enter_raw(int fd)
{
	static bool atexit_done;
	struct termios raw;
	struct sigaction sa;

	if (tcgetattr(fd, &saved_tio))
		return -1;
	raw = saved_tio;
	raw.c_iflag &= (tcflag_t)~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
				   IXON | IXOFF);
	raw.c_lflag &= (tcflag_t)~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag = (raw.c_cflag & (tcflag_t)~(CSIZE | PARENB)) | CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	saved_fd = fd;

	if (!atexit_done) {
		atexit(restore_terminal);
		atexit_done = true;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < NFATAL; i++) {
		sigaction(fatal_signals[i], NULL, &old_actions[i]);
		if (old_actions[i].sa_handler != SIG_IGN) /* an ignored signal kills nothing */
			sigaction(fatal_signals[i], &sa, NULL);
	}
	/* Raw from here on as far as the handlers know: a crash in between restores too. */
	atomic_store(&tio_raw, 1);
	while (tcsetattr(fd, TCSANOW, &raw)) {
		if (errno != EINTR) {
			atomic_store(&tio_raw, 0);
			return -1;
		}
	}
	return 0;
}

static void leave_raw(void)
{
	restore_terminal();
	for (unsigned int i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &old_actions[i], NULL);
}

/* ---- the reader thread ------------------------------------------------ */

static void deliver(struct console *c)
{
	size_t n = serial_receive(c->com1, c->pending, c->len);

	memmove(c->pending, c->pending + n, c->len - n);
	c->len -= n;
	if (!c->len)
		c->warned = false;
}

static void add(struct console *c, uint8_t b)
{
	if (c->len < sizeof(c->pending)) {
		c->pending[c->len++] = b;
		return;
	}
	if (!c->warned) /* only a terminal gets here: a pipe is read only into free room */
		fprintf(stderr, "\r\nmpvm: the guest is not reading COM1: dropping keys "
			"(Ctrl-A x quits)\n");
	c->warned = true;
}

/* Takes what was read; true if the user asked to quit. */
static bool take_input(struct console *c, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (c->raw && c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				fprintf(stderr, "\r\nmpvm: Ctrl-A x: stopping the VM\n");
				vm_request_stop(c->vm, VM_STOP_SIGNAL, 128 + SIGINT);
				return true;
			}
			if (b == 'h' || b == 'H' || b == '?') {
				fprintf(stderr, "\r\nmpvm: Ctrl-A x  stop the VM (exit status 130)\n"
					"mpvm: Ctrl-A Ctrl-A  send Ctrl-A to the guest\n"
					"mpvm: Ctrl-A h  this help\n");
				continue;
			}
			if (b != ESCAPE_KEY)
				add(c, ESCAPE_KEY); /* not a command: both keys go through */
		} else if (c->raw && b == ESCAPE_KEY) {
			c->escape = true;
			continue;
		}
		add(c, b);
	}
	return false;
}

static void *reader(void *arg)
{
	struct console *c = arg;
	uint8_t buf[PENDING];

	pthread_setname_np(pthread_self(), "console");
	if (sandbox_enter(SANDBOX_CONSOLE, c->vm->opts->seccomp, c->vm->vm_fd, -1)) {
		vm_request_stop(c->vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->wake_fd, .events = POLLIN },
			{ .fd = c->in_fd, .events = POLLIN },
		};
		size_t room = sizeof(c->pending) - c->len;
		bool want = !c->eof && (c->raw || room);
		int n = poll(p, want ? 2 : 1, c->len ? RETRY_MS : -1);
		ssize_t r;

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "mpvm: console: poll: %s; no more input for COM1\n",
				strerror(errno));
			break;
		}
		if (n > 0 && p[0].revents)
			break; /* console_stop() */
		if (c->len)
			deliver(c);
		if (n <= 0 || !want || !p[1].revents)
			continue;
		r = read(c->in_fd, buf, c->raw ? sizeof(buf) : room);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			c->eof = true; /* end of file, or the terminal hung up */
			continue;
		}
		if (take_input(c, buf, (size_t)r))
			break;
		deliver(c);
	}
	return NULL;
}

/* ---- start and stop --------------------------------------------------- */

int console_start(struct vm *vm, struct serial *com1, struct console **out)
{
	struct console *c;
	struct stat st;
	bool tty;
	int err;

	*out = NULL;
	if (!com1 || fstat(STDIN_FILENO, &st))
		return 0; /* stdin is closed */
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return 0; /* /dev/null */
	tty = isatty(STDIN_FILENO);
	if (tty) {
		pid_t fg = tcgetpgrp(STDIN_FILENO);

		/* In the background a read would stop mpvm (SIGTTIN): leave the terminal alone. */
		if (fg >= 0 && fg != getpgrp())
			return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "mpvm: out of memory for the console\n");
		return -1;
	}
	c->vm = vm;
	c->com1 = com1;
	c->in_fd = STDIN_FILENO;
	c->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (c->wake_fd < 0) {
		fprintf(stderr, "mpvm: console: eventfd: %s\n", strerror(errno));
		free(c);
		return -1;
	}
	if (tty) {
		c->raw = enter_raw(STDIN_FILENO) == 0;
		if (!c->raw)
			fprintf(stderr, "mpvm: console: cannot put the terminal in raw mode (%s); "
				"forwarding it line by line\n", strerror(errno));
		else if (isatty(STDERR_FILENO))
			fprintf(stderr, "mpvm: COM1 is on this terminal: Ctrl-A x stops the VM, "
				"Ctrl-A h lists the keys\n");
	}
	/* The thread inherits the caller's signal mask: SIGINT and the rest stay with the main thread. */
	err = pthread_create(&c->thread, NULL, reader, c);
	if (err) {
		fprintf(stderr, "mpvm: console: cannot start its thread: %s\n", strerror(err));
		if (c->raw)
			leave_raw();
		close(c->wake_fd);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void console_stop(struct console *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	while (write(c->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(c->thread, NULL);
	if (c->raw)
		leave_raw();
	close(c->wake_fd);
	free(c);
}
