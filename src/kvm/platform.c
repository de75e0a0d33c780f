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

	/* The PIT's timer thread: sleeps until the next IRQ 0 edge or a re-arm. */
	pthread_t pit_thread;
	bool pit_thread_made;
	pthread_mutex_t lock;
	pthread_cond_t rearm;
	bool quit;

	/* split: the GSI routes that mirror the redirection table */
	pthread_mutex_t routes_lock;
};

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

/* ---- PIC ------------------------------------------------------------------- */

static void pic_kick(void *opaque)
{
	struct platform *p = opaque;

	/* The PIC's INT pin is wired to the BSP's LINT0 (virtual wire mode). */
	vcpu_notify(&p->vm->vcpus[p->vm->opts->boot_cpu]);
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

static void *pit_thread(void *arg)
{
	struct platform *p = arg;
	struct vm *vm = p->vm;

	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		uint64_t next = pit_next_irq_ns(p->pit);

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
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->routes_lock, NULL);
	pthread_cond_init(&p->rearm, NULL);
	vm->platform = p;
	p->ioapic = ioapic_create(vm->ioapic_id, &platform_ioapic_ops, p);
	p->pic = pic_create(&platform_pic_ops, p);
	p->pit = pit_create(&platform_pit_ops, p);
	if (!p->ioapic || !p->pic || !p->pit) {
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

int platform_start(struct vm *vm)
{
	struct platform *p = vm->platform;
	int err;

	if (!p)
		return 0;
	err = pthread_create(&p->pit_thread, NULL, pit_thread, p);
	if (err) {
		fprintf(stderr, "mpvm: cannot start the PIT thread: %s\n", strerror(err));
		return -1;
	}
	p->pit_thread_made = true;
	return 0;
}

void platform_destroy(struct vm *vm)
{
	struct platform *p = vm->platform;

	if (!p)
		return;
	if (p->pit_thread_made) {
		pthread_mutex_lock(&p->lock);
		p->quit = true;
		pthread_cond_signal(&p->rearm);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->pit_thread, NULL);
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
