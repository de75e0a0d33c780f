/*
 * The virtual machine: /dev/kvm, the VM file descriptor, guest memory, the
 * vCPUs and how the VM stops. One struct, owned by the functions here.
 */
#ifndef MPVM_KVM_VM_H
#define MPVM_KVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/clock.h"
#include "core/options.h"
#include "devices/bus.h"

struct vcpu;
struct serial;
struct console;
struct platform;
struct machine;
struct irqchip_ops;
struct kvm_cpuid2;
struct control;
struct snapshot;
struct reset;

/* Why the VM stopped; the first reason given wins. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_GUEST_EXIT,  /* the guest wrote its exit status, or powered off (ACPI S5) */
	VM_STOP_GUEST_RESET, /* the guest reset the machine (0xcf9, i8042, ACPI reset): mpvm ends, status 0 */
	VM_STOP_GUEST_FAULT, /* triple fault, emulation failure, unknown port ... */
	VM_STOP_HOST_ERROR,  /* a KVM call failed */
	VM_STOP_TIMEOUT,     /* --timeout expired */
	VM_STOP_CONSOLE_TEXT, /* --stop-on: the console printed the text (status 0) */
	VM_STOP_SIGNAL,      /* SIGINT/SIGTERM/SIGHUP */
	VM_STOP_QMP_QUIT,    /* `quit` on the control socket (status 0) */
	VM_STOP_SNAPSHOT,    /* a snapshot was written and the VM was to end there (status 0) */
};

/* Exit statuses of mpvm other than the guest's own (README, "Exit status"). */
#define MPVM_EXIT_USAGE 2
#define MPVM_EXIT_TIMEOUT 124
#define MPVM_EXIT_HOST_ERROR 125
#define MPVM_EXIT_GUEST_FAULT 126

/*
 * With more vCPUs than this, some APIC IDs are above 254 (0xff is the xAPIC
 * broadcast): mpvm then starts every vCPU in x2APIC mode, as firmware on
 * such machines does before the OS runs (SDM vol. 3A §10.12.8).
 */

#define VM_IO_IGNORED_MAX 16

struct vm {
	const struct mpvm_options *opts;
	int kvm_fd, vm_fd;
	int run_size;            /* bytes of each vCPU's kvm_run mapping */
	uint8_t *mem;            /* host view of guest RAM */
	uint64_t mem_size;
	uint64_t low_size;       /* RAM below the PCI hole, at GPA 0 */
	uint64_t high_size;      /* the rest, at GPA 4 GiB */
	uint8_t *bios;           /* --bios: the image, read-only (boot_bios.c) */
	uint64_t bios_size;
	uint32_t tsc_khz;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
	unsigned int ncpus;        /* possible vCPUs: maxcpus (opts->cpus of them present at start) */
	struct vcpu *vcpus;
	int first_vcpu_fd;          /* the lowest vCPU descriptor (vcpus.c) */
	unsigned int host_cpus;     /* online host CPUs, for vcpus.c's helper threads */
	struct bus pio, mmio;      /* every device's ranges (machine.c) */
	struct machine *machine;   /* the devices (machine.c) */
	struct serial *com1;       /* the console's UART, one of them */
	struct console *console;   /* stdin to COM1 while vm_run() runs (console.c) */
	const struct irqchip_ops *irqchip; /* --irqchip's implementation (irqchip.h) */
	void *chip;                /* its state */
	struct platform *platform; /* IOAPIC, PIC, PIT when they are mpvm's (split, user), else NULL */
	struct trace *trace;       /* --trace: the Chrome trace being written (core/trace.c), else NULL */
	struct kvm_trace *ktrace;  /* --trace in kernel/split mode: KVM's tracepoints (kvm_trace.c), else NULL */
	struct control *control;   /* --control: the QMP socket's server (control.c), else NULL */
	struct snapshot *snapshot; /* taking and restoring snapshots (snapshot.c) */
	struct reset *reset;       /* --control: the power-on state for system_reset (reset.c), else NULL */
	struct hotplug *hotplug;   /* maxcpus above --cpus: CPU hotplug (hotplug.c), else NULL */
	uint8_t ioapic_id;

	/*
	 * --unknown-io ignore (resolved from auto when the guest is known): an
	 * access to a port no device claims floats, as on a PC's ISA bus. The
	 * first VM_IO_IGNORED_MAX ports are counted for the end-of-run note.
	 */
	bool unknown_io_ignore;
	pthread_mutex_t io_ignored_lock;
	unsigned int io_ignored_n;
	uint16_t io_ignored_port[VM_IO_IGNORED_MAX];
	uint64_t io_ignored_count[VM_IO_IGNORED_MAX];
	uint64_t io_ignored_total;

	/*
	 * vm_run() also confines the calling thread (--seccomp, sandbox.h)
	 * once the VM's threads exist. The command line sets it; a program
	 * that goes on to use KVM after vm_run() (tests/kvm) leaves it false.
	 */
	bool confine_main;

	uint64_t t0_ns;          /* CLOCK_MONOTONIC when VM time was 0: the VM's creation, or earlier after --restore */
	uint64_t created_ns;     /* CLOCK_MONOTONIC when the VM was created (the report's times) */
	pthread_t main_thread;

	pthread_mutex_t stop_lock;
	atomic_int stop_reason;  /* enum vm_stop_reason */
	int exit_status;         /* what mpvm exits with */

	/*
	 * The vCPU threads' start gate and exit count: no vCPU runs guest code
	 * before every thread exists (so any thread may signal any other), and
	 * no thread is joined before all have left their run loops (so none
	 * signals a joined thread).
	 */
	pthread_mutex_t threads_lock;
	pthread_cond_t threads_cond;
	bool threads_go;
	unsigned int threads_running;
};

/*
 * Once, on the main thread, before vm_create(): the main thread takes
 * SIGINT, SIGTERM, SIGHUP and the VM's own wake-up (SIGUSR2) with sigwait
 * in vm_run(), so they are blocked, and every thread it starts inherits
 * that; vCPU threads unblock only the kick (VCPU_KICK_SIGNAL). SIGPIPE is
 * ignored (a closed stdout is an error to report, not a way to die).
 */
void vm_setup_signals(void);

/*
 * An APIC ID above 254 (0xff is xAPIC's broadcast): only x2APIC can address
 * it, so every local APIC starts in x2APIC mode and KVM takes 32-bit IDs.
 * With topology gaps that can happen below 255 CPUs.
 */
static inline bool vm_needs_x2apic(const struct vm *vm)
{
	return topology_max_apic_id(&vm->opts->topology) > 254;
}

/* Opens /dev/kvm, creates the VM, its memory, irqchip and vCPUs. -1 after printing why. */
int vm_create(struct vm *vm, const struct mpvm_options *opts);
/* vm_create()'s vCPUs, several at a time (vcpus.c). -1 after printing why. */
int vm_create_vcpus(struct vm *vm);
/*
 * vm_run()'s vCPU threads, each born under the vCPU seccomp filter
 * (vcpus.c). -1 after printing why; the threads that did start are counted.
 */
int vm_start_vcpus(struct vm *vm);
/* Runs every vCPU in its own thread until the VM stops; returns the exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/*
 * Asks the VM to stop: the first call sets the reason and exit status and
 * wakes vm_run() in the main thread, which kicks every vCPU out of KVM_RUN.
 * Safe from any thread; a vCPU thread that calls it stops by itself.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status);
bool vm_stopping(const struct vm *vm);

/*
 * Drives interrupt line `gsi` (an ISA IRQ 0-15 or IOAPIC pin) to `level`
 * on the irqchip's interrupt controllers. Edge-triggered devices pulse it
 * (1 then 0). -1 if KVM refuses (errno set). Safe from any thread.
 */
int vm_set_gsi(struct vm *vm, unsigned int gsi, bool level);

/* Counts an ignored access to an unclaimed port. */
void vm_note_unknown_io(struct vm *vm, uint16_t port);
/* One line for stderr naming the ignored ports, or "" if there were none. */
void vm_format_unknown_io(struct vm *vm, char *buf, size_t len);

/*
 * Host pointer for guest-physical [gpa, gpa+len), or NULL if not all RAM.
 * With --bios, the image's ROM ranges (below 4 GiB and its mirror below
 * 1 MiB) give read-only pointers: never write through those.
 */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);

uint64_t vm_now_ns(const struct vm *vm);

/* "guest-exit", "timeout", ... for a stop reason (vm_report.c). */
const char *vm_stop_name(int reason);

/*
 * What happened, after vm_run(): one line per vCPU on stderr, the COM1
 * line settings and ignored ports, and with --report the JSON file.
 * `process_start_ns` is when mpvm started (CLOCK_MONOTONIC). -1 if the
 * report file could not be written (after printing why).
 */
int vm_report(struct vm *vm, uint64_t process_start_ns);

/*
 * A job for the main thread (a snapshot, a reset): another thread asks
 * and may wait for the outcome; vm_run() wakes (SIGUSR2) and the job's
 * serve function (snapshot_serve(), reset_serve()) does it between two
 * waits, so jobs never overlap. One of each kind at a time.
 *
 * Asking: vm_job_begin() (0 with job->lock held: fill in the job's own
 * fields; -1 with `busy` in err if one is pending), then vm_job_send().
 * Serving: vm_job_take() (true with job->lock held: read the fields, then
 * unlock), the work, vm_job_done().
 */
struct vm_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending, done;
	int ret;
	char err[512];
};

void vm_job_init(struct vm_job *j);
void vm_job_destroy(struct vm_job *j);
int vm_job_begin(struct vm_job *j, const char *busy, char *err, size_t errlen);
/* With `wait`: returns once done, its 0, or -1 with its reason in err; without, 0 at once. */
int vm_job_send(struct vm *vm, struct vm_job *j, bool wait, char *err, size_t errlen);
bool vm_job_take(struct vm_job *j);
void vm_job_done(struct vm_job *j, int ret, const char *err);

/* For vCPU threads: wait at the start gate; say the run loop is over. */
void vm_wait_started(struct vm *vm);
void vm_thread_exited(struct vm *vm);

#endif
