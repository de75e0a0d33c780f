#include "kvm/vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/x86_insn.h"
#include "core/cpu_features.h"
#include "core/cpuid.h"
#include "core/trace.h"
#include "devices/serial.h"
#include "kvm/control.h"
#include "kvm/hotplug.h"
#include "kvm/irqchip.h"
#include "kvm/reset.h"
#include "kvm/sandbox.h"
#include "kvm/snapshot.h"
#include "kvm/vm.h"

_Static_assert(CPUID_FLAG_SIGNIFICANT_INDEX == KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	       "core/cpuid.h flag must match KVM's");
_Static_assert(MP_STATE_RUNNABLE == KVM_MP_STATE_RUNNABLE &&
	       MP_STATE_UNINITIALIZED == KVM_MP_STATE_UNINITIALIZED &&
	       MP_STATE_INIT_RECEIVED == KVM_MP_STATE_INIT_RECEIVED &&
	       MP_STATE_HALTED == KVM_MP_STATE_HALTED &&
	       MP_STATE_SIPI_RECEIVED == KVM_MP_STATE_SIPI_RECEIVED,
	       "core/mpstate.h values must match KVM's");

/* Where a local APIC's registers are after reset (SDM vol. 3A §10.4.1). */
#define APIC_DEFAULT_BASE 0xfee00000ull
/* KVM's local APIC timer runs at 1 GHz (one tick per nanosecond). */
#define KVM_APIC_BUS_KHZ 1000000u
/* Room for the leaves cpuid_apply_topology() may add. */
#define CPUID_EXTRA_LEAVES 8

/*
 * --cpu-features, last: it only clears bits, so what mpvm added above counts
 * as the host's. The list was parsed with the options (before KVM was
 * touched); the BSP warns once about +features this host lacks.
 */
static void apply_cpu_features(struct vcpu *v, struct cpuid_table *t)
{
	char msg[512];

	if (cpu_features_apply(&v->vm->opts->cpu_feature_set, t, msg, sizeof(msg)) && v->bsp)
		fprintf(stderr, "mpvm: warning: %s\n", msg);
}

static int set_cpuid(struct vcpu *v)
{
	const struct kvm_cpuid2 *sup = v->vm->cpuid;
	size_t cap = sup->nent + CPUID_EXTRA_LEAVES;
	struct cpuid_table t = { .leaf = calloc(cap, sizeof(struct cpuid_leaf)), .cap = cap };
	struct kvm_cpuid2 *c = NULL;
	struct cpuid_leaf *leaf1;
	int ret = -1;

	if (!t.leaf)
		goto out;
	for (uint32_t i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &sup->entries[i];

		t.leaf[t.len++] = (struct cpuid_leaf){
			.function = e->function, .index = e->index, .flags = e->flags,
			.eax = e->eax, .ebx = e->ebx, .ecx = e->ecx, .edx = e->edx,
		};
	}
	if (cpuid_apply_topology(&t, &(struct cpuid_topology){
		    .apic_id = v->apic_id, .cores = v->vm->opts->topology.cores,
		    .threads = v->vm->opts->topology.threads,
		    .tsc_khz = v->vm->tsc_khz, .apic_bus_khz = KVM_APIC_BUS_KHZ }))
		goto out;
	/*
	 * The TSC-deadline timer (CPUID.1:ECX[24]) is the local APIC's, so KVM
	 * leaves the bit to the VMM: KVM's in-kernel APIC and mpvm's both have it.
	 */
	leaf1 = cpuid_find(&t, 1, 0);
	if (leaf1)
		leaf1->ecx |= 1u << 24;
	if (leaf1 && v->vm->opts->no_x2apic) /* --no-x2apic: CPUID.1:ECX[21] */
		leaf1->ecx &= ~(1u << 21);
	if (v->vm->opts->cpu_features)
		apply_cpu_features(v, &t);
	c = calloc(1, sizeof(*c) + t.len * sizeof(c->entries[0]));
	if (!c)
		goto out;
	c->nent = (uint32_t)t.len;
	for (size_t i = 0; i < t.len; i++) {
		const struct cpuid_leaf *l = &t.leaf[i];

		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = l->function, .index = l->index, .flags = l->flags,
			.eax = l->eax, .ebx = l->ebx, .ecx = l->ecx, .edx = l->edx,
		};
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		fprintf(stderr, "mpvm: vCPU %u: KVM_SET_CPUID2: %s\n", v->id, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (ret && !t.leaf)
		fprintf(stderr, "mpvm: vCPU %u: out of memory for CPUID\n", v->id);
	free(c);
	free(t.leaf);
	return ret;
}

int vcpu_get_msr(struct vcpu *v, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = index };

	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return -1;
	*value = m.e.data;
	return 0;
}

int vcpu_set_msr(struct vcpu *v, uint32_t index, uint64_t value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e = { .index = index, .data = value } };

	return ioctl(v->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

/*
 * What firmware does before any OS runs: MTRRs enabled with write-back as
 * the default memory type (IA32_MTRR_DEF_TYPE, SDM vol. 3A §11.11.2.1:
 * E = bit 11, type 6 = WB). With every MTRR blank, Linux otherwise turns
 * MTRRs and PAT handling off ("MTRRs disabled").
 */
#define MSR_IA32_MTRR_DEF_TYPE 0x2ff
#define MTRR_DEF_TYPE_E (1u << 11)
#define MTRR_TYPE_WB 6u

static int set_mtrr_default(struct vcpu *v)
{
	if (vcpu_set_msr(v, MSR_IA32_MTRR_DEF_TYPE, MTRR_DEF_TYPE_E | MTRR_TYPE_WB) == 0)
		return 0;
	fprintf(stderr, "mpvm: vCPU %u: KVM refuses IA32_MTRR_DEF_TYPE: %s\n", v->id, strerror(errno));
	return -1;
}

/*
 * The MP-state history's hook (core/mpstate.h), on the thread that saw the
 * change: the trace's spans and the control socket's events. vm->trace
 * and vm->control are set before any vCPU thread starts and cleared only
 * after every one is joined.
 */
static void mp_changed(void *ctx, uint32_t from, uint32_t to, uint64_t t_ns)
{
	struct vcpu *v = ctx;

	/*
	 * Else KVM's tracepoints give the spans, at the end (kvm_trace.c). An
	 * atomic read: APs run (waiting for INIT/SIPI) while the main thread
	 * sets it up, before the start gate opens.
	 */
	if (!__atomic_load_n(&v->vm->ktrace, __ATOMIC_ACQUIRE))
		trace_mp_state(v->vm->trace, v->id, (enum mp_state)to, t_ns);
	if (from != MP_STATE_NONE && v->vm->control)
		control_mp_changed(v->vm->control, v->id, from, to, t_ns);
}

void vcpu_prepare(struct vcpu *v, struct vm *vm, unsigned int id)
{
	*v = (struct vcpu){ .vm = vm, .id = id, .apic_id = topology_apic_id(&vm->opts->topology, id), .fd = -1 };
	atomic_init(&v->state, VCPU_STATE_START_GATE);
	atomic_init(&v->cmd_waiting, false);
	atomic_init(&v->in_kvm_run, false);
	pthread_mutex_init(&v->cmd_lock, NULL);
	pthread_cond_init(&v->cmd_cond, NULL);
	v->bsp = id == vm->opts->boot_cpu;
	v->mp.on_change = mp_changed;
	v->mp.on_change_ctx = v;
	atomic_init(&v->present, id < vm->opts->cpus);
}

int vcpu_create(struct vcpu *v)
{
	return atomic_load(&v->present) ? vcpu_create_kvm(v) : 0;
}

int vcpu_create_kvm(struct vcpu *v)
{
	struct vm *vm = v->vm;
	unsigned int id = v->id;

	/*
	 * KVM's vCPU id is the APIC ID: KVM's local APIC (kernel and split
	 * mode) takes its ID from it, and topology gaps must show there too.
	 */
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->apic_id);
	if (v->fd < 0) {
		fprintf(stderr, "mpvm: KVM_CREATE_VCPU %u (vCPU %u): %s\n", v->apic_id, v->id, strerror(errno));
		return -1;
	}
	/* A vCPU made later (CPU hotplug) must not get a descriptor below vCPU 0's,
	 * where the shared vCPU filter allows no vCPU ioctls (sandbox.c). */
	if (id && v->fd < vm->vcpus[0].fd) {
		int fd = fcntl(v->fd, F_DUPFD_CLOEXEC, vm->vcpus[0].fd);

		close(v->fd);
		v->fd = fd;
		if (fd < 0) {
			fprintf(stderr, "mpvm: vCPU %u: F_DUPFD: %s\n", id, strerror(errno));
			return -1;
		}
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		fprintf(stderr, "mpvm: vCPU %u: mmap of kvm_run: %s\n", v->id, strerror(errno));
		return -1;
	}
	if (set_cpuid(v) || set_mtrr_default(v) || vm->irqchip->vcpu_init(v))
		return -1;
	atomic_store(&v->made, true); /* after fd and run: a kick may use them now */
	return 0;
}

/* ---- guest faults: what happened, where, and the registers --------------- */

const char *vcpu_exit_reason_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
	case KVM_EXIT_IO: return "KVM_EXIT_IO";
	case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
	case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "KVM_EXIT_IRQ_WINDOW_OPEN";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
	case KVM_EXIT_SET_TPR: return "KVM_EXIT_SET_TPR";
	case KVM_EXIT_TPR_ACCESS: return "KVM_EXIT_TPR_ACCESS";
	case KVM_EXIT_NMI: return "KVM_EXIT_NMI";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
	case KVM_EXIT_IOAPIC_EOI: return "KVM_EXIT_IOAPIC_EOI";
	case KVM_EXIT_X86_RDMSR: return "KVM_EXIT_X86_RDMSR";
	case KVM_EXIT_X86_WRMSR: return "KVM_EXIT_X86_WRMSR";
	default: return "unknown exit reason";
	}
}

static const char *cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real mode";
	if (s->efer & (1u << 10)) /* EFER.LMA */
		return s->cs.l ? "64-bit mode" : "compatibility mode";
	return s->cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

/* Up to 15 bytes at CS:RIP, translated through the guest's own paging. */
static size_t code_bytes(struct vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s,
			 uint8_t *out, size_t max)
{
	uint64_t linear = (s->cr0 & 1) && (s->efer & (1u << 10)) && s->cs.l ? r->rip : s->cs.base + r->rip;
	size_t n = 0;

	while (n < max) {
		struct kvm_translation tr = { .linear_address = linear + n };
		uint8_t *p;

		if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			break;
		p = vm_gpa_to_hva(v->vm, tr.physical_address, 1);
		if (!p)
			break;
		out[n++] = *p;
	}
	return n;
}

static void dump_registers(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t code[15];
	size_t n;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "mpvm:   (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(stderr,
		"mpvm:   %s, RIP=%016llx RSP=%016llx RFLAGS=%08llx\n"
		"mpvm:   RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
		"mpvm:   RSI=%016llx RDI=%016llx RBP=%016llx R8 =%016llx\n"
		"mpvm:   R9 =%016llx R10=%016llx R11=%016llx R12=%016llx\n"
		"mpvm:   R13=%016llx R14=%016llx R15=%016llx\n"
		"mpvm:   CS=%04x base=%llx SS=%04x DS=%04x CR0=%llx CR2=%llx CR3=%llx CR4=%llx EFER=%llx APIC_BASE=%llx\n",
		cpu_mode(&s), r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
		r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
		s.cs.selector, s.cs.base, s.ss.selector, s.ds.selector,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.apic_base);
	n = code_bytes(v, &r, &s, code, sizeof(code));
	fprintf(stderr, "mpvm:   code at RIP:");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", code[i]);
	fprintf(stderr, n ? "\n" : " (not readable)\n");
}

void vcpu_guest_fault(struct vcpu *v, const char *fmt, ...)
{
	struct vm *vm = v->vm;
	va_list ap;

	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stop_reason) == VM_RUNNING) {
		if (vm->com1)
			serial_flush(vm->com1);
		char what[256];

		fprintf(stderr, "mpvm: guest fault on vCPU %u (APIC ID %u, %s): ", v->id, v->apic_id,
			v->bsp ? "BSP" : "AP");
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		fputs(what, stderr);
		trace_instant(vm->trace, (int)v->id, "guest fault", vm_now_ns(vm), what);
		fprintf(stderr, "\nmpvm:   exit reason %u (%s)\n", v->run->exit_reason,
			vcpu_exit_reason_name(v->run->exit_reason));
		dump_registers(v);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	vm_request_stop(vm, VM_STOP_GUEST_FAULT, MPVM_EXIT_GUEST_FAULT);
}

/* ---- exits ------------------------------------------------------------------ */

/* A port no device claims: floats (--unknown-io ignore), or is the guest's fault. */
static int unknown_io(struct vcpu *v, bool is_write, uint8_t *data, unsigned int size)
{
	struct kvm_run *run = v->run;
	uint32_t val = 0;

	if (v->vm->unknown_io_ignore) {
		/* No device: the bus floats (reads all ones), as on a PC. */
		if (!is_write)
			memset(data, 0xff, (size_t)size * run->io.count);
		vm_note_unknown_io(v->vm, run->io.port);
		return 0;
	}
	memcpy(&val, data, size <= 4 ? size : 4);
	if (is_write)
		vcpu_guest_fault(v, "OUT to unknown I/O port 0x%x (%u byte%s, value 0x%x)",
				 run->io.port, size, size == 1 ? "" : "s", val);
	else
		vcpu_guest_fault(v, "IN from unknown I/O port 0x%x (%u byte%s; --unknown-io "
				 "ignore lets such reads give all ones)",
				 run->io.port, size, size == 1 ? "" : "s");
	return -1;
}

static int handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned int size = run->io.size;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	const struct bus_range *r = bus_find(&v->vm->pio, run->io.port);

	if (!r)
		return unknown_io(v, is_write, data, size);
	/* String I/O (REP INS/OUTS) arrives as `count` back-to-back accesses. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t val = 0;

		if (is_write)
			memcpy(&val, data, size);
		if (r->pio(r->opaque, run->io.port, is_write, &val, size))
			return -1;
		if (!is_write)
			memcpy(data, &val, size);
	}
	return 0;
}

static int handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	const struct bus_range *r = bus_find(&v->vm->mmio, run->mmio.phys_addr);

	if (r)
		return r->mmio(r->opaque, run->mmio.phys_addr - r->base, run->mmio.is_write,
			       run->mmio.data, run->mmio.len);
	vcpu_guest_fault(v, "%s %u bytes at unknown MMIO address 0x%llx",
			 run->mmio.is_write ? "write of" : "read of", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr);
	return -1;
}

static int handle_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char data[160] = "";
	size_t off = 0;
	const char *what, *insn = NULL;
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t code[15];

	switch (run->internal.suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: what = "KVM could not emulate an instruction"; break;
	case KVM_INTERNAL_ERROR_SIMUL_EX: what = "exception while delivering an exception"; break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV: what = "event delivery failed"; break;
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: what = "unexpected hardware exit reason"; break;
	default: what = "internal error"; break;
	}
	for (uint32_t i = 0; i < run->internal.ndata && i < 16 && off < sizeof(data) - 20; i++)
		off += (size_t)snprintf(data + off, sizeof(data) - off, " %llx",
					(unsigned long long)run->internal.data[i]);
	/* Say which instruction, when it is one KVM's emulator is known to lack. */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &s) == 0)
		insn = x86_insn_unemulated(code, code_bytes(v, &r, &s, code, sizeof(code)));
	if (insn)
		vcpu_guest_fault(v, "%s: %s, which KVM's instruction emulator lacks; hardware "
				 "KVM runs it natively (suberror %u, data:%s)", what, insn,
				 run->internal.suberror, off ? data : " none");
	else
		vcpu_guest_fault(v, "%s (suberror %u, data:%s)", what, run->internal.suberror,
				 off ? data : " none");
	return -1;
}

/* Returns 0 to keep running, -1 to stop this vCPU. */
static int handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_MMIO:
		return handle_mmio(v);
	case KVM_EXIT_SHUTDOWN:
		vcpu_guest_fault(v, "triple fault (the CPU shut down)");
		return -1;
	case KVM_EXIT_INTERNAL_ERROR:
		return handle_internal_error(v);
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_guest_fault(v, "VM entry failed (hardware reason 0x%llx, CPU %u)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				 run->fail_entry.cpu);
		return -1;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_request_stop(v->vm, VM_STOP_GUEST_EXIT, 0);
			return -1;
		}
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			return reset_guest(v->vm); /* --reboot: reset in place; else the VM stops */
		}
		vcpu_guest_fault(v, "system event %u (a guest crash report)", run->system_event.type);
		return -1;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return 0;
	default:
		vcpu_guest_fault(v, "exit reason mpvm does not handle");
		return -1;
	}
}

/* ---- the thread ------------------------------------------------------------- */

static void kick_handler(int sig)
{
	(void)sig; /* only there so that the signal interrupts KVM_RUN */
}

void vcpu_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: KVM_RUN must return */
}


static const char *const state_names[VCPU_STATE_COUNT] = {
	[VCPU_STATE_START_GATE] = "start-gate",
	[VCPU_STATE_WAIT_RUNNABLE] = "wait-runnable",
	[VCPU_STATE_RUNNING] = "running",
	[VCPU_STATE_PAUSED] = "paused",
	[VCPU_STATE_EXITED] = "exited",
	[VCPU_STATE_ABSENT] = "absent",
};

const char *vcpu_state_name(enum vcpu_thread_state s)
{
	return (unsigned int)s < VCPU_STATE_COUNT ? state_names[s] : "?";
}

/* The thread moves to `next`: the time since the last move goes to the state it leaves. */
static void enter_state(struct vcpu *v, enum vcpu_thread_state next)
{
	enum vcpu_thread_state cur = (enum vcpu_thread_state)atomic_load(&v->state);
	uint64_t now;

	if (next == cur) /* every KVM_RUN passes here twice: no clock read for nothing */
		return;
	now = monotonic_ns();
	v->state_ns[cur] += now - v->state_since_ns;
	v->state_since_ns = now;
	if (next == VCPU_STATE_EXITED)
		v->state_at_stop = cur;
	atomic_store(&v->state, next);
}

/* ---- commands ------------------------------------------------------------------ */

/* The thread: answers the command being served. With cmd_lock held. */
static void answer(struct vcpu *v)
{
	v->cmd = VCPU_CMD_NONE;
	v->cmd_done = v->cmd_sent;
	atomic_store(&v->cmd_waiting, false);
	pthread_cond_broadcast(&v->cmd_cond);
}

/*
 * The thread, between two KVM_RUNs: what the VM or a command asks of it.
 * Returns `stay` when nothing does.
 */
static enum vcpu_thread_state look_at_commands(struct vcpu *v, enum vcpu_thread_state stay)
{
	enum vcpu_thread_state next = stay;

	if (vm_stopping(v->vm))
		return VCPU_STATE_EXITED;
	if (!atomic_load(&v->cmd_waiting))
		return stay;
	pthread_mutex_lock(&v->cmd_lock);
	switch (v->cmd) {
	case VCPU_CMD_PAUSE:
		next = VCPU_STATE_PAUSED; /* answered from the paused state */
		break;
	case VCPU_CMD_STOP:
		next = VCPU_STATE_EXITED; /* answered when the thread is gone */
		break;
	case VCPU_CMD_SAVE: /* only a paused vCPU's state is a snapshot's */
	case VCPU_CMD_RESET: /* and only a paused one is reset */
		v->save_ret = -1;
		answer(v);
		break;
	case VCPU_CMD_RESUME: /* not paused: nothing to do */
	case VCPU_CMD_NONE:
		answer(v);
		break;
	}
	pthread_mutex_unlock(&v->cmd_lock);
	return next;
}

int vcpu_command(struct vcpu *v, enum vcpu_command cmd)
{
	uint64_t ticket;
	int ret = 0;

	pthread_mutex_lock(&v->cmd_lock);
	/* One command at a time: wait for the one before to be answered. */
	while (v->cmd != VCPU_CMD_NONE && atomic_load(&v->state) != VCPU_STATE_EXITED)
		pthread_cond_wait(&v->cmd_cond, &v->cmd_lock);
	if (atomic_load(&v->state) == VCPU_STATE_EXITED || !v->thread_started) {
		pthread_mutex_unlock(&v->cmd_lock);
		return -1;
	}
	v->cmd = cmd;
	ticket = ++v->cmd_sent;
	atomic_store(&v->cmd_waiting, true);
	pthread_mutex_unlock(&v->cmd_lock);
	vcpu_kick(v);
	pthread_mutex_lock(&v->cmd_lock);
	while (v->cmd_done < ticket && atomic_load(&v->state) != VCPU_STATE_EXITED)
		pthread_cond_wait(&v->cmd_cond, &v->cmd_lock);
	if (v->cmd_done < ticket && cmd != VCPU_CMD_STOP)
		ret = -1; /* the thread ended before it got to this command */
	pthread_mutex_unlock(&v->cmd_lock);
	return ret;
}

/* ---- the states ------------------------------------------------------------------ */

static enum vcpu_thread_state state_start_gate(struct vcpu *v)
{
	struct vm *vm = v->vm;
	char name[16];
	sigset_t kick;

	/*
	 * Started, before this thread changes its state: whoever sees it past
	 * the gate may send it commands (vcpu_command()), even if the starter
	 * has not come back from pthread_create() yet.
	 */
	atomic_store(&v->thread_started, true);
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	atomic_store(&v->tid, (int)gettid()); /* query-cpus-fast's thread-id */
	if (!atomic_load(&v->present)) {
		/*
		 * A possible vCPU not plugged in (kvm/hotplug.c): started by the
		 * main thread, unconfined, so that when it is added it can make
		 * its KVM vCPU; it enters the filter then (vcpu_confine()).
		 */
		vm_wait_started(vm);
		return VCPU_STATE_ABSENT;
	}
	/* Born under the vCPU filter (vcpus.c): its set-up needs nothing else. */
	sandbox_inherited(SANDBOX_VCPU, vm->opts->seccomp);
	if (vm->irqchip->vcpu_thread_start && vm->irqchip->vcpu_thread_start(v)) {
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return VCPU_STATE_EXITED;
	}
	/*
	 * The gate holds only a vCPU that would execute at once (the BSP after
	 * reset): no guest instruction runs before every thread is confined
	 * and the platform started. An AP waiting for INIT/SIPI goes on to
	 * wait in KVM_RUN or on the APIC bus now, so that the go wakes one
	 * thread, not all of them.
	 */
	if (vm->irqchip->mp_state(v) == MP_STATE_RUNNABLE)
		vm_wait_started(vm);
	return VCPU_STATE_WAIT_RUNNABLE;
}

/* A vCPU added by CPU hotplug, on its own thread: its set-up and its seccomp filter. -1: the VM stops. */
int vcpu_confine(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if ((vm->irqchip->vcpu_thread_start && vm->irqchip->vcpu_thread_start(v)) ||
	    sandbox_enter(SANDBOX_VCPU, vm->opts->seccomp, vm->vm_fd, vm->first_vcpu_fd)) {
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return -1;
	}
	return 0;
}

/* One KVM_RUN and its exit. */
static enum vcpu_thread_state run_once(struct vcpu *v)
{
	struct vm *vm = v->vm;
	const struct irqchip_ops *chip = vm->irqchip;
	int r, err;

	if (chip->vcpu_before_run)
		chip->vcpu_before_run(v);
	if (!v->first_run_ns)
		v->first_run_ns = vm_now_ns(vm);
	atomic_store(&v->in_kvm_run, true); /* seq_cst: see vcpu_interrupt_run() */
	r = ioctl(v->fd, KVM_RUN, 0);
	err = errno;
	atomic_store_explicit(&v->in_kvm_run, false, memory_order_relaxed);
	if (chip->vcpu_after_run)
		chip->vcpu_after_run(v, r == 0);
	if (r < 0) {
		/*
		 * EINTR: kicked. EAGAIN: an AP waiting for INIT/SIPI woke
		 * up in KVM (its MP state changed): run it again.
		 */
		if (err == EINTR || err == EAGAIN) {
			v->interrupted++;
			return VCPU_STATE_RUNNING;
		}
		fprintf(stderr, "mpvm: vCPU %u: KVM_RUN: %s\n", v->id, strerror(err));
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return VCPU_STATE_EXITED;
	}
	/* A plain count with an atomic store: the control socket reads it while the thread runs. */
	__atomic_store_n(&v->exits, v->exits + 1, __ATOMIC_RELAXED);
	if (v->exits == 1)
		v->first_exit_ns = vm_now_ns(vm);
	v->exits_by_reason[v->run->exit_reason < VCPU_EXIT_REASONS ? v->run->exit_reason : VCPU_EXIT_REASONS - 1]++;
	if (chip->vcpu_handle_exit) {
		int h = chip->vcpu_handle_exit(v);

		if (h)
			return h > 0 ? VCPU_STATE_RUNNING : VCPU_STATE_EXITED;
	}
	return handle_exit(v) ? VCPU_STATE_EXITED : VCPU_STATE_RUNNING;
}

/*
 * WAIT_RUNNABLE and RUNNING: before each KVM_RUN the thread looks at its
 * commands, then asks the irqchip whether the vCPU may run; if not, it
 * sleeps there (WAIT_RUNNABLE) until an event.
 */
static enum vcpu_thread_state state_run(struct vcpu *v)
{
	const struct irqchip_ops *chip = v->vm->irqchip;
	enum vcpu_thread_state cur = (enum vcpu_thread_state)atomic_load(&v->state), next;

	if (!atomic_load(&v->present))
		return VCPU_STATE_ABSENT; /* ejected by the guest (kvm/hotplug.c) */
	/* A kick from here on must interrupt the next KVM_RUN. */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	next = look_at_commands(v, cur);
	if (next != cur)
		return next;
	if (!chip->vcpu_runnable(v)) {
		if (cur != VCPU_STATE_WAIT_RUNNABLE)
			return VCPU_STATE_WAIT_RUNNABLE; /* sleeps on the next call, counted there */
		chip->vcpu_sleep(v);
		return VCPU_STATE_WAIT_RUNNABLE;
	}
	/* In KVM_RUN it runs (KVM's own waits in there count as running): say so before, not after. */
	enter_state(v, VCPU_STATE_RUNNING);
	return run_once(v);
}

static enum vcpu_thread_state state_paused(struct vcpu *v)
{
	enum vcpu_thread_state next = VCPU_STATE_PAUSED;

	pthread_mutex_lock(&v->cmd_lock);
	trace_instant(v->vm->trace, (int)v->id, "paused", vm_now_ns(v->vm), NULL);
	for (;;) {
		if (v->cmd == VCPU_CMD_PAUSE)
			answer(v); /* paused now, or already: a second pause changes nothing */
		if (v->cmd == VCPU_CMD_SAVE || v->cmd == VCPU_CMD_RESET) {
			/* and stays paused */
			v->save_ret = v->cmd == VCPU_CMD_SAVE ? snapshot_vcpu_save(v) : reset_vcpu(v);
			answer(v);
		}
		while (v->cmd == VCPU_CMD_NONE && !vm_stopping(v->vm))
			pthread_cond_wait(&v->cmd_cond, &v->cmd_lock);
		if ((v->cmd != VCPU_CMD_PAUSE && v->cmd != VCPU_CMD_SAVE && v->cmd != VCPU_CMD_RESET) ||
		    vm_stopping(v->vm))
			break;
	}
	if (vm_stopping(v->vm) || v->cmd == VCPU_CMD_STOP) {
		next = VCPU_STATE_EXITED;
	} else {
		next = VCPU_STATE_WAIT_RUNNABLE; /* resume */
		trace_instant(v->vm->trace, (int)v->id, "resumed", vm_now_ns(v->vm), NULL);
		enter_state(v, next); /* before the answer: whoever resumed it no longer sees it paused */
		answer(v);
	}
	pthread_mutex_unlock(&v->cmd_lock);
	return next;
}

static enum vcpu_thread_state (*const state_fn[VCPU_STATE_COUNT])(struct vcpu *v) = {
	[VCPU_STATE_START_GATE] = state_start_gate,
	[VCPU_STATE_WAIT_RUNNABLE] = state_run,
	[VCPU_STATE_RUNNING] = state_run,
	[VCPU_STATE_PAUSED] = state_paused,
	[VCPU_STATE_ABSENT] = hotplug_state_absent,
};

/* A run cut short by --timeout: say where each running vCPU was. */
static void report_timeout(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (atomic_load(&vm->stop_reason) != VM_STOP_TIMEOUT || !v->first_run_ns ||
	    vm->irqchip->mp_state(v) != MP_STATE_RUNNABLE)
		return;
	pthread_mutex_lock(&vm->stop_lock);
	fprintf(stderr, "mpvm: vCPU %u (APIC ID %u) was running at the timeout:\n", v->id, v->apic_id);
	dump_registers(v);
	pthread_mutex_unlock(&vm->stop_lock);
}

/* The vCPU this thread runs, for code that a device calls on it (vcpu_current()). */
static _Thread_local struct vcpu *this_vcpu;

struct vcpu *vcpu_current(void)
{
	return this_vcpu;
}

void vcpu_await_command(struct vcpu *v)
{
	pthread_mutex_lock(&v->cmd_lock);
	while (!atomic_load(&v->cmd_waiting) && !vm_stopping(v->vm))
		pthread_cond_wait(&v->cmd_cond, &v->cmd_lock); /* vcpu_command() and the stop kick it */
	pthread_mutex_unlock(&v->cmd_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	enum vcpu_thread_state s = VCPU_STATE_START_GATE;

	this_vcpu = v;
	v->state_since_ns = monotonic_ns();
	while (s != VCPU_STATE_EXITED) {
		s = state_fn[s](v);
		enter_state(v, s);
	}
	if (v->run && v->vm->irqchip->vcpu_after_run)
		v->vm->irqchip->vcpu_after_run(v, false); /* the last look at the MP state */
	report_timeout(v);
	pthread_mutex_lock(&v->cmd_lock);
	if (v->cmd == VCPU_CMD_STOP)
		answer(v);
	pthread_cond_broadcast(&v->cmd_cond); /* senders waiting on a thread that is gone */
	pthread_mutex_unlock(&v->cmd_lock);
	vm_thread_exited(v->vm);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int err = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (err) {
		fprintf(stderr, "mpvm: vCPU %u: cannot start its thread: %s\n", v->id, strerror(err));
		return -1;
	}
	v->thread_started = true;
	return 0;
}

void vcpu_interrupt_run(struct vcpu *v)
{
	if (!atomic_load(&v->made) || !v->thread_started)
		return;
	/*
	 * Seen by KVM_RUN on entry; the signal covers a vCPU already inside.
	 * A thread outside KVM_RUN (handling an exit, asleep on the APIC bus)
	 * gets no signal: a signal costs the sender four system calls (glibc's
	 * pthread_kill) and the receiver a handler and an interrupted wait,
	 * twice per IPI round trip in user mode. Both sides store, then load,
	 * with sequential consistency: either this load sees in_kvm_run set,
	 * or the thread's store of it comes after it in the single total
	 * order, and then so does KVM_RUN's read of immediate_exit.
	 */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&v->in_kvm_run))
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	if (atomic_load(&v->made) && v->vm->irqchip->wake)
		v->vm->irqchip->wake(v);
	pthread_mutex_lock(&v->cmd_lock); /* a paused or absent thread waits there */
	pthread_cond_broadcast(&v->cmd_cond);
	pthread_mutex_unlock(&v->cmd_lock);
	vcpu_interrupt_run(v);
}

void vcpu_join(struct vcpu *v)
{
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	v->thread_started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->vm && v->vm->irqchip && v->vm->irqchip->vcpu_destroy)
		v->vm->irqchip->vcpu_destroy(v);
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	mp_history_free(&v->mp);
	pthread_cond_destroy(&v->cmd_cond);
	pthread_mutex_destroy(&v->cmd_lock);
	v->run = NULL;
	v->fd = -1;
}
