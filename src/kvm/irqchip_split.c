/*
 * --irqchip split: the local APICs are KVM's (KVM_CAP_SPLIT_IRQCHIP), so
 * KVM runs the MP-state machine; the IOAPIC, the PICs and the PIT are
 * mpvm's (platform.c). The IOAPIC's messages reach KVM's local APICs as
 * MSIs (KVM_SIGNAL_MSI); KVM learns which vectors are level-triggered from
 * GSI routes that mirror the redirection table and reports their EOIs with
 * KVM_EXIT_IOAPIC_EOI. The PIC's INTR goes to the BSP with KVM_INTERRUPT.
 */
#include "kvm/irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/ioapic.h"
#include "kvm/platform.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/*
 * ---- EOIs that KVM does not report -------------------------------------------
 *
 * In split mode the IOAPIC hears of a local APIC's EOI only through
 * KVM_EXIT_IOAPIC_EOI, and KVM turns the EOI into that exit lazily: it
 * notes the vector (one slot per vCPU) and raises a request that becomes
 * the exit the next time the vCPU is about to enter the guest. A vCPU that
 * halts first sleeps in KVM_RUN with the exit still pending, and a second
 * EOI before the exit overwrites the first. Either way the pin's remote IRR
 * stays set, and a level pin whose line is still asserted is never sent
 * again (82093AA §3.2.4) -- while the guest may be halted waiting for just
 * that interrupt. On KVM-PVM it is the rule, not a race: PVM EOIs every
 * interrupt as it injects it, so the exit is already pending when the
 * guest's handler runs, and kvm-unit-tests' ioapic test ("retriggered level
 * interrupts without masking": the handler EOIs, leaves the line asserted
 * and the test waits in HLT for the second interrupt) halts for good.
 *
 * So a watchdog, on the platform's timer thread: once some pin has awaited
 * the EOI of the same message for a whole period (20 ms at first, doubling
 * up to 1 s while it lasts), every vCPU is kicked out of KVM_RUN and,
 * before it runs again, reads its local APIC with KVM_GET_LAPIC
 * (split_vcpu_before_run()). A vector that no local APIC holds in IRR or
 * ISR has been EOI'd: accepting an interrupt sets its IRR bit, dispatching
 * moves it to ISR and only the EOI clears it there (SDM vol. 3A
 * §10.8.4-5). Those pins get their EOI (ioapic_eoi_pin(), only for the
 * message the round was about). The late exit, if it comes, then finds
 * remote IRR clear, or clears that of a newer message early: at worst one
 * more delivery of an interrupt whose line is still asserted, which the
 * local APIC merges with a pending one.
 */
#define EOI_LOOK_FIRST_NS 20000000ull
#define EOI_LOOK_MAX_NS   1000000000ull

struct split_chip {
	struct platform *platform;
	pthread_mutex_t routes_lock;   /* KVM_SET_GSI_ROUTING calls, one at a time */

	/* The EOI watchdog, under `lock` */
	pthread_mutex_t lock;
	uint64_t eoi_look_ns;          /* next look, UINT64_MAX: no level message out */
	uint64_t eoi_period_ns;
	uint32_t eoi_last_pins;        /* pins awaiting EOI at the last look... */
	uint32_t eoi_last_sent[IOAPIC_PINS]; /* ...and which message each awaited */
	uint32_t eoi_round;            /* the current round of reports, 0 before the first */
	uint32_t eoi_pins;             /* the pins that round is about */
	uint8_t eoi_vector[IOAPIC_PINS];
	uint32_t eoi_sent[IOAPIC_PINS];
	uint32_t eoi_held[8];          /* vectors some local APIC holds in IRR or ISR */
	unsigned int eoi_missing;      /* vCPUs yet to report in this round */
	uint32_t *eoi_reported;        /* per vCPU: the last round it reported in */
};

static struct split_chip *chip_of(struct vm *vm)
{
	return vm->chip;
}

/* A level-triggered message went out: look for its EOI if nothing is looking yet. */
static void eoi_watchdog_arm(struct vm *vm)
{
	struct split_chip *c = chip_of(vm);
	bool rearm = false;

	pthread_mutex_lock(&c->lock);
	if (c->eoi_look_ns == UINT64_MAX) {
		c->eoi_period_ns = EOI_LOOK_FIRST_NS;
		c->eoi_look_ns = vm_now_ns(vm) + c->eoi_period_ns;
		rearm = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (rearm)
		platform_rearm(c->platform);
}

static uint64_t eoi_watchdog_next(struct vm *vm)
{
	struct split_chip *c = chip_of(vm);
	uint64_t next;

	pthread_mutex_lock(&c->lock);
	next = c->eoi_look_ns;
	pthread_mutex_unlock(&c->lock);
	return next;
}

/* The timer thread, at or after eoi_look_ns. */
static void eoi_watchdog_look(struct vm *vm, uint64_t now)
{
	struct split_chip *c = chip_of(vm);
	uint8_t vector[IOAPIC_PINS];
	uint32_t sent[IOAPIC_PINS], stuck = 0;
	uint32_t pins = ioapic_awaiting_eoi(platform_ioapic(c->platform), vector, sent);
	bool kick = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		if ((pins & c->eoi_last_pins) >> pin & 1 && sent[pin] == c->eoi_last_sent[pin])
			stuck |= 1u << pin;
	c->eoi_last_pins = pins;
	memcpy(c->eoi_last_sent, sent, sizeof(sent));
	if (!pins) {
		c->eoi_look_ns = UINT64_MAX;
	} else {
		if (stuck) {
			uint32_t round = c->eoi_round + 1 ? c->eoi_round + 1 : 1;

			c->eoi_pins = stuck;
			memcpy(c->eoi_vector, vector, sizeof(vector));
			memcpy(c->eoi_sent, sent, sizeof(sent));
			memset(c->eoi_held, 0, sizeof(c->eoi_held));
			/* vCPUs not plugged in (CPU hotplug) never report: not waited for */
			c->eoi_missing = 0;
			for (unsigned int i = 0; i < vm->ncpus; i++)
				c->eoi_missing += atomic_load(&vm->vcpus[i].present);
			__atomic_store_n(&c->eoi_round, round, __ATOMIC_RELEASE); /* before the kicks */
			kick = true;
			if (c->eoi_period_ns < EOI_LOOK_MAX_NS)
				c->eoi_period_ns *= 2;
		}
		c->eoi_look_ns = now + c->eoi_period_ns;
	}
	pthread_mutex_unlock(&c->lock);
	for (unsigned int i = 0; kick && i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

/* The vCPU thread: this vCPU's part of a watchdog round, if one asks for it. */
static void eoi_watchdog_report(struct vcpu *v)
{
	struct split_chip *c = chip_of(v->vm);
	struct kvm_lapic_state st;
	uint32_t held[8], round, eoi_pins = 0, eoi_sent[IOAPIC_PINS];

	round = __atomic_load_n(&c->eoi_round, __ATOMIC_ACQUIRE);
	if (round == 0 || c->eoi_reported[v->id] == round) /* only this thread writes its slot */
		return;
	/* IRR at 0x200 and ISR at 0x100, eight 32-bit registers 16 bytes apart. */
	if (ioctl(v->fd, KVM_GET_LAPIC, &st) < 0) {
		memset(held, 0xff, sizeof(held)); /* cannot tell: assume it holds them all */
	} else {
		for (unsigned int i = 0; i < 8; i++) {
			uint32_t irr, isr;

			memcpy(&irr, st.regs + 0x200 + 0x10 * i, 4);
			memcpy(&isr, st.regs + 0x100 + 0x10 * i, 4);
			held[i] = irr | isr;
		}
	}
	pthread_mutex_lock(&c->lock);
	if (c->eoi_round == round && c->eoi_reported[v->id] != round) {
		c->eoi_reported[v->id] = round;
		for (unsigned int i = 0; i < 8; i++)
			c->eoi_held[i] |= held[i];
		if (--c->eoi_missing == 0) {
			for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
				uint8_t vec = c->eoi_vector[pin];

				if ((c->eoi_pins >> pin & 1) && !(c->eoi_held[vec / 32] >> (vec % 32) & 1))
					eoi_pins |= 1u << pin;
			}
			memcpy(eoi_sent, c->eoi_sent, sizeof(eoi_sent));
			c->eoi_pins = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* Outside c->lock: a pin still asserted is sent again, and that re-arms the watchdog. */
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		if (eoi_pins >> pin & 1)
			ioapic_eoi_pin(platform_ioapic(c->platform), pin, eoi_sent[pin]);
}

/* ---- the IOAPIC's messages as MSIs ------------------------------------------- */

static void split_deliver(struct vm *vm, const struct ioapic_msg *m)
{
	struct kvm_msi msi = { 0 };
	uint64_t addr;

	ioapic_msg_to_msi(m, &addr, &msi.data);
	msi.address_lo = (uint32_t)addr;
	msi.address_hi = (uint32_t)(addr >> 32);
	if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		fprintf(stderr, "mpvm: KVM_SIGNAL_MSI for IOAPIC vector 0x%02x: %s\n", m->vector, strerror(errno));
	if (m->level)
		eoi_watchdog_arm(vm);
}

/* KVM_SET_GSI_ROUTING with one MSI route per pin, as the redirection table says. */
static void split_routes(struct vm *vm)
{
	struct split_chip *c = chip_of(vm);
	struct ioapic *io = platform_ioapic(c->platform);
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[IOAPIC_PINS];
	} r = { .hdr.nr = IOAPIC_PINS };

	pthread_mutex_lock(&c->routes_lock);
	for (unsigned int i = 0; i < IOAPIC_PINS; i++) {
		struct ioapic_msg m = ioapic_rte_msg(ioapic_redirection(io, i));
		uint64_t addr;
		uint32_t data;

		ioapic_msg_to_msi(&m, &addr, &data);
		r.e[i] = (struct kvm_irq_routing_entry){
			.gsi = i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data },
		};
	}
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &r) < 0)
		fprintf(stderr, "mpvm: KVM_SET_GSI_ROUTING: %s\n", strerror(errno));
	pthread_mutex_unlock(&c->routes_lock);
}

/* KVM's local APIC decides whether it accepts ExtINT (virtual wire); the PIC is wired to the BSP. */
static bool split_takes_extint(struct vcpu *v)
{
	return v->bsp;
}

static const struct platform_wiring split_wiring = {
	.deliver = split_deliver,
	.redirection_changed = split_routes,
	.takes_extint = split_takes_extint,
	.timer_next = eoi_watchdog_next,
	.timer_fire = eoi_watchdog_look,
};

/* ---- the chip -------------------------------------------------------------------- */

static void split_destroy(struct vm *vm)
{
	struct split_chip *c = chip_of(vm);

	if (!c)
		return;
	platform_destroy(c->platform);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->routes_lock);
	free(c->eoi_reported);
	free(c);
	vm->chip = NULL;
	vm->platform = NULL;
}

static int split_create(struct vm *vm)
{
	/* Local APICs in KVM; 24 GSI routes for mpvm's IOAPIC pins (KVM API 7.13). */
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = IOAPIC_PINS };
	struct split_chip *c = calloc(1, sizeof(*c));

	if (!c || !(c->eoi_reported = calloc(vm->ncpus, sizeof(*c->eoi_reported)))) {
		free(c);
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		return -1;
	}
	c->eoi_look_ns = UINT64_MAX;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->routes_lock, NULL);
	vm->chip = c;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &split) < 0) {
		fprintf(stderr, "mpvm: --irqchip split: KVM_CAP_SPLIT_IRQCHIP: %s\n", strerror(errno));
		return -1;
	}
	c->platform = vm->platform = platform_create(vm, &split_wiring);
	if (!c->platform)
		return -1;
	split_routes(vm); /* every pin masked, as after reset */
	return kvm_lapic_vm_init(vm);
}

static int split_legacy_pc(struct vm *vm)
{
	platform_legacy_pc(chip_of(vm)->platform);
	return 0;
}

static int split_start(struct vm *vm)
{
	return platform_start(chip_of(vm)->platform);
}

/*
 * The PIC's INTR goes to the BSP with KVM_INTERRUPT when KVM says the vCPU
 * can take it (its LAPIC accepts ExtINT and the interrupt window is open).
 */
static void split_vcpu_before_run(struct vcpu *v)
{
	struct platform *p = chip_of(v->vm)->platform;
	struct kvm_run *run = v->run;

	eoi_watchdog_report(v);
	run->request_interrupt_window = 0;
	if (!platform_extint_pending(p, v))
		return;
	if (run->ready_for_interrupt_injection) {
		struct kvm_interrupt irq = { .irq = (uint32_t)platform_extint_ack(p) };

		if (ioctl(v->fd, KVM_INTERRUPT, &irq) < 0)
			fprintf(stderr, "mpvm: vCPU %u: KVM_INTERRUPT: %s\n", v->id, strerror(errno));
	} else {
		run->request_interrupt_window = 1;
	}
}

static int split_vcpu_handle_exit(struct vcpu *v)
{
	if (v->run->exit_reason != KVM_EXIT_IOAPIC_EOI)
		return 0;
	platform_eoi(chip_of(v->vm)->platform, v->run->eoi.vector);
	return 1;
}

static int split_save(struct vm *vm, void *buf, size_t *len)
{
	return platform_save(chip_of(vm)->platform, buf, len);
}

static int split_load(struct vm *vm, const void *buf, size_t len)
{
	return platform_load(chip_of(vm)->platform, buf, len);
}

static int split_set_gsi(struct vm *vm, unsigned int gsi, bool level)
{
	platform_set_gsi(chip_of(vm)->platform, gsi, level);
	return 0;
}

const struct irqchip_ops irqchip_split_ops = {
	.create = split_create,
	.destroy = split_destroy,
	.vcpu_init = kvm_lapic_vcpu_init,
	.legacy_pc = split_legacy_pc,
	.start = split_start,
	.vcpu_runnable = kvm_lapic_always_runnable,
	.vcpu_before_run = split_vcpu_before_run,
	.vcpu_after_run = kvm_lapic_after_run,
	.vcpu_handle_exit = split_vcpu_handle_exit,
	.set_gsi = split_set_gsi,
	.mp_state = kvm_lapic_mp_state,
	.save = split_save,
	.load = split_load,
};
