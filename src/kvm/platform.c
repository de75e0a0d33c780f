#include "kvm/platform.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "core/icr.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "kvm/irqchip_user.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

struct platform {
	struct vm *vm;
	struct ioapic *ioapic;
	struct pic *pic;
	struct pit *pit;

	/* The timer thread: sleeps until the next IRQ 0 edge, EOI look or re-arm. */
	pthread_t timer;
	bool timer_made;
	pthread_mutex_t lock;
	pthread_cond_t rearm;
	bool quit;

	/* split: the GSI routes that mirror the redirection table */
	pthread_mutex_t routes_lock;

	/* split: the EOI watchdog (below), under `lock` */
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

static void eoi_watchdog_arm(struct platform *p);

/* ---- IOAPIC --------------------------------------------------------------- */

static void ioapic_deliver(void *opaque, const struct ioapic_msg *m)
{
	struct platform *p = opaque;
	struct vm *vm = p->vm;

	if (vm->opts->irqchip == IRQCHIP_SPLIT) {
		struct kvm_msi msi = { 0 };
		uint64_t addr;

		ioapic_msg_to_msi(m, &addr, &msi.data);
		msi.address_lo = (uint32_t)addr;
		msi.address_hi = (uint32_t)(addr >> 32);
		if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
			fprintf(stderr, "mpvm: KVM_SIGNAL_MSI for IOAPIC vector 0x%02x: %s\n", m->vector, strerror(errno));
		if (m->level)
			eoi_watchdog_arm(p);
		return;
	}
	if (m->delivery == IOAPIC_EXTINT) {
		fprintf(stderr, "mpvm: guest error: IOAPIC pin programmed for ExtINT; mpvm routes the PIC through LINT0 only\n");
		return;
	}
	uirq_deliver(vm, &(struct icr){
		.vector = m->vector, .delivery = (enum icr_delivery)m->delivery,
		.logical = m->logical, .level_assert = true, .level_trigger = m->level,
		.dest = m->dest }, UINT32_MAX);
}

static void ioapic_log(void *opaque, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "mpvm: guest error in the IOAPIC: %s\n", msg);
}

/* split: KVM_SET_GSI_ROUTING with one MSI route per pin, as the redirection table says. */
static void ioapic_redirection_changed(void *opaque, unsigned int pin, uint64_t rte)
{
	struct platform *p = opaque;
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[IOAPIC_PINS];
	} r = { .hdr.nr = IOAPIC_PINS };

	(void)pin;
	(void)rte;
	if (p->vm->opts->irqchip != IRQCHIP_SPLIT)
		return;
	pthread_mutex_lock(&p->routes_lock);
	for (unsigned int i = 0; i < IOAPIC_PINS; i++) {
		struct ioapic_msg m = ioapic_rte_msg(ioapic_redirection(p->ioapic, i));
		uint64_t addr;
		uint32_t data;

		ioapic_msg_to_msi(&m, &addr, &data);
		r.e[i] = (struct kvm_irq_routing_entry){
			.gsi = i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data },
		};
	}
	if (ioctl(p->vm->vm_fd, KVM_SET_GSI_ROUTING, &r) < 0)
		fprintf(stderr, "mpvm: KVM_SET_GSI_ROUTING: %s\n", strerror(errno));
	pthread_mutex_unlock(&p->routes_lock);
}

static const struct ioapic_ops platform_ioapic_ops = {
	.deliver = ioapic_deliver,
	.log = ioapic_log,
	.redirection_changed = ioapic_redirection_changed,
};

/*
 * ---- split: EOIs that KVM does not report ------------------------------------
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
 * So a watchdog, on the timer thread: once some pin has awaited the EOI of
 * the same message for a whole period (20 ms at first, doubling up to 1 s
 * while it lasts), every vCPU is kicked out of KVM_RUN and, before it runs
 * again, reads its local APIC with KVM_GET_LAPIC (platform_before_run()).
 * A vector that no local APIC holds in IRR or ISR has been EOI'd: accepting
 * an interrupt sets its IRR bit, dispatching moves it to ISR and only the
 * EOI clears it there (SDM vol. 3A §10.8.4-5). Those pins get their EOI
 * (ioapic_eoi_pin(), only for the message the round was about). The late
 * exit, if it comes, then finds remote IRR clear, or clears that of a newer
 * message early: at worst one more delivery of an interrupt whose line is
 * still asserted, which the local APIC merges with a pending one.
 */
#define EOI_LOOK_FIRST_NS 20000000ull
#define EOI_LOOK_MAX_NS   1000000000ull

/* A level-triggered message went out: look for its EOI if nothing is looking yet. */
static void eoi_watchdog_arm(struct platform *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->eoi_look_ns == UINT64_MAX) {
		p->eoi_period_ns = EOI_LOOK_FIRST_NS;
		p->eoi_look_ns = vm_now_ns(p->vm) + p->eoi_period_ns;
		pthread_cond_signal(&p->rearm);
	}
	pthread_mutex_unlock(&p->lock);
}

/* The timer thread, with p->lock held, at or after p->eoi_look_ns. */
static void eoi_watchdog_look(struct platform *p, uint64_t now)
{
	uint8_t vector[IOAPIC_PINS];
	uint32_t sent[IOAPIC_PINS], stuck = 0;
	uint32_t pins = ioapic_awaiting_eoi(p->ioapic, vector, sent);
	struct vm *vm = p->vm;

	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		if ((pins & p->eoi_last_pins) >> pin & 1 && sent[pin] == p->eoi_last_sent[pin])
			stuck |= 1u << pin;
	p->eoi_last_pins = pins;
	memcpy(p->eoi_last_sent, sent, sizeof(sent));
	if (!pins) {
		p->eoi_look_ns = UINT64_MAX;
		return;
	}
	if (stuck) {
		uint32_t round = p->eoi_round + 1 ? p->eoi_round + 1 : 1;

		p->eoi_pins = stuck;
		memcpy(p->eoi_vector, vector, sizeof(vector));
		memcpy(p->eoi_sent, sent, sizeof(sent));
		memset(p->eoi_held, 0, sizeof(p->eoi_held));
		p->eoi_missing = vm->ncpus;
		__atomic_store_n(&p->eoi_round, round, __ATOMIC_RELEASE); /* before the kicks */
		for (unsigned int i = 0; i < vm->ncpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		if (p->eoi_period_ns < EOI_LOOK_MAX_NS)
			p->eoi_period_ns *= 2;
	}
	p->eoi_look_ns = now + p->eoi_period_ns;
}

void platform_before_run(struct vcpu *v)
{
	struct platform *p = v->vm->platform;
	struct kvm_lapic_state st;
	uint32_t held[8], round, eoi_pins = 0, eoi_sent[IOAPIC_PINS];

	if (!p || v->user)
		return;
	round = __atomic_load_n(&p->eoi_round, __ATOMIC_ACQUIRE);
	if (round == 0 || p->eoi_reported[v->id] == round) /* only this thread writes its slot */
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
	pthread_mutex_lock(&p->lock);
	if (p->eoi_round == round && p->eoi_reported[v->id] != round) {
		p->eoi_reported[v->id] = round;
		for (unsigned int i = 0; i < 8; i++)
			p->eoi_held[i] |= held[i];
		if (--p->eoi_missing == 0) {
			for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
				uint8_t vec = p->eoi_vector[pin];

				if ((p->eoi_pins >> pin & 1) && !(p->eoi_held[vec / 32] >> (vec % 32) & 1))
					eoi_pins |= 1u << pin;
			}
			memcpy(eoi_sent, p->eoi_sent, sizeof(eoi_sent));
			p->eoi_pins = 0;
		}
	}
	pthread_mutex_unlock(&p->lock);
	/* Outside p->lock: a pin still asserted is sent again, and that re-arms the watchdog. */
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		if (eoi_pins >> pin & 1)
			ioapic_eoi_pin(p->ioapic, pin, eoi_sent[pin]);
}

/* ---- PIC ------------------------------------------------------------------- */

static void pic_kick(void *opaque)
{
	struct platform *p = opaque;

	/*
	 * The PIC's INT pin is wired to the BSP's LINT0 (virtual wire mode).
	 * vcpu_kick: --legacy-pc starts the PIT before the vCPU threads exist;
	 * a thread looks at the PIC before its first KVM_RUN anyway.
	 */
	vcpu_kick(&p->vm->vcpus[p->vm->opts->boot_cpu]);
}

static void pic_log(void *opaque, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "mpvm: guest error in the PIC: %s\n", msg);
}

static const struct pic_ops platform_pic_ops = { .kick = pic_kick, .log = pic_log };

/* ---- PIT ------------------------------------------------------------------- */

static uint64_t pit_now(void *opaque)
{
	struct platform *p = opaque;

	return vm_now_ns(p->vm);
}

static void pit_set_irq(void *opaque, unsigned int irq, bool level)
{
	struct platform *p = opaque;

	platform_set_irq(p->vm, irq, level);
}

static void pit_rearm(void *opaque)
{
	struct platform *p = opaque;

	pthread_mutex_lock(&p->lock);
	pthread_cond_signal(&p->rearm);
	pthread_mutex_unlock(&p->lock);
}

static const struct pit_ops platform_pit_ops = { .now_ns = pit_now, .set_irq = pit_set_irq, .rearm = pit_rearm };

/* The timer thread: the PIT's IRQ 0 edges and, in split mode, the EOI watchdog. */
static void *timer_thread(void *arg)
{
	struct platform *p = arg;
	struct vm *vm = p->vm;

	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		uint64_t next = pit_next_irq_ns(p->pit);

		if (p->eoi_look_ns < next)
			next = p->eoi_look_ns;

		if (next == UINT64_MAX) {
			pthread_cond_wait(&p->rearm, &p->lock);
		} else if (next > vm_now_ns(vm)) {
			/* Condition variables here wait on CLOCK_REALTIME: convert the delay. */
			struct timespec ts;
			uint64_t delay = next - vm_now_ns(vm), abs;

			clock_gettime(CLOCK_REALTIME, &ts);
			abs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + delay;
			ts.tv_sec = (time_t)(abs / 1000000000ull);
			ts.tv_nsec = (long)(abs % 1000000000ull);
			pthread_cond_timedwait(&p->rearm, &p->lock, &ts);
		}
		if (p->quit)
			break;
		if (p->eoi_look_ns <= vm_now_ns(vm))
			eoi_watchdog_look(p, vm_now_ns(vm));
		pthread_mutex_unlock(&p->lock);
		pit_update(p->pit, vm_now_ns(vm));
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- the platform ------------------------------------------------------------ */

int platform_create(struct vm *vm)
{
	struct platform *p = calloc(1, sizeof(*p));

	if (!p) {
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		return -1;
	}
	p->vm = vm;
	p->eoi_look_ns = UINT64_MAX;
	p->eoi_reported = calloc(vm->ncpus ? vm->ncpus : 1, sizeof(*p->eoi_reported));
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->routes_lock, NULL);
	pthread_cond_init(&p->rearm, NULL);
	vm->platform = p;
	p->ioapic = ioapic_create(vm->ioapic_id, &platform_ioapic_ops, p);
	p->pic = pic_create(&platform_pic_ops, p);
	p->pit = pit_create(&platform_pit_ops, p);
	if (!p->ioapic || !p->pic || !p->pit || !p->eoi_reported) {
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		return -1;
	}
	if (pio_register(&vm->pio, 0x20, 2, "PIC master", pic_pio, p->pic) ||
	    pio_register(&vm->pio, 0xa0, 2, "PIC slave", pic_pio, p->pic) ||
	    pio_register(&vm->pio, 0x4d0, 2, "PIC ELCR", pic_pio, p->pic) ||
	    pio_register(&vm->pio, 0x40, 4, "PIT", pit_pio, p->pit) ||
	    pio_register(&vm->pio, 0x61, 1, "PIT channel 2 gate", pit_pio, p->pit)) {
		fprintf(stderr, "mpvm: I/O port ranges of the interrupt controllers overlap\n");
		return -1;
	}
	if (vm->opts->irqchip == IRQCHIP_SPLIT)
		ioapic_redirection_changed(p, 0, 0); /* every pin masked, as after reset */
	return 0;
}

/*
 * --legacy-pc: the port writes a PC BIOS makes (the in-kernel irqchip gets
 * the same state through KVM_SET_IRQCHIP and KVM_SET_PIT2, boot_multiboot.c).
 * The 8259As (8259A data sheet, "Initialization Command Words"): ICW1 edge,
 * cascade, ICW4 needed; ICW2 vector base 0x08 (master) and 0x70 (slave);
 * ICW3 slave on master IR2, slave ID 2; ICW4 8086 mode, normal EOI; OCW1
 * masks all but IRQ 0 and the cascade. The 8254: channel 0, low then high
 * byte, mode 3 (square wave), binary, count 0 = 65536, 18.2 Hz on IRQ 0.
 */
int platform_legacy_pc(struct vm *vm)
{
	static const struct { uint16_t port; uint8_t value; } pic[] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfa }, { 0xa1, 0xff },
	}, pit[] = {
		{ 0x43, 0x36 }, { 0x40, 0x00 }, { 0x40, 0x00 },
	};
	struct platform *p = vm->platform;

	if (!p)
		return -1;
	for (size_t i = 0; i < sizeof(pic) / sizeof(pic[0]); i++) {
		uint32_t v = pic[i].value;

		pic_pio(p->pic, NULL, pic[i].port, true, &v, 1);
	}
	for (size_t i = 0; i < sizeof(pit) / sizeof(pit[0]); i++) {
		uint32_t v = pit[i].value;

		pit_pio(p->pit, NULL, pit[i].port, true, &v, 1);
	}
	/* mpvm's local APICs start as the SDM resets them; a BIOS sets up virtual wire mode. */
	if (vm->opts->irqchip == IRQCHIP_USER)
		uirq_legacy_pc(vm);
	return 0;
}

int platform_start(struct vm *vm)
{
	struct platform *p = vm->platform;
	int err;

	if (!p)
		return 0;
	err = pthread_create(&p->timer, NULL, timer_thread, p);
	if (err) {
		fprintf(stderr, "mpvm: cannot start the interrupt controllers' timer thread: %s\n", strerror(err));
		return -1;
	}
	p->timer_made = true;
	return 0;
}

void platform_destroy(struct vm *vm)
{
	struct platform *p = vm->platform;

	if (!p)
		return;
	if (p->timer_made) {
		pthread_mutex_lock(&p->lock);
		p->quit = true;
		pthread_cond_signal(&p->rearm);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->timer, NULL);
	}
	if (p->pit)
		pit_destroy(p->pit);
	if (p->pic)
		pic_destroy(p->pic);
	if (p->ioapic)
		ioapic_destroy(p->ioapic);
	pthread_cond_destroy(&p->rearm);
	pthread_mutex_destroy(&p->routes_lock);
	pthread_mutex_destroy(&p->lock);
	free(p->eoi_reported);
	free(p);
	vm->platform = NULL;
}

void platform_set_irq(struct vm *vm, unsigned int irq, bool level)
{
	struct platform *p = vm->platform;

	pic_set_irq(p->pic, irq, level);
	ioapic_set_irq(p->ioapic, irq == 0 ? 2 : irq, level);
}

void platform_set_gsi(struct vm *vm, unsigned int gsi, bool level)
{
	struct platform *p = vm->platform;

	if (gsi < 16)
		pic_set_irq(p->pic, gsi, level);
	if (gsi < IOAPIC_PINS)
		ioapic_set_irq(p->ioapic, gsi, level);
}

void platform_eoi(struct vm *vm, uint8_t vector)
{
	if (vm->platform)
		ioapic_eoi(vm->platform->ioapic, vector);
}

int platform_handle_exit(struct vcpu *v)
{
	struct platform *p = v->vm->platform;
	struct kvm_run *run = v->run;

	if (!p)
		return 0;
	if (run->exit_reason == KVM_EXIT_IOAPIC_EOI) {
		ioapic_eoi(p->ioapic, run->eoi.vector);
		return 1;
	}
	if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr >= IOAPIC_BASE &&
	    run->mmio.phys_addr < IOAPIC_BASE + IOAPIC_SIZE) {
		uint64_t off = run->mmio.phys_addr - IOAPIC_BASE;

		if (run->mmio.is_write)
			ioapic_mmio_write(p->ioapic, off, run->mmio.data, run->mmio.len);
		else
			ioapic_mmio_read(p->ioapic, off, run->mmio.data, run->mmio.len);
		return 1;
	}
	return 0;
}

static bool takes_extint(struct vcpu *v)
{
	if (v->user) /* mpvm's own APIC: LINT0 unmasked in ExtINT mode, or the APIC off */
		return uirq_takes_extint(v);
	return v->bsp; /* KVM's APIC decides whether it accepts it (virtual wire) */
}

bool platform_extint_pending(struct vcpu *v)
{
	struct platform *p = v->vm->platform;

	return p && takes_extint(v) && pic_has_interrupt(p->pic);
}

int platform_extint_ack(struct vcpu *v)
{
	return pic_ack(v->vm->platform->pic);
}
