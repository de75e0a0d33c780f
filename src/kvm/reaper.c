#include "kvm/reaper.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Why the reaper shares mpvm's memory (CLONE_VM) rather than being a fork:
 * KVM registers an MMU notifier on the address space of the process that
 * made the VM, and tearing down an address space with a notifier on it
 * waits for an SRCU grace period (mmu_notifier_release() ends in
 * synchronize_srcu()). That ran in mpvm's own exit, before its status
 * reached the parent: 0.2 ms usually, 7-25 ms once in every four or five
 * runs on a loaded host (bench/launch, --irqchip user and split alike).
 * A process that shares the address space keeps it alive past mpvm's
 * exit, so the last one out, the reaper, pays for it.
 *
 * The cost of sharing: the reaper and the middle process run on mpvm's
 * memory with mpvm's thread pointer, so they must not touch libc's state
 * (errno, locks) or the sanitizers' (their per-thread state is the main
 * thread's). They are started and run with raw system calls, are not
 * instrumented, and keep what they need in registers or on their own stack.
 */
#define REAPER_STACK (16 * 1024)
#define NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))

struct reaper_args {
	int vm_fd, wait_fd;
	void *stack;	/* the mapping both stacks and this live in */
	size_t stack_len;
};

static inline __attribute__((always_inline)) long raw3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

/*
 * clone(2) without glibc's wrapper, which the sanitizers intercept (TSan
 * treats a clone like a fork and would run its child-side bookkeeping on
 * the parent's memory): `fn(arg)` runs in the child on `stack_top` and
 * must not return. The child's registers are the parent's at the system
 * call; it takes fn and arg from its new stack.
 */
static long NO_SANITIZE raw_clone(unsigned long flags, void *stack_top, int (*fn)(void *), void *arg)
{
	void **sp = stack_top;
	register long tid __asm__("r10") = 0;
	register long tls __asm__("r8") = 0;
	long ret;

	*--sp = arg;
	*--sp = (void *)fn;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "pop %%rax\n\t"
			 "pop %%rdi\n\t"
			 "and $-16, %%rsp\n\t"
			 "call *%%rax\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "0"((long)SYS_clone), "D"(flags), "S"(sp), "d"(0L), "r"(tid), "r"(tls)
			 : "rcx", "r11", "memory");
	return ret;
}

/*
 * The reaper: blocks every signal it can (Ctrl-C or a SIGTERM to the
 * process group does not cut it short; SIGKILL does, and then the VM goes
 * with it, which is no worse), closes everything but the VM and its end of
 * the pipe (so that nothing waiting for mpvm's output or files waits for
 * it), and reads until mpvm's end closes, which happens at mpvm's exit,
 * whatever way it ends, kill -9 included, and after exit_mm() there, so
 * the address space is still the reaper's then. Then it unmaps its own
 * stack and exits, dropping the last reference to the VM (KVM destroys it)
 * and to the address space.
 */
static int NO_SANITIZE reaper(void *arg)
{
	struct reaper_args *a = arg;
	int vm_fd = a->vm_fd, wait_fd = a->wait_fd;
	unsigned int lo = (unsigned int)(vm_fd < wait_fd ? vm_fd : wait_fd);
	unsigned int hi = (unsigned int)(vm_fd < wait_fd ? wait_fd : vm_fd);
	uint64_t all = ~0ull;
	char c;
	long r;

	raw3(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 8);
	raw3(SYS_prctl, PR_SET_NAME, (long)"mpvm-reaper", 0);
	if (lo > 0)
		raw3(SYS_close_range, 0, lo - 1, 0);
	if (hi > lo + 1)
		raw3(SYS_close_range, lo + 1, hi - 1, 0);
	raw3(SYS_close_range, hi + 1, ~0u, 0);
	do /* nothing is ever written: EOF */
		r = raw3(SYS_read, wait_fd, (long)&c, 1);
	while (r > 0 || r == -4 /* EINTR */);
	/* No stack after the munmap: both calls from registers. */
	__asm__ volatile("syscall\n\t"
			 "mov %3, %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall"
			 : : "a"((long)SYS_munmap), "D"(a->stack), "S"(a->stack_len), "i"(SYS_exit_group)
			 : "rcx", "r11", "memory");
	__builtin_unreachable();
}

/*
 * The middle process, between mpvm and the reaper, so that the reaper is
 * nobody's child once the middle is gone (init or a subreaper collects
 * it): mpvm never waits for it and leaves no zombie when it makes several
 * VMs (the KVM-layer tests do). mpvm is suspended while it runs
 * (CLONE_VFORK), a clone and an exit: about 0.1 ms.
 */
static int NO_SANITIZE middle(void *arg)
{
	struct reaper_args *a = arg;
	char *reaper_top = (char *)a->stack + REAPER_STACK;

	raw_clone(CLONE_VM | SIGCHLD, reaper_top, reaper, a);
	raw3(SYS_exit, 0, 0, 0);
	__builtin_unreachable();
}

int reaper_start(int vm_fd)
{
	/* The reaper's stack, then the middle's, then the arguments, in one mapping the reaper unmaps. */
	size_t len = 2 * REAPER_STACK + 4096;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	struct reaper_args *a;
	int p[2], status;
	pid_t pid;

	if (map == MAP_FAILED)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		munmap(map, len);
		return -1;
	}
	a = (struct reaper_args *)(map + 2 * REAPER_STACK);
	*a = (struct reaper_args){ .vm_fd = vm_fd, .wait_fd = p[0], .stack = map, .stack_len = len };
	pid = (pid_t)raw_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, map + 2 * REAPER_STACK, middle, a);
	close(p[0]);
	if (pid < 0) {
		munmap(map, len);
		close(p[1]);
		return -1;
	}
	/*
	 * The middle has exited (CLONE_VFORK). If its clone of the reaper
	 * failed, nobody holds the pipe's other end: mpvm then tears the VM
	 * down itself, and the mapping stays (16 KiB, once).
	 */
	waitpid(pid, &status, 0);
	return 0; /* p[1] stays open: its close at mpvm's exit ends the reaper */
}
