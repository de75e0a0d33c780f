/*
 * --irqchip user: no KVM_CREATE_IRQCHIP. mpvm owns every vCPU's local APIC
 * and its MP state (devices/apic_bus.c, which runs core/mp_machine.c), as
 * KVM's documentation asks of a VMM without an in-kernel irqchip: "the
 * multiprocessing state must be maintained by userspace"; and the IOAPIC,
 * PICs and PIT (platform.c), whose messages go onto that APIC bus.
 *
 * Who does what:
 *   - a vCPU thread owns its MP state and its registers. Other threads
 *     (another vCPU's IPI, a device) only queue events for it on the bus
 *     (INIT, SIPI, NMI) or set IRR bits in its local APIC, then wake it;
 *   - the owning thread takes the events before each KVM_RUN, walks the MP
 *     state machine (the bus calls back here to load the INIT or SIPI
 *     register state), injects interrupts when the interrupt window is
 *     open, and sleeps on the bus while the state does not let it run
 *     (waiting for INIT or SIPI, HLT with nothing to wake it): no
 *     busy-wait, no polling.
 */
#include "kvm/irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "core/apic_dest.h"
#include "core/clock.h"
#include "core/icr.h"
#include "core/trace.h"
#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "kvm/platform.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define MSR_IA32_TSC 0x10
#define APIC_PAGE_SIZE 0x1000
/* Guest errors mpvm logs (bad ICR, IPI to nobody): enough to see, never a flood. */
#define USER_MAX_LOGS 32

struct user_chip {
	struct apic_bus *bus;
	struct platform *platform;
	atomic_uint logs;
};

/* The vCPU thread's own. */
struct user_vcpu {
	int64_t tsc_offset;      /* guest TSC - host TSC */
	timer_t timer;
	bool timer_made;
	uint64_t timer_armed_ns; /* absolute CLOCK_MONOTONIC ns, 0 = disarmed */
	bool nmi_in_kvm;         /* KVM_NMI was called; KVM may still hold it */
};

static struct user_chip *chip_of(struct vm *vm)
{
	return vm->chip;
}

static struct lapic *lapic_of(struct vcpu *v)
{
	return apic_bus_lapic(chip_of(v->vm)->bus, v->id);
}

/* ---- the APIC bus's callbacks ---------------------------------------------- */

/* Register state after INIT and SIPI (SDM vol. 3A §9.1.1, table 9-1). */
static int load_start_state(struct vcpu *v, uint16_t cs_sel, uint32_t cs_base, uint16_t ip)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = ip, .rflags = 0x2, .rdx = 0x600 };
	struct kvm_segment seg = { .limit = 0xffff, .present = 1, .s = 1, .type = 0x3 };

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	s.cs = seg;
	s.cs.type = 0xb;
	s.cs.selector = cs_sel;
	s.cs.base = cs_base;
	s.tr = (struct kvm_segment){ .limit = 0xffff, .present = 1, .type = 0xb };
	s.ldt = (struct kvm_segment){ .limit = 0xffff, .present = 1, .type = 0x2 };
	s.gdt.base = s.idt.base = 0;
	s.gdt.limit = s.idt.limit = 0xffff;
	s.cr0 = 0x60000010; /* CD, NW, ET */
	s.cr2 = s.cr3 = s.cr4 = 0;
	s.efer = 0;
	memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -1;
	return 0;
}

static void bus_load_reset(void *opaque, unsigned int cpu)
{
	struct vm *vm = opaque;
	struct vcpu *v = &vm->vcpus[cpu];

	if (load_start_state(v, 0xf000, 0xffff0000u, 0xfff0))
		vcpu_guest_fault(v, "INIT: cannot load the reset state: %s", strerror(errno));
}

static void bus_load_sipi(void *opaque, unsigned int cpu, const struct mp_sipi_regs *r)
{
	struct vm *vm = opaque;
	struct vcpu *v = &vm->vcpus[cpu];

	atomic_store(&v->last_sipi, VCPU_SIPI_SEEN | (r->cs_selector >> 8)); /* for the control socket */
	if (load_start_state(v, r->cs_selector, r->cs_base, r->ip))
		vcpu_guest_fault(v, "SIPI: cannot load the start state: %s", strerror(errno));
}

static void user_vcpu_present(struct vcpu *v, bool present)
{
	apic_bus_set_present(chip_of(v->vm)->bus, v->id, present);
}

/* The control socket's mpvm-send: a message from no local APIC, physical destination. */
static int user_send_ipi(struct vcpu *v, enum irqchip_ipi type, uint8_t vector)
{
	static const enum icr_delivery mode[] = {
		[IRQCHIP_IPI_INIT] = ICR_INIT, [IRQCHIP_IPI_SIPI] = ICR_STARTUP, [IRQCHIP_IPI_NMI] = ICR_NMI,
	};

	return apic_bus_deliver(chip_of(v->vm)->bus, &(struct icr){
		.vector = vector, .delivery = mode[type], .level_assert = true,
		.dest = v->apic_id, .x2apic = v->apic_id > 0xfe }, APIC_DEST_NO_SENDER) > 0 ? 0 : -1;
}

static uint64_t user_set_ipi_fault(struct vcpu *v, enum ipi_fault_action action, unsigned int kinds,
				   uint32_t count, uint64_t delay_ns, bool seeded, uint64_t seed)
{
	struct apic_bus *bus = chip_of(v->vm)->bus;
	uint64_t before = apic_bus_faults_applied(bus, v->id);

	apic_bus_set_fault(bus, v->id, action, kinds, count, delay_ns, seeded, seed);
	return before;
}

/* Interrupts KVM_RUN; the bus has already woken the thread if it slept on it. */
static void bus_kick(void *opaque, unsigned int cpu)
{
	struct vm *vm = opaque;

	vcpu_interrupt_run(&vm->vcpus[cpu]);
}

static void bus_state_changed(void *opaque, unsigned int cpu, enum mp_state state)
{
	struct vm *vm = opaque;

	mp_history_observe(&vm->vcpus[cpu].mp, state, vm_now_ns(vm));
}

static bool bus_extint_pending(void *opaque)
{
	struct vm *vm = opaque;

	return platform_pic_intr(chip_of(vm)->platform);
}

/* The IOAPIC clears remote IRR (EOI broadcast). */
static void bus_eoi(void *opaque, uint8_t vector)
{
	struct vm *vm = opaque;

	platform_eoi(chip_of(vm)->platform, vector);
}

static void bus_log(void *opaque, uint32_t cpu, const char *msg)
{
	struct vm *vm = opaque;
	unsigned int n = atomic_fetch_add(&chip_of(vm)->logs, 1);

	if (n < USER_MAX_LOGS && cpu == APIC_BUS_FROM_IOAPIC)
		fprintf(stderr, "mpvm: guest error in the IOAPIC: %s\n", msg);
	else if (n < USER_MAX_LOGS)
		fprintf(stderr, "mpvm: guest error on vCPU %u: %s\n", cpu, msg);
	else if (n == USER_MAX_LOGS)
		fprintf(stderr, "mpvm: (more guest errors; not shown)\n");
}

/*
 * --trace: every IPI that reached a CPU, with a flow from its sender. A
 * device's fixed interrupts (the IOAPIC's, the PIC's) are not IPIs and
 * would bury them: only its NMI, INIT and SIPI messages are traced.
 */
static void bus_delivered(void *opaque, uint32_t sender, unsigned int cpu, const struct icr *icr)
{
	static const enum trace_ipi_kind kind[] = {
		[ICR_FIXED] = TRACE_IPI_FIXED, [ICR_LOWEST] = TRACE_IPI_LOWEST, [ICR_SMI] = TRACE_IPI_SMI,
		[ICR_NMI] = TRACE_IPI_NMI, [ICR_INIT] = TRACE_IPI_INIT, [ICR_STARTUP] = TRACE_IPI_SIPI,
	};
	struct vm *vm = opaque;
	bool device = sender == APIC_DEST_NO_SENDER;

	if (!vm->trace || (device && (icr->delivery == ICR_FIXED || icr->delivery == ICR_LOWEST)))
		return;
	trace_ipi(vm->trace, device ? TRACE_NO_CPU : (int)sender, cpu,
		  icr->init_deassert ? TRACE_IPI_INIT_DEASSERT : kind[icr->delivery], icr->vector, vm_now_ns(vm));
}

/* --trace: what mpvm-fault did to an INIT or SIPI, an instant on the target's track. */
static void bus_faulted(void *opaque, unsigned int cpu, const struct icr *icr, enum ipi_fault_action action,
			uint64_t delay_ns)
{
	struct vm *vm = opaque;
	const char *what = icr->delivery == ICR_INIT ? "INIT" : "SIPI";
	unsigned long long us = (unsigned long long)(delay_ns / 1000);
	char detail[96];

	if (!vm->trace)
		return;
	if (action == IPI_FAULT_DROP)
		snprintf(detail, sizeof(detail), "%s vector 0x%02x dropped", what, icr->vector);
	else if (action == IPI_FAULT_DELAY)
		snprintf(detail, sizeof(detail), "%s vector 0x%02x delayed %llu us", what, icr->vector, us);
	else if (action == IPI_FAULT_DUPLICATE)
		snprintf(detail, sizeof(detail), "%s vector 0x%02x delivered, again in %llu us", what, icr->vector, us);
	else
		snprintf(detail, sizeof(detail), "%s vector 0x%02x delivered now: 8 messages held already", what,
			 icr->vector);
	trace_instant(vm->trace, (int)cpu, "mpvm-fault", vm_now_ns(vm), detail);
}

static const struct apic_bus_ops user_bus_ops = {
	.faulted = bus_faulted,
	.delivered = bus_delivered,
	.load_reset = bus_load_reset,
	.load_sipi = bus_load_sipi,
	.kick = bus_kick,
	.state_changed = bus_state_changed,
	.extint_pending = bus_extint_pending,
	.eoi = bus_eoi,
	.log = bus_log,
};

/* ---- the platform's wiring: the IOAPIC onto the APIC bus ----------------- */

static void user_deliver(struct vm *vm, const struct ioapic_msg *m)
{
	if (m->delivery == IOAPIC_EXTINT) {
		bus_log(vm, APIC_BUS_FROM_IOAPIC, "pin programmed for ExtINT; mpvm routes the PIC through LINT0 only");
		return;
	}
	apic_bus_deliver(chip_of(vm)->bus, &(struct icr){
		.vector = m->vector, .delivery = (enum icr_delivery)m->delivery,
		.logical = m->logical, .level_assert = true, .level_trigger = m->level,
		.dest = m->dest }, APIC_DEST_NO_SENDER);
}

static bool user_takes_extint(struct vcpu *v)
{
	return apic_bus_takes_extint(chip_of(v->vm)->bus, v->id);
}

static const struct platform_wiring user_wiring = {
	.deliver = user_deliver,
	.takes_extint = user_takes_extint,
};

/* ---- set-up ---------------------------------------------------------------- */

/*
 * MSR exits for IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range
 * (KVM API 4.97, 7.21). The vm_init operation, before any memory slot:
 * KVM_X86_SET_MSR_FILTER waits for a grace period of the VM's SRCU, which
 * is quick (expedited) while that SRCU has been idle, and 17-28 ms (a few
 * jiffies of the normal path) in one run of three when it came right after
 * the memory slots' own grace periods, as it did in user_create().
 */
static int enable_msr_exits(struct vm *vm)
{
	static uint8_t deny[256 / 8]; /* all zero: deny, so the access exits to mpvm */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL,
	};
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = {
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			  .base = LAPIC_MSR_APIC_BASE, .bitmap = deny },
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			  .base = LAPIC_MSR_TSC_DEADLINE, .bitmap = deny },
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 256,
			  .base = LAPIC_MSR_X2APIC_FIRST, .bitmap = deny },
		},
	};

	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ||
	    ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) {
		fprintf(stderr, "mpvm: --irqchip user needs MSR exits to user space "
			"(KVM_CAP_X86_USER_SPACE_MSR, KVM_X86_SET_MSR_FILTER): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void user_destroy(struct vm *vm)
{
	struct user_chip *c = chip_of(vm);

	if (!c)
		return;
	platform_destroy(c->platform);
	apic_bus_destroy(c->bus);
	free(c);
	vm->chip = NULL;
	vm->platform = NULL;
}

static int user_create(struct vm *vm)
{
	struct user_chip *c = calloc(1, sizeof(*c));
	uint32_t *ids = calloc(vm->ncpus, sizeof(*ids));

	if (!c || !ids) {
		free(c);
		free(ids);
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		return -1;
	}
	vm->chip = c;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		ids[i] = topology_apic_id(&vm->opts->topology, i); /* as vcpu_create() gives it */
	c->bus = apic_bus_create(vm->ncpus, ids, vm->opts->boot_cpu, &user_bus_ops, vm);
	free(ids);
	if (!c->bus) {
		fprintf(stderr, "mpvm: out of memory for %u local APICs\n", vm->ncpus);
		return -1;
	}
	for (unsigned int i = vm->opts->cpus; i < vm->ncpus; i++)
		apic_bus_set_present(c->bus, i, false); /* possible, not present: CPU hotplug */
	c->platform = vm->platform = platform_create(vm, &user_wiring);
	return c->platform ? 0 : -1;
}

/* ---- clocks for the local APIC timer ------------------------------------ */

static uint64_t clock_ns(void *opaque)
{
	struct vcpu *v = opaque;

	return vm_now_ns(v->vm);
}

static uint64_t clock_tsc(void *opaque)
{
	struct vcpu *v = opaque;
	struct user_vcpu *u = v->chip;

	return __rdtsc() + (uint64_t)u->tsc_offset;
}

static int user_vcpu_init(struct vcpu *v)
{
	struct lapic *l = lapic_of(v);

	v->chip = calloc(1, sizeof(struct user_vcpu));
	if (!v->chip) {
		fprintf(stderr, "mpvm: vCPU %u: out of memory\n", v->id);
		return -1;
	}
	lapic_set_clock(l, clock_ns, clock_tsc, v->vm->tsc_khz, v);
	if (vm_needs_x2apic(v->vm))
		lapic_set_base(l, lapic_get_base(l) | LAPIC_BASE_EXTD);
	mp_history_observe(&v->mp, apic_bus_mp_state(chip_of(v->vm)->bus, v->id), vm_now_ns(v->vm));
	return 0;
}

static void user_vcpu_destroy(struct vcpu *v)
{
	struct user_vcpu *u = v->chip;

	if (!u)
		return;
	if (u->timer_made)
		timer_delete(u->timer);
	free(u);
	v->chip = NULL;
}

/*
 * --legacy-pc: what a PC BIOS leaves (SeaBIOS does this; MP spec v1.4
 * §3.6.2.2, virtual wire mode): the PICs and the PIT programmed, and the
 * BSP's local APIC software-enabled, LINT0 in ExtINT mode for the PIC's
 * INTR, LINT1 in NMI mode.
 */
static int user_legacy_pc(struct vm *vm)
{
	static const struct { uint32_t reg, value; } regs[] = {
		{ LAPIC_REG_SVR, 0x1ff },
		{ LAPIC_REG_LVT_LINT0, LAPIC_DM_EXTINT << 8 },
		{ LAPIC_REG_LVT_LINT1, LAPIC_DM_NMI << 8 },
	};
	struct lapic *l = apic_bus_lapic(chip_of(vm)->bus, vm->opts->boot_cpu);

	platform_legacy_pc(chip_of(vm)->platform);
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		if (lapic_x2apic_mode(l))
			lapic_msr_write(l, LAPIC_MSR(regs[i].reg), regs[i].value);
		else
			lapic_mmio_write(l, regs[i].reg, &regs[i].value, 4);
	}
	return 0;
}

static int user_start(struct vm *vm)
{
	return platform_start(chip_of(vm)->platform);
}

static int user_vcpu_thread_start(struct vcpu *v)
{
	struct user_vcpu *u = v->chip;
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VCPU_KICK_SIGNAL };
	uint64_t tsc;

	/* The guest's TSC runs at the host's rate (no TSC scaling): keep the offset. */
	if (vcpu_get_msr(v, MSR_IA32_TSC, &tsc) == 0)
		u->tsc_offset = (int64_t)(tsc - __rdtsc());
	/* The local APIC timer interrupts KVM_RUN with the kick signal. */
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &u->timer)) {
		fprintf(stderr, "mpvm: vCPU %u: timer_create: %s\n", v->id, strerror(errno));
		return -1;
	}
	u->timer_made = true;
	return 0;
}

/* ---- before each KVM_RUN ---------------------------------------------------- */

static bool user_vcpu_runnable(struct vcpu *v)
{
	/* A firing timer sets its vector in IRR, which may wake a halted vCPU. */
	lapic_timer_update(lapic_of(v), vm_now_ns(v->vm), clock_tsc(v));
	return apic_bus_runnable(chip_of(v->vm)->bus, v->id);
}

/*
 * When the thread must look next without an event (CLOCK_MONOTONIC ns, 0:
 * never): the local APIC timer's next expiry, or an INIT or SIPI that
 * mpvm-fault held back coming due.
 */
static uint64_t next_wakeup(struct vcpu *v)
{
	uint64_t next = lapic_timer_next_ns(lapic_of(v)), held = apic_bus_next_held_ns(chip_of(v->vm)->bus, v->id);

	next = next ? v->vm->t0_ns + next : 0;
	return held && (!next || held < next) ? held : next;
}

/* Until an event or next_wakeup(). */
static void user_vcpu_sleep(struct vcpu *v)
{
	apic_bus_sleep(chip_of(v->vm)->bus, v->id, next_wakeup(v));
}

/*
 * An NMI outranks a maskable interrupt (SDM vol. 3A §6.9). An interrupt
 * given with KVM_INTERRUPT counts as already injected and would go in ahead
 * of an NMI that KVM still holds (blocked by an NMI handler in progress),
 * so while KVM holds one the interrupt waits for the next window.
 */
static bool nmi_still_pending(struct vcpu *v)
{
	struct user_vcpu *u = v->chip;
	struct kvm_vcpu_events ev;

	if (!u->nmi_in_kvm)
		return false;
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return false;
	if (ev.nmi.pending || ev.nmi.injected)
		return true;
	u->nmi_in_kvm = false;
	return false;
}

/* Arms the POSIX timer for next_wakeup() (or disarms it). */
static void arm_timer(struct vcpu *v)
{
	struct user_vcpu *u = v->chip;
	uint64_t abs = next_wakeup(v);
	struct itimerspec its = { .it_value = ns_to_timespec(abs) };

	if (abs == u->timer_armed_ns)
		return;
	if (abs && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	timer_settime(u->timer, TIMER_ABSTIME, &its, NULL);
	u->timer_armed_ns = abs;
}

static bool interrupt_waiting(struct vcpu *v, int vector)
{
	return vector >= 0 || platform_extint_pending(chip_of(v->vm)->platform, v);
}

/* RUNNABLE: NMI first, then the highest pending interrupt when IF allows. */
static void user_vcpu_before_run(struct vcpu *v)
{
	struct user_chip *c = chip_of(v->vm);
	struct user_vcpu *u = v->chip;
	struct lapic *l = lapic_of(v);
	struct kvm_run *run = v->run;
	unsigned int nmis = apic_bus_take_nmis(c->bus, v->id);
	int vector;

	while (nmis--) {
		if (ioctl(v->fd, KVM_NMI) < 0)
			fprintf(stderr, "mpvm: vCPU %u: KVM_NMI: %s\n", v->id, strerror(errno));
		u->nmi_in_kvm = true;
	}
	/* The local APIC's vectors first; then ExtINT from the PIC through LINT0. */
	vector = lapic_pending_vector(l);
	run->request_interrupt_window = 0;
	if (interrupt_waiting(v, vector)) {
		if (run->ready_for_interrupt_injection && run->if_flag && !nmi_still_pending(v)) {
			bool extint = vector < 0;
			struct kvm_interrupt irq;

			if (extint)
				vector = platform_extint_ack(c->platform);
			irq.irq = (uint32_t)vector;
			if (ioctl(v->fd, KVM_INTERRUPT, &irq) == 0 && !extint)
				lapic_ack_vector(l, (uint8_t)vector);
			if (interrupt_waiting(v, lapic_pending_vector(l)))
				run->request_interrupt_window = 1;
		} else {
			run->request_interrupt_window = 1;
		}
	}
	run->cr8 = lapic_get_tpr(l) >> 4;
	arm_timer(v);
}

/* ---- exits ------------------------------------------------------------------ */

/*
 * WRMSR IA32_APIC_BASE. A write that faults must change nothing (SDM vol.
 * 3A §10.12.5). KVM keeps its own copy too (CPUID.1:EDX.APIC follows its
 * EN bit) and knows what mpvm's APIC cannot: the guest's CPUID (EXTD is
 * reserved while x2APIC is hidden) and MAXPHYADDR. So KVM goes first; only
 * a value it takes goes to mpvm's APIC, and if that refuses it (an illegal
 * mode transition) KVM's copy is put back.
 */
static int set_apic_base(struct vcpu *v, uint64_t value)
{
	struct lapic *l = lapic_of(v);
	uint64_t old = lapic_get_base(l);

	if (vcpu_set_msr(v, LAPIC_MSR_APIC_BASE, value))
		return -1;
	if (lapic_set_base(l, value) == 0)
		return 0;
	vcpu_set_msr(v, LAPIC_MSR_APIC_BASE, old);
	return -1;
}

static int handle_msr(struct vcpu *v, bool write)
{
	struct lapic *l = lapic_of(v);
	struct kvm_run *run = v->run;
	uint32_t msr = run->msr.index;
	int err = 0;

	if (msr == LAPIC_MSR_APIC_BASE) {
		err = write ? set_apic_base(v, run->msr.data) : 0;
		if (!write)
			run->msr.data = lapic_get_base(l);
	} else if (msr == LAPIC_MSR_TSC_DEADLINE) {
		if (write)
			lapic_set_tsc_deadline(l, run->msr.data, clock_tsc(v));
		else
			run->msr.data = lapic_get_tsc_deadline(l);
	} else if (msr >= LAPIC_MSR_X2APIC_FIRST && msr <= LAPIC_MSR_X2APIC_LAST) {
		uint64_t val = run->msr.data;

		err = write ? lapic_msr_write(l, msr, val) : lapic_msr_read(l, msr, &val);
		run->msr.data = val;
	} else {
		err = -1; /* an MSR KVM does not know either: #GP, as KVM would */
	}
	run->msr.error = err ? 1 : 0;
	return 1;
}

/* The local APIC's page, wherever IA32_APIC_BASE puts it, while it is in xAPIC mode. */
static int handle_mmio(struct vcpu *v)
{
	struct lapic *l = lapic_of(v);
	struct kvm_run *run = v->run;
	uint64_t base = lapic_get_base(l) & LAPIC_BASE_ADDR_MASK;
	uint64_t addr = run->mmio.phys_addr;

	if (!lapic_xapic_mmio_enabled(l) || addr < base || addr >= base + APIC_PAGE_SIZE)
		return 0;
	if (run->mmio.is_write)
		lapic_mmio_write(l, (uint32_t)(addr - base), run->mmio.data, run->mmio.len);
	else
		lapic_mmio_read(l, (uint32_t)(addr - base), run->mmio.data, run->mmio.len);
	return 1;
}

static int user_vcpu_handle_exit(struct vcpu *v)
{
	struct lapic *l = lapic_of(v);
	struct kvm_run *run = v->run;

	/*
	 * CR8 is the TPR's bits 7:4 (SDM vol. 3A §10.8.6.1). KVM reports the
	 * guest's CR8 in kvm_run on every exit (and exits with SET_TPR when
	 * the guest lowers it); the APIC's TPR follows it.
	 */
	if (run->cr8 != lapic_get_tpr(l) >> 4)
		lapic_set_tpr(l, (uint8_t)((run->cr8 & 0xf) << 4));

	switch (run->exit_reason) {
	case KVM_EXIT_SET_TPR:
		return 1;
	case KVM_EXIT_HLT:
		apic_bus_halt(chip_of(v->vm)->bus, v->id, run->if_flag);
		return 1;
	case KVM_EXIT_MMIO:
		return handle_mmio(v);
	case KVM_EXIT_X86_RDMSR:
		return handle_msr(v, false);
	case KVM_EXIT_X86_WRMSR:
		return handle_msr(v, true);
	default:
		return 0;
	}
}

static int user_set_gsi(struct vm *vm, unsigned int gsi, bool level)
{
	platform_set_gsi(chip_of(vm)->platform, gsi, level);
	return 0;
}

static enum mp_state user_mp_state(struct vcpu *v)
{
	return apic_bus_mp_state(chip_of(v->vm)->bus, v->id);
}

static void user_wake(struct vcpu *v)
{
	struct user_chip *c = chip_of(v->vm);

	if (c && c->bus)
		apic_bus_wake(c->bus, v->id);
}

/*
 * A snapshot's CHIP section in user mode: the platform's IOAPIC, PICs and
 * PIT, then each CPU's MP state, queued events and local APIC (the APIC
 * bus's), in vCPU order.
 */
static int user_save(struct vm *vm, void *buf, size_t *len)
{
	struct user_chip *c = chip_of(vm);
	size_t plat = *len, need;
	uint8_t *p = buf;

	if (platform_save(c->platform, buf, &plat))
		return -1;
	need = plat + vm->ncpus * sizeof(struct apic_bus_cpu_state);
	if (*len < need) {
		errno = ENOSPC;
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct apic_bus_cpu_state s;

		apic_bus_save(c->bus, i, &s);
		memcpy(p + plat + i * sizeof(s), &s, sizeof(s));
	}
	*len = need;
	return 0;
}

static int user_load(struct vm *vm, const void *buf, size_t len)
{
	struct user_chip *c = chip_of(vm);
	size_t plat = platform_state_size();
	const uint8_t *p = buf;
	char err[160];

	if (len != plat + vm->ncpus * sizeof(struct apic_bus_cpu_state)) {
		fprintf(stderr, "mpvm: --restore: section CHIP#0: %zu bytes, expected %zu (mpvm's IOAPIC, PICs, PIT "
			"and %u local APICs)\n", len, plat + vm->ncpus * sizeof(struct apic_bus_cpu_state), vm->ncpus);
		errno = EINVAL;
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct apic_bus_cpu_state s;

		memcpy(&s, p + plat + i * sizeof(s), sizeof(s));
		if (apic_bus_load(c->bus, i, &s, err, sizeof(err))) {
			fprintf(stderr, "mpvm: --restore: %s\n", err);
			errno = EINVAL;
			return -1;
		}
		/* The report and the trace start from the restored state. */
		mp_history_observe(&vm->vcpus[i].mp, apic_bus_mp_state(c->bus, i), vm_now_ns(vm));
	}
	return platform_load(c->platform, buf, plat);
}

const struct irqchip_ops irqchip_user_ops = {
	.vm_init = enable_msr_exits,
	.create = user_create,
	.destroy = user_destroy,
	.vcpu_init = user_vcpu_init,
	.vcpu_destroy = user_vcpu_destroy,
	.legacy_pc = user_legacy_pc,
	.start = user_start,
	.vcpu_thread_start = user_vcpu_thread_start,
	.vcpu_runnable = user_vcpu_runnable,
	.vcpu_sleep = user_vcpu_sleep,
	.vcpu_before_run = user_vcpu_before_run,
	.vcpu_handle_exit = user_vcpu_handle_exit,
	.set_gsi = user_set_gsi,
	.mp_state = user_mp_state,
	.wake = user_wake,
	.send_ipi = user_send_ipi,
	.set_ipi_fault = user_set_ipi_fault,
	.vcpu_present = user_vcpu_present,
	.save = user_save,
	.load = user_load,
};
