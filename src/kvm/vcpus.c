/*
 * The VM's vCPUs as a group: creating them several at a time, and
 * starting their threads under one seccomp filter.
 *
 * ---- creating ----
 *
 * Each vCPU costs a KVM_CREATE_VCPU (KVM allocates and initialises the
 * vCPU, its MMU and its local APIC), a KVM_SET_CPUID2, an MSR write and
 * the irqchip's set-up: tens of microseconds of system time each, and
 * the same again for every added vCPU when one thread does them in a
 * row. None of it depends on another vCPU, and KVM holds its VM-wide
 * lock only around the bookkeeping of KVM_CREATE_VCPU (virt/kvm/kvm_main.c
 * kvm_vm_ioctl_create_vcpu), so the work spreads over the host's CPUs:
 * the calling thread and up to VCPUS_HELPERS short-lived threads
 * take vCPUs from one shared counter.
 *
 * vCPU 0 is created first, alone: it is KVM's vCPU index 0 (the one
 * KVM's and guests' code reaches first, as on every other VMM) and its
 * file descriptor the lowest. The others get KVM indexes in the order
 * their creations finish; mpvm names vCPUs by their own id and APIC ID
 * (KVM's vcpu_id), never by KVM's index.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm/sandbox.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* Enough to keep a large host busy; each helper costs one thread start. */
#define VCPUS_HELPERS 15
/* Below this many vCPUs a helper's start costs more than it saves. */
#define VCPUS_PARALLEL_FROM 4

/*
 * `fn` on vCPUs first..ncpus-1, by the calling thread and up to
 * VCPUS_HELPERS more (one per host CPU), each taking the next vCPU from
 * one counter. After the first failure no vCPU is begun. 0, or -1 if any
 * call failed (it printed why).
 */
struct vcpus_each {
	struct vm *vm;
	int (*fn)(struct vcpu *v);
	atomic_uint next;
	atomic_bool failed;
};

static void *each_some(void *arg)
{
	struct vcpus_each *e = arg;

	while (!atomic_load(&e->failed)) {
		unsigned int i = atomic_fetch_add(&e->next, 1);

		if (i >= e->vm->ncpus)
			break;
		if (e->fn(&e->vm->vcpus[i]))
			atomic_store(&e->failed, true);
	}
	return NULL;
}

static int vcpus_each(struct vm *vm, unsigned int first, int (*fn)(struct vcpu *v))
{
	struct vcpus_each e = { .vm = vm, .fn = fn };
	pthread_t helper[VCPUS_HELPERS];
	unsigned int todo = vm->ncpus - first, helpers = 0, started = 0;

	if (todo >= VCPUS_PARALLEL_FROM && vm->host_cpus >= 2) {
		helpers = vm->host_cpus - 1; /* the calling thread works too */
		if (helpers > VCPUS_HELPERS)
			helpers = VCPUS_HELPERS;
		if (helpers > todo - 1)
			helpers = todo - 1;
	}
	atomic_init(&e.next, first);
	atomic_init(&e.failed, false);
	for (; started < helpers; started++) {
		int err = pthread_create(&helper[started], NULL, each_some, &e);

		if (err) { /* fewer helpers: the work still gets done */
			fprintf(stderr, "mpvm: warning: a helper thread for the vCPUs: %s\n", strerror(err));
			break;
		}
	}
	each_some(&e);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(helper[i], NULL);
	return atomic_load(&e.failed) ? -1 : 0;
}

int vm_create_vcpus(struct vm *vm)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN); /* reads /sys: not under a filter */
	int fd = -1;

	vm->host_cpus = online > 0 ? (unsigned int)online : 1;
	/*
	 * glibc sizes its malloc arenas lazily: the first thread that needs a
	 * ninth arena reads /sys/devices/system/cpu/online (openat, read),
	 * which the vCPU filter forbids, and vCPU threads allocate (a
	 * system_reset's restore, kvm/reset.c). Set the limit now, to glibc's
	 * own default of 8 arenas per CPU, so that it never looks.
	 */
	mallopt(M_ARENA_MAX, (int)(8 * vm->host_cpus));
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_prepare(&vm->vcpus[i], vm, i);
	if (vcpu_create(&vm->vcpus[0]) || vcpus_each(vm, 1, vcpu_create))
		return -1;
	/* The vCPU threads' seccomp filter allows vCPU ioctls on descriptors from this one up. */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].fd >= 0 && (fd < 0 || vm->vcpus[i].fd < fd))
			fd = vm->vcpus[i].fd;
	vm->first_vcpu_fd = fd;
	return 0;
}

/*
 * ---- starting the threads ----
 *
 * Loading a seccomp filter costs the kernel a check and a translation of
 * the whole program, each time: 50 us for ten instructions and about 3 us
 * more per instruction on our test machines, for every thread that loads
 * one. A filter a thread has is inherited by the threads it starts, shared,
 * not loaded again. So one short-lived thread, the starter, loads the vCPU
 * filter and then starts every vCPU thread (with helpers, as above, which
 * inherit it too): each is born confined, before its first instruction,
 * and the start of N vCPUs costs one filter load. The vCPU list therefore
 * allows starting threads (clone with CLONE_THREAD: a new thread of this
 * process under the same filter, no new program; sandbox.c), and what a
 * thread does on its first steps (its name, the robust-futex list, rseq,
 * the APIC timer's timer_create).
 */
static int start_one(struct vcpu *v)
{
	struct vm *vm = v->vm;

	/* Counted first: a thread whose set-up fails leaves before the gate. */
	pthread_mutex_lock(&vm->threads_lock);
	vm->threads_running++;
	pthread_mutex_unlock(&vm->threads_lock);
	if (vcpu_start(v)) {
		vm_thread_exited(vm);
		return -1;
	}
	return 0;
}

struct vcpus_start {
	struct vm *vm;
	int ret;
};

static int start_present(struct vcpu *v)
{
	return atomic_load(&v->present) ? start_one(v) : 0;
}

static void *start_all(void *arg)
{
	struct vcpus_start *s = arg;
	struct vm *vm = s->vm;

	pthread_setname_np(pthread_self(), "vcpu-starter");
	s->ret = sandbox_enter(SANDBOX_VCPU, vm->opts->seccomp, vm->vm_fd, vm->first_vcpu_fd) ||
		 vcpus_each(vm, 0, start_present) ? -1 : 0;
	return NULL;
}

int vm_start_vcpus(struct vm *vm)
{
	struct vcpus_start s = { .vm = vm };
	pthread_t starter;
	int err = pthread_create(&starter, NULL, start_all, &s);

	if (err) {
		fprintf(stderr, "mpvm: cannot start the thread that starts the vCPU threads: %s\n", strerror(err));
		return -1;
	}
	pthread_join(starter, NULL);
	/*
	 * The possible vCPUs not plugged in (CPU hotplug) from this thread,
	 * unfiltered: when one is added, its thread makes its KVM vCPU and
	 * only then enters the filter (vcpu_confine(), kvm/hotplug.c).
	 */
	for (unsigned int i = 0; !s.ret && i < vm->ncpus; i++)
		if (!atomic_load(&vm->vcpus[i].present) && start_one(&vm->vcpus[i]))
			s.ret = -1;
	return s.ret;
}
