#include "kvm/sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm/vm.h"

static const char *const thread_names[] = {
	[SANDBOX_MAIN] = "main", [SANDBOX_VCPU] = "vCPU",
	[SANDBOX_TIMER] = "timer", [SANDBOX_CONSOLE] = "console",
	[SANDBOX_CONTROL] = "control",
};

const char *sandbox_thread_name(enum sandbox_thread kind)
{
	return (unsigned int)kind < sizeof(thread_names) / sizeof(thread_names[0]) ? thread_names[kind] : "?";
}

/*
 * ---- the lists ------------------------------------------------------------------
 *
 * What every thread does: memory (the allocator, the sanitizers' too),
 * futexes (locks, condition variables, joins), clocks and sleeps, signals
 * (the kick is a tgkill; a signal handler returns through rt_sigreturn),
 * writing to stdout (the console) and stderr (messages), and ending.
 */
static const int common_calls[] = {
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(mremap), SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(sched_yield), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(tgkill), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(getrandom), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(sigaltstack),
};

/* The main thread, once the VM runs: waiting, joining, the report file, tearing down. */
static const int main_calls[] = {
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigaction), SCMP_SYS(read), SCMP_SYS(write),
	SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(lstat), SCMP_SYS(stat),
	SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(fchmod), SCMP_SYS(fsync), SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(timer_delete),
	SCMP_SYS(mincore), /* a snapshot skips guest pages never touched (core/snapshot_file.c) */
};

/*
 * The main thread with KVM's tracepoints (kvm_trace.c): it reads them and
 * removes its tracefs instance (rmdir) after the vCPUs are joined;
 * libtracefs moves the per-CPU buffers through a pipe (pipe2, splice);
 * glibc's qsort() asks for the memory size (sysinfo) before it sorts them.
 */
static const int tracefs_calls[] = {
	SCMP_SYS(rmdir), SCMP_SYS(getdents64), SCMP_SYS(pipe2), SCMP_SYS(splice), SCMP_SYS(sysinfo),
};
static bool tracefs_main; /* under compiled_lock: threads of other kinds compile meanwhile */

/*
 * A vCPU thread: KVM_RUN (ioctls below), its local APIC timer (--irqchip
 * user). And starting threads, since the vCPU threads are started by one
 * thread already under this filter and inherit it (vcpus.c): clone of a
 * thread (allow_thread_starts()), and what a new thread does first (glibc:
 * set_robust_list, rseq; its name through prctl(PR_SET_NAME), below).
 */
static const int vcpu_calls[] = {
	SCMP_SYS(timer_create), SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_getaffinity), /* the sanitizers' thread start: pthread_getattr_np() */
};

/* The console reader: stdin and its eventfd. */
static const int console_calls[] = { SCMP_SYS(read), SCMP_SYS(poll), SCMP_SYS(ppoll) };

/*
 * The control thread: its clients' sockets (accept, read, write, close, the
 * peer's credentials), poll on them and its eventfd; MSIs (mpvm-send) go
 * through vm_ioctls. Its listening socket was made before the filter.
 */
static const int control_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept),
	SCMP_SYS(accept4), SCMP_SYS(close), SCMP_SYS(getsockopt), SCMP_SYS(shutdown), SCMP_SYS(fcntl),
};

/*
 * Guards the compiled programs (below) and what they are compiled from:
 * event_fd, trace_fd and tracefs_main change on the main thread while a
 * thread of another kind may be compiling its filter (the timer thread can
 * still be starting when a short run closes its trace).
 */
static pthread_mutex_t compiled_lock = PTHREAD_MUTEX_INITIALIZER;

/* --control's eventfd, which vCPU threads write to (-1: none). */
static int event_fd = -1;
/* --trace's file, which vCPU threads write their MP-state spans to (-1: none). */
static int trace_fd = -1;

void sandbox_allow_event_fd(int fd)
{
	pthread_mutex_lock(&compiled_lock);
	event_fd = fd;
	pthread_mutex_unlock(&compiled_lock);
}

void sandbox_allow_trace_fd(int fd)
{
	pthread_mutex_lock(&compiled_lock);
	trace_fd = fd;
	pthread_mutex_unlock(&compiled_lock);
}

/* ioctls on the vCPU's own file descriptor. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_MSRS,
	KVM_SET_MSRS, KVM_INTERRUPT, KVM_NMI, KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE,
	KVM_TRANSLATE, KVM_GET_LAPIC,
	/* a snapshot: each vCPU thread reads its own state (kvm/snapshot.c) */
	KVM_GET_FPU, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_XCRS, KVM_GET_DEBUGREGS,
	/* system_reset: each vCPU thread puts its own power-on state back (kvm/reset.c) */
	KVM_SET_XSAVE, KVM_SET_XCRS, KVM_SET_DEBUGREGS, KVM_SET_LAPIC, KVM_SET_VCPU_EVENTS, KVM_SET_MP_STATE,
};

/*
 * ioctls on the VM's file descriptor for the main thread: a snapshot's
 * interrupt controllers and clock; system_reset's interrupt controllers
 * (kvm/reset.c: KVM's, or with split mode mpvm's IOAPIC and its GSI routes).
 */
static const unsigned long main_vm_ioctls[] = {
	KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK, KVM_SET_IRQCHIP, KVM_SET_PIT2, KVM_SET_GSI_ROUTING,
};

/* ioctls on the VM's file descriptor: a device raising an interrupt (vm_set_gsi, the IOAPIC). */
static const unsigned long vm_ioctls[] = {
	KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING,
};

/* ioctls on stdin: the console gives the terminal its settings back, from any thread. */
static const unsigned long tty_ioctls[] = { TCGETS, TCSETS, TCSETSW, TCSETSF };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int allow_calls(scmp_filter_ctx c, const int *nr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seccomp_rule_add(c, SCMP_ACT_ALLOW, nr[i], 0))
			return -1;
	return 0;
}

static int allow_ioctls(scmp_filter_ctx c, int fd, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd),
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i])))
			return -1;
	return 0;
}

/*
 * The vCPU ioctls on any descriptor from the first vCPU's on (the vCPUs'
 * are made in a row, right after the VM's): one list for every vCPU
 * thread, compiled once (see sandbox_enter()). On any other descriptor
 * those ioctl numbers mean nothing (ENOTTY); what it gives up is that a
 * vCPU thread could drive another vCPU, which Firecracker's vCPU filter
 * does not restrict either.
 */
static int allow_ioctls_from(scmp_filter_ctx c, int first_fd, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				     SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)first_fd),
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i])))
			return -1;
	return 0;
}

/* write and writev to stdout and stderr only. */
static int allow_std_writes(scmp_filter_ctx c)
{
	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
		if (seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd)) ||
		    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(writev), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd)))
			return -1;
	return 0;
}

static int allow_event_writes(scmp_filter_ctx c)
{
	if (trace_fd >= 0 && seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
					      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)trace_fd)))
		return -1;
	return event_fd < 0 ? 0 : seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
						   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)event_fd));
}

/*
 * New threads of this process only: clone with CLONE_THREAD (a thread
 * shares the filter of the one that starts it: nothing becomes reachable
 * that was not), no new process. clone3 passes its flags in memory, which
 * a filter cannot read: it fails with ENOSYS, and glibc falls back to clone.
 */
static int allow_thread_starts(scmp_filter_ctx c)
{
	return seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) ||
	       seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) ||
	       seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) ? -1 : 0;
}

static int add_rules(scmp_filter_ctx c, enum sandbox_thread kind, int vm_fd, int vcpu_fd)
{
	if (allow_calls(c, common_calls, N(common_calls)) ||
	    allow_ioctls(c, STDIN_FILENO, tty_ioctls, N(tty_ioctls)))
		return -1;
	switch (kind) {
	case SANDBOX_MAIN:
		return allow_calls(c, main_calls, N(main_calls)) ||
		       allow_ioctls(c, vm_fd, main_vm_ioctls, N(main_vm_ioctls)) ||
		       (tracefs_main && allow_calls(c, tracefs_calls, N(tracefs_calls))) ? -1 : 0;
	case SANDBOX_VCPU:
		return allow_std_writes(c) || allow_event_writes(c) || allow_calls(c, vcpu_calls, N(vcpu_calls)) ||
		       allow_thread_starts(c) ||
		       allow_ioctls_from(c, vcpu_fd, vcpu_ioctls, N(vcpu_ioctls)) ||
		       allow_ioctls(c, vm_fd, vm_ioctls, N(vm_ioctls)) ? -1 : 0;
	case SANDBOX_TIMER:
		return allow_std_writes(c) || allow_event_writes(c) || allow_ioctls(c, vm_fd, vm_ioctls, N(vm_ioctls)) ? -1 : 0;
	case SANDBOX_CONSOLE:
		return allow_std_writes(c) || allow_event_writes(c) || allow_calls(c, console_calls, N(console_calls)) ||
		       allow_ioctls(c, vm_fd, vm_ioctls, N(vm_ioctls)) ? -1 : 0;
	case SANDBOX_CONTROL:
		return allow_calls(c, control_calls, N(control_calls)) ||
		       allow_ioctls(c, vm_fd, vm_ioctls, N(vm_ioctls)) ? -1 : 0;
	}
	return -1;
}

/* ---- a forbidden call ------------------------------------------------------------ */

static _Thread_local enum sandbox_thread my_kind;

/*
 * SIGSYS from the filter: name the thread and the call, and end mpvm (the
 * guest or a bug made a thread do what it never does; nothing it holds can
 * be trusted to finish). Only async-signal-safe calls from here on, but
 * the name lookup: the process ends anyway.
 */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[256];
#if defined(__SANITIZE_THREAD__)
	/*
	 * ThreadSanitizer runs this handler at its own points, where the
	 * name lookup's malloc deadlocks on its locks (a forbidden call from
	 * its own code, reading /proc/self/maps, holds them): number only.
	 */
	char *name = NULL;
#else
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, si->si_syscall);
#endif
	int n;

	(void)sig;
	(void)ctx;
	n = snprintf(msg, sizeof(msg), "mpvm: seccomp: the %s thread made system call %d (%s), which "
		     "its filter forbids; stopping mpvm (--seccomp log lets such calls through and "
		     "logs them)\n", sandbox_thread_name(my_kind), si->si_syscall, name ? name : "?");
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	/*
	 * The system call, not _exit(): a sanitizer's _exit does work of its
	 * own first, and ThreadSanitizer's waited for a lock its interrupted
	 * report still held (a run hung instead of ending).
	 */
	syscall(SYS_exit_group, MPVM_EXIT_HOST_ERROR);
}

/*
 * Under AddressSanitizer, LeakSanitizer stops the world when the main
 * thread exits: it starts a tracer task that ptraces every thread and
 * reads /proc, calls no list can spell out (and a tracer stopped by the
 * filter leaves the exit hanging). In such builds the main thread's filter
 * logs what it does not list instead of stopping mpvm; every other thread
 * is filtered as in a release build.
 */
static bool sanitizer_exit_work(enum sandbox_thread kind)
{
#if defined(__SANITIZE_ADDRESS__)
	return kind == SANDBOX_MAIN;
#else
	(void)kind;
	return false;
#endif
}

/*
 * ---- compiling once ---------------------------------------------------------------
 *
 * libseccomp turns the rules into a BPF program in user space (a few
 * hundred microseconds of allocations per list); with one filter per
 * thread that cost grew with every vCPU on the way to the first guest
 * instruction. So each kind's program is compiled once, by the first
 * thread of that kind, and every thread of the kind loads the same
 * program with the seccomp system call (what seccomp_load() does, with
 * no_new_privs first). A later call with other arguments compiles anew.
 */
struct compiled {
	bool made;
	enum seccomp_mode mode;
	int vm_fd, vcpu_fd, event_fd, trace_fd;
	bool tracefs;
	struct sock_fprog prog;
};

static struct compiled compiled[SANDBOX_CONTROL + 1];

void sandbox_allow_tracefs(bool on)
{
	pthread_mutex_lock(&compiled_lock);
	tracefs_main = on;
	pthread_mutex_unlock(&compiled_lock);
}

/* The program libseccomp makes from `c`, through a memfd (libseccomp 2.5 exports only to a descriptor). */
static int export_program(scmp_filter_ctx c, struct sock_fprog *out)
{
	int fd = memfd_create("mpvm-seccomp", MFD_CLOEXEC), ret = -1;
	off_t len;
	void *buf = NULL;

	if (fd < 0)
		return -errno;
	if ((ret = seccomp_export_bpf(c, fd)) < 0)
		goto out;
	len = lseek(fd, 0, SEEK_CUR);
	ret = -EINVAL;
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) || len / (off_t)sizeof(struct sock_filter) > 0xffff)
		goto out;
	buf = malloc((size_t)len);
	ret = -ENOMEM;
	if (!buf)
		goto out;
	ret = -EIO;
	if (pread(fd, buf, (size_t)len, 0) != len)
		goto out;
	*out = (struct sock_fprog){ .len = (unsigned short)(len / (off_t)sizeof(struct sock_filter)), .filter = buf };
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

static int compile(enum sandbox_thread kind, enum seccomp_mode mode, int vm_fd, int vcpu_fd, struct sock_fprog *out)
{
	scmp_filter_ctx c = seccomp_init(mode == SECCOMP_ON && !sanitizer_exit_work(kind) ? SCMP_ACT_TRAP : SCMP_ACT_LOG);
	int err;

	if (!c)
		return -ENOMEM;
	err = add_rules(c, kind, vm_fd, vcpu_fd) ? -EINVAL : export_program(c, out);
	seccomp_release(c);
	return err;
}

/* The kind's program for these arguments, compiled on first use. 0 or -errno. */
static int program_for(enum sandbox_thread kind, enum seccomp_mode mode, int vm_fd, int vcpu_fd,
		       struct sock_fprog *out)
{
	struct compiled *k = &compiled[kind];
	int err = 0;

	pthread_mutex_lock(&compiled_lock);
	if (!k->made || k->mode != mode || k->vm_fd != vm_fd || k->vcpu_fd != vcpu_fd || k->event_fd != event_fd ||
	    k->trace_fd != trace_fd || k->tracefs != tracefs_main) {
		struct sock_fprog p;

		err = compile(kind, mode, vm_fd, vcpu_fd, &p);
		if (!err) {
			free(k->made ? k->prog.filter : NULL);
			*k = (struct compiled){ .made = true, .mode = mode, .vm_fd = vm_fd, .vcpu_fd = vcpu_fd,
						.event_fd = event_fd, .trace_fd = trace_fd,
						.tracefs = tracefs_main, .prog = p };
		}
	}
	if (!err)
		*out = k->prog; /* never freed while threads of this kind may still load it */
	pthread_mutex_unlock(&compiled_lock);
	return err;
}

void sandbox_inherited(enum sandbox_thread kind, enum seccomp_mode mode)
{
	sigset_t sys;

	if (mode == SECCOMP_OFF)
		return;
	my_kind = kind;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
}

int sandbox_enter(enum sandbox_thread kind, enum seccomp_mode mode, int vm_fd, int vcpu_fd)
{
	struct sock_fprog prog;
	int err;

	if (mode == SECCOMP_OFF)
		return 0;
	if (mode == SECCOMP_ON) {
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGSYS, &sa, NULL);
	}
	sandbox_inherited(kind, mode);
	err = program_for(kind, mode, vm_fd, vcpu_fd, &prog);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	if (!err && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		err = -errno;
	if (err) {
		fprintf(stderr, "mpvm: --seccomp: cannot install the %s thread's filter: %s "
			"(--seccomp off runs without)\n", sandbox_thread_name(kind), strerror(-err));
		return -1;
	}
	return 0;
}
