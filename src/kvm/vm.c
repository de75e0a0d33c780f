#include "kvm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/bios_image.h"
#include "core/clock.h"
#include "core/errmsg.h"
#include "core/guest_abi.h"
#include "core/trace.h"
#include "devices/serial.h"
#include "kvm/boot.h"
#include "kvm/console.h"
#include "kvm/control.h"
#include "kvm/hotplug.h"
#include "kvm/irqchip.h"
#include "kvm/kvm_trace.h"
#include "kvm/machine.h"
#include "kvm/reaper.h"
#include "kvm/reset.h"
#include "kvm/sandbox.h"
#include "kvm/snapshot.h"
#include "kvm/vcpu.h"

/* RAM above this goes to 4 GiB, leaving the 32-bit MMIO hole (LAPIC, IOAPIC). */
#define LOW_RAM_MAX (3ull << 30)
#define HIGH_RAM_BASE (4ull << 30)
/*
 * Real mode on VMX without unrestricted guest needs these pages (KVM API
 * 4.48, 4.75); they must not overlap a memory slot, so they sit just below
 * the top 16 MiB, where a --bios image may reach (BIOS_IMAGE_MAX).
 */
#define KVM_TSS_ADDR 0xfeffd000ul
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull

uint64_t vm_now_ns(const struct vm *vm)
{
	return monotonic_ns() - vm->t0_ns;
}

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return NULL;
	if (vm->bios) { /* the ROM, and its mirror that hides low RAM there (boot_bios.c) */
		uint64_t mirror = vm->bios_size < BIOS_MIRROR_MAX ? vm->bios_size : BIOS_MIRROR_MAX;

		if (gpa >= BIOS_ROM_END - vm->bios_size && gpa + len <= BIOS_ROM_END)
			return vm->bios + (gpa - (BIOS_ROM_END - vm->bios_size));
		if (gpa >= BIOS_MIRROR_END - mirror && gpa + len <= BIOS_MIRROR_END)
			return vm->bios + vm->bios_size - (BIOS_MIRROR_END - gpa);
		if (gpa < BIOS_MIRROR_END && gpa + len > BIOS_MIRROR_END - mirror)
			return NULL;
	}
	if (gpa + len <= vm->low_size)
		return vm->mem + gpa;
	if (gpa >= HIGH_RAM_BASE && gpa - HIGH_RAM_BASE + len <= vm->high_size)
		return vm->mem + vm->low_size + (gpa - HIGH_RAM_BASE);
	return NULL;
}

static int open_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		fprintf(stderr, "mpvm: /dev/kvm: %s: KVM is not available on this host; load the kvm "
			"module (kvm_intel or kvm_amd) and enable virtualization in the firmware\n",
			strerror(errno));
	else if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "mpvm: /dev/kvm: %s: add your user to the group that owns /dev/kvm "
			"(usually 'kvm': sudo usermod -aG kvm $USER, then log in again) or run as root\n",
			strerror(errno));
	else
		fprintf(stderr, "mpvm: /dev/kvm: %s\n", strerror(errno));
	return -1;
}

static int check_cap(struct vm *vm, int cap, const char *name)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap) > 0)
		return 0;
	fprintf(stderr, "mpvm: this host's KVM lacks %s, which mpvm needs\n", name);
	return -1;
}

static unsigned int max_vcpus(struct vm *vm)
{
	int n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0) /* KVM API: if MAX_VCPUS is absent, use NR_VCPUS */
		n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? (unsigned int)n : 4;
}

static int get_supported_cpuid(struct vm *vm)
{
	for (unsigned int n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			break;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	fprintf(stderr, "mpvm: KVM_GET_SUPPORTED_CPUID: %s\n", strerror(errno));
	return -1;
}

static int setup_memory(struct vm *vm)
{
	struct kvm_userspace_memory_region low, high;

	vm->mem_size = vm->opts->memory;
	vm->low_size = vm->mem_size < LOW_RAM_MAX ? vm->mem_size : LOW_RAM_MAX;
	vm->high_size = vm->mem_size - vm->low_size;
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		fprintf(stderr, "mpvm: --memory %llu MiB: cannot map guest RAM: %s\n",
			(unsigned long long)(vm->mem_size >> 20), strerror(errno));
		return -1;
	}
	/*
	 * Transparent huge pages for guest RAM, as QEMU asks for them: one host
	 * fault and one TLB entry per 2 MiB instead of per 4 KiB. Advice only:
	 * a host with THP off ignores it. MADV_MERGEABLE lets KSM share pages
	 * between VMs where the host runs it.
	 */
	madvise(vm->mem, vm->mem_size, MADV_HUGEPAGE);
	madvise(vm->mem, vm->mem_size, MADV_MERGEABLE);
	low = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = vm->low_size,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	/*
	 * --bios: low RAM leaves 0xe0000-0xfffff out (slot 0 below, slot 2
	 * from 1 MiB): boot_bios() maps the image's read-only mirror there.
	 */
	if (vm->opts->bios) {
		low.memory_size = BIOS_MIRROR_WINDOW;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &low) < 0)
			goto fail;
		low = (struct kvm_userspace_memory_region){
			.slot = 2, .guest_phys_addr = BIOS_MIRROR_END,
			.memory_size = vm->low_size - BIOS_MIRROR_END,
			.userspace_addr = (uintptr_t)(vm->mem + BIOS_MIRROR_END),
		};
	}
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &low) < 0)
		goto fail;
	if (vm->high_size) {
		high = (struct kvm_userspace_memory_region){
			.slot = 1, .guest_phys_addr = HIGH_RAM_BASE, .memory_size = vm->high_size,
			.userspace_addr = (uintptr_t)(vm->mem + vm->low_size),
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &high) < 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "mpvm: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(errno));
	return -1;
}

static int setup_irqchip(struct vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDENTITY_MAP_ADDR }) < 0) {
		fprintf(stderr, "mpvm: KVM_SET_TSS_ADDR/KVM_SET_IDENTITY_MAP_ADDR: %s\n", strerror(errno));
		return -1;
	}
	return vm->irqchip->create(vm);
}

/* --trace: from before the first vCPU, whose first MP state opens its first span. */
static int open_trace(struct vm *vm)
{
	uint32_t *ids = calloc(vm->ncpus, sizeof(*ids));
	char err[512];

	if (!ids) {
		fprintf(stderr, "mpvm: out of memory for --trace\n");
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		ids[i] = topology_apic_id(&vm->opts->topology, i);
	vm->trace = trace_open(vm->opts->trace_path, vm->ncpus, ids, TRACE_MAX_EVENTS_DEFAULT, err, sizeof(err));
	free(ids);
	if (!vm->trace) {
		fprintf(stderr, "mpvm: --trace %s\n", err);
		return -1;
	}
	sandbox_allow_trace_fd(trace_fd(vm->trace)); /* vCPU threads write their spans */
	return 0;
}

/* Every vCPU thread is joined: the open spans end now, the file goes in place. */
static void close_trace(struct vm *vm)
{
	uint64_t end = vm_now_ns(vm); /* before KVM's tracepoints are read, which takes a while */
	char err[512];

	if (!vm->trace)
		return;
	kvm_trace_finish(vm->ktrace, vm, end);
	vm->ktrace = NULL;
	trace_instant(vm->trace, TRACE_NO_CPU, "VM stopped", end, vm_stop_name(atomic_load(&vm->stop_reason)));
	if (trace_close(vm->trace, end, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --trace %s\n", err);
		if (vm->exit_status == 0)
			vm->exit_status = MPVM_EXIT_HOST_ERROR;
	}
	vm->trace = NULL;
	sandbox_allow_trace_fd(-1);
}

int vm_create(struct vm *vm, const struct mpvm_options *opts)
{
	char err[256];
	int tsc, max_id;

	*vm = (struct vm){ .opts = opts, .kvm_fd = -1, .vm_fd = -1,
			   .ncpus = opts->topology.maxcpus > opts->cpus ? opts->topology.maxcpus : opts->cpus,
			   .irqchip = irqchip_ops_for(opts->irqchip) };
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->threads_lock, NULL);
	pthread_cond_init(&vm->threads_cond, NULL);
	atomic_init(&vm->stop_reason, VM_RUNNING);
	pthread_mutex_init(&vm->io_ignored_lock, NULL);
	/* auto: boot_kernel() decides for --kernel; a --bios image is a PC's firmware. */
	vm->unknown_io_ignore = opts->unknown_io == UNKNOWN_IO_IGNORE ||
				(opts->unknown_io == UNKNOWN_IO_AUTO && opts->bios);
	vm->main_thread = pthread_self();

	vm->kvm_fd = open_kvm();
	if (vm->kvm_fd < 0)
		return -1;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "mpvm: /dev/kvm speaks KVM API version %d, mpvm needs %d\n",
			ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
		return -1;
	}
	if (options_check_host(opts, max_vcpus(vm), err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return -1;
	}
	/* KVM's vCPU id is the APIC ID (its local APIC takes it from there): the highest must fit. */
	max_id = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	if (max_id > 0 && topology_max_apic_id(&opts->topology) >= (unsigned int)max_id) {
		fprintf(stderr, "mpvm: --cpus: the topology needs APIC IDs up to %u, but this host's KVM "
			"takes vCPU ids below %d (KVM_CAP_MAX_VCPU_ID)\n",
			topology_max_apic_id(&opts->topology), max_id);
		return -1;
	}
	if (check_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP") ||
	    check_cap(vm, KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE") ||
	    check_cap(vm, KVM_CAP_SET_BOOT_CPU_ID, "KVM_CAP_SET_BOOT_CPU_ID") ||
	    check_cap(vm, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT") ||
	    check_cap(vm, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"))
		return -1;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		fprintf(stderr, "mpvm: KVM_GET_VCPU_MMAP_SIZE: %s\n", strerror(errno));
		return -1;
	}
	if (get_supported_cpuid(vm))
		return -1;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "mpvm: KVM_CREATE_VM: %s\n", strerror(errno));
		return -1;
	}
	vm->t0_ns = vm->created_ns = monotonic_ns();
	reaper_start(vm->vm_fd); /* no thread but this one yet */
	/*
	 * The IOAPIC's ID: 4 bits in its ID register; kept clear of the local
	 * APIC IDs where that is possible, as MP-table systems did.
	 */
	vm->ioapic_id = topology_max_apic_id(&opts->topology) < 15 ?
			(uint8_t)(topology_max_apic_id(&opts->topology) + 1) : 0;
	if ((vm->irqchip->vm_init && vm->irqchip->vm_init(vm)) || setup_memory(vm) ||
	    (opts->bios && boot_bios_map(vm)) || setup_irqchip(vm))
		return -1;

	if (opts->trace_path && open_trace(vm))
		return -1;
	/*
	 * Must precede KVM_CREATE_VCPU: KVM resets the BSP flag per vCPU at
	 * creation. It takes KVM's vCPU id, which is the APIC ID (vcpu_create()).
	 */
	if (ioctl(vm->vm_fd, KVM_SET_BOOT_CPU_ID,
		  (unsigned long)topology_apic_id(&opts->topology, opts->boot_cpu)) < 0) {
		fprintf(stderr, "mpvm: KVM_SET_BOOT_CPU_ID %u: %s\n", opts->boot_cpu, strerror(errno));
		return -1;
	}
	tsc = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
	vm->tsc_khz = tsc > 0 ? (uint32_t)tsc : 0;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		fprintf(stderr, "mpvm: out of memory for %u vCPUs\n", vm->ncpus);
		return -1;
	}
	if (vm_create_vcpus(vm))
		return -1;
	if (opts->kernel ? boot_kernel(vm) : opts->bios ? boot_bios(vm) : boot_builtin_guest(vm))
		return -1;
	/* The power-on state (system_reset) is what booting made, before a --restore overwrites it. */
	return machine_create(vm) || (vm->ncpus > opts->cpus && hotplug_create(vm)) || snapshot_prepare(vm) ||
	       reset_prepare(vm) || (opts->restore_path && snapshot_restore(vm)) ? -1 : 0;
}

void vm_setup_signals(void)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	signal(SIGPIPE, SIG_IGN);
	vcpu_install_kick_handler();
}

void vm_wait_started(struct vm *vm)
{
	pthread_mutex_lock(&vm->threads_lock);
	while (!vm->threads_go)
		pthread_cond_wait(&vm->threads_cond, &vm->threads_lock);
	pthread_mutex_unlock(&vm->threads_lock);
}

void vm_thread_exited(struct vm *vm)
{
	pthread_mutex_lock(&vm->threads_lock);
	vm->threads_running--;
	pthread_cond_broadcast(&vm->threads_cond);
	pthread_mutex_unlock(&vm->threads_lock);
}

int vm_set_gsi(struct vm *vm, unsigned int gsi, bool level)
{
	return vm->irqchip->set_gsi(vm, gsi, level);
}

void vm_note_unknown_io(struct vm *vm, uint16_t port)
{
	unsigned int i;

	pthread_mutex_lock(&vm->io_ignored_lock);
	vm->io_ignored_total++;
	for (i = 0; i < vm->io_ignored_n && vm->io_ignored_port[i] != port; i++)
		;
	if (i == vm->io_ignored_n && i < VM_IO_IGNORED_MAX)
		vm->io_ignored_port[vm->io_ignored_n++] = port;
	if (i < vm->io_ignored_n)
		vm->io_ignored_count[i]++;
	pthread_mutex_unlock(&vm->io_ignored_lock);
}

void vm_format_unknown_io(struct vm *vm, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&vm->io_ignored_lock);
	if (vm->io_ignored_total) {
		off += (size_t)snprintf(buf, len, "%llu access%s to I/O ports with no device "
					"(reads gave all ones, writes were dropped):",
					(unsigned long long)vm->io_ignored_total,
					vm->io_ignored_total == 1 ? "" : "es");
		for (unsigned int i = 0; i < vm->io_ignored_n && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, " 0x%x (%llu)%s",
						vm->io_ignored_port[i],
						(unsigned long long)vm->io_ignored_count[i],
						i + 1 < vm->io_ignored_n ? "," : "");
		if (vm->io_ignored_n == VM_IO_IGNORED_MAX && off < len)
			snprintf(buf + off, len - off, " and others");
	}
	pthread_mutex_unlock(&vm->io_ignored_lock);
}

void vm_job_init(struct vm_job *j)
{
	*j = (struct vm_job){ 0 };
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
}

void vm_job_destroy(struct vm_job *j)
{
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
}

int vm_job_begin(struct vm_job *j, const char *busy, char *err, size_t errlen)
{
	pthread_mutex_lock(&j->lock);
	if (!j->pending)
		return 0;
	pthread_mutex_unlock(&j->lock);
	return errmsg(err, errlen, "%s", busy);
}

int vm_job_send(struct vm *vm, struct vm_job *j, bool wait, char *err, size_t errlen)
{
	int ret = 0;

	j->pending = true;
	j->done = false;
	pthread_kill(vm->main_thread, SIGUSR2); /* vm_run() wakes and serves it */
	if (wait) {
		while (!j->done)
			pthread_cond_wait(&j->cond, &j->lock);
		ret = j->ret;
		if (ret)
			snprintf(err, errlen, "%s", j->err);
	}
	pthread_mutex_unlock(&j->lock);
	return ret;
}

bool vm_job_take(struct vm_job *j)
{
	pthread_mutex_lock(&j->lock);
	if (j->pending)
		return true;
	pthread_mutex_unlock(&j->lock);
	return false;
}

void vm_job_done(struct vm_job *j, int ret, const char *err)
{
	pthread_mutex_lock(&j->lock);
	j->ret = ret;
	snprintf(j->err, sizeof(j->err), "%s", err);
	j->pending = false;
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

bool vm_stopping(const struct vm *vm)
{
	return atomic_load(&vm->stop_reason) != VM_RUNNING;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stop_reason) == VM_RUNNING) {
		vm->exit_status = exit_status;
		atomic_store(&vm->stop_reason, reason);
		pthread_kill(vm->main_thread, SIGUSR2); /* wake vm_run(), which kicks the vCPUs */
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

/*
 * The main thread waits in sigtimedwait() for one of: SIGUSR2 (a vCPU
 * stopped the VM), SIGINT/SIGTERM/SIGHUP (the user), or the --timeout
 * deadline. No polling: each of them wakes it directly.
 */
int vm_run(struct vm *vm)
{
	sigset_t wait_set;
	struct timespec deadline = { 0 };
	uint64_t timeout_ns = (uint64_t)vm->opts->timeout_ms * 1000000ull;
	uint64_t start = monotonic_ns();

	sigemptyset(&wait_set);
	sigaddset(&wait_set, SIGUSR2);
	sigaddset(&wait_set, SIGINT);
	sigaddset(&wait_set, SIGTERM);
	sigaddset(&wait_set, SIGHUP);

	/*
	 * --control first: its socket and thread before this thread's filter
	 * (which forbids both), its eventfd in the vCPU filter before any
	 * thread builds a filter, its MP-state hooks before any vCPU thread.
	 */
	if (vm->opts->control_path && control_start(vm))
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	if (console_start(vm, vm->com1, &vm->console))
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	if (vm_start_vcpus(vm))
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	if (!vm_stopping(vm) && vm->irqchip->start && vm->irqchip->start(vm))
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	/* KVM's own view of its local APICs: the vCPU threads' ids exist now, the filter comes next. */
	if (vm->trace && vm->opts->irqchip != IRQCHIP_USER && !vm_stopping(vm)) {
		struct kvm_trace *kt = kvm_trace_start(vm);

		__atomic_store_n(&vm->ktrace, kt, __ATOMIC_RELEASE); /* vcpu.c's mp_changed() reads it */
		sandbox_allow_tracefs(kt != NULL);
	}
	if (vm->confine_main && sandbox_enter(SANDBOX_MAIN, vm->opts->seccomp, vm->vm_fd, -1))
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	pthread_mutex_lock(&vm->threads_lock);
	vm->threads_go = true;
	pthread_cond_broadcast(&vm->threads_cond);
	pthread_mutex_unlock(&vm->threads_lock);

	while (!vm_stopping(vm)) {
		siginfo_t si;
		int sig;

		if (timeout_ns) {
			uint64_t now = monotonic_ns() - start;

			if (now >= timeout_ns) {
				if (vm->com1)
					serial_flush(vm->com1);
				fprintf(stderr, "mpvm: --timeout: the guest did not finish within %u s; stopping it\n",
					vm->opts->timeout_ms / 1000);
				vm_request_stop(vm, VM_STOP_TIMEOUT, MPVM_EXIT_TIMEOUT);
				break;
			}
			deadline = ns_to_timespec(timeout_ns - now);
			sig = sigtimedwait(&wait_set, &si, &deadline);
		} else {
			sig = sigwaitinfo(&wait_set, &si);
		}
		snapshot_serve(vm);
		reset_serve(vm);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			fprintf(stderr, "mpvm: %s received; stopping the VM\n", strsignal(sig));
			vm_request_stop(vm, VM_STOP_SIGNAL, 128 + sig);
		}
	}
	/* A request that came with the stop is answered ("the VM is stopping"): its asker waits for it. */
	snapshot_serve(vm);
	reset_serve(vm);
	/*
	 * The console's reader raises COM1's IRQ, which can signal vCPU
	 * threads (--irqchip user): it goes before any vCPU thread is joined.
	 * This also gives the terminal back before mpvm's report. COM1
	 * first stops waiting for a stdout nobody reads (serial.c), so no
	 * vCPU or reader stays in the UART.
	 */
	if (vm->com1)
		serial_stop_output(vm->com1);
	console_stop(vm->console);
	vm->console = NULL;
	/*
	 * Only this thread kicks and joins, and it kicks every vCPU before it
	 * joins any: a kick can then neither miss a thread still in KVM_RUN
	 * nor reach a thread already joined.
	 */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->threads_lock);
	while (vm->threads_running)
		pthread_cond_wait(&vm->threads_cond, &vm->threads_lock);
	pthread_mutex_unlock(&vm->threads_lock);
	/* Its last kicks and commands reach threads not yet joined; it says SHUTDOWN. */
	control_stop(vm);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
	if (vm->com1)
		serial_flush(vm->com1);
	close_trace(vm);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	console_stop(vm->console); /* if vm_run() did not get to it */
	kvm_trace_discard(vm->ktrace);
	vm->ktrace = NULL;
	trace_discard(vm->trace); /* a VM that never ran: its trace is not written */
	vm->trace = NULL;
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->ncpus; i++) {
			vcpu_join(&vm->vcpus[i]);
			vcpu_destroy(&vm->vcpus[i]);
		}
		free(vm->vcpus);
	}
	if (vm->irqchip && vm->irqchip->destroy)
		vm->irqchip->destroy(vm);
	hotplug_destroy(vm);
	machine_destroy(vm);
	snapshot_destroy(vm);
	reset_destroy(vm);
	free(vm->cpuid);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	bios_unmap(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->threads_lock);
	pthread_mutex_destroy(&vm->io_ignored_lock);
	pthread_cond_destroy(&vm->threads_cond);
	*vm = (struct vm){ .kvm_fd = -1, .vm_fd = -1 };
}
