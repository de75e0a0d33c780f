#include "kvm/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "kvm/sandbox.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

struct platform {
	struct vm *vm;
	struct platform_wiring w;
	struct ioapic *ioapic;
	struct pic *pic;
	struct pit *pit;

	/* The timer thread: sleeps until the next IRQ 0 edge, the irqchip's work or a re-arm. */
	pthread_t timer;
	bool timer_made;
	pthread_mutex_t lock;
	pthread_cond_t rearm;    /* CLOCK_MONOTONIC */
	bool quit;

	atomic_uint logs;        /* guest errors reported by the IOAPIC and the PICs */
};

/*
 * Guest errors in the IOAPIC and the PICs: the first PLATFORM_MAX_LOGS are
 * printed, then one line says the rest are not, so a guest that programs
 * garbage in a loop cannot flood stderr (or a log file behind it).
 */
#define PLATFORM_MAX_LOGS 32

static void guest_error(struct platform *p, const char *dev, const char *msg)
{
	unsigned int n = atomic_fetch_add(&p->logs, 1);

	if (n < PLATFORM_MAX_LOGS)
		fprintf(stderr, "mpvm: guest error in the %s: %s\n", dev, msg);
	else if (n == PLATFORM_MAX_LOGS)
		fprintf(stderr, "mpvm: (more guest errors in the IOAPIC and PICs; not shown)\n");
}

/* ---- IOAPIC --------------------------------------------------------------- */

static void ioapic_deliver(void *opaque, const struct ioapic_msg *m)
{
	struct platform *p = opaque;

	p->w.deliver(p->vm, m);
}

static void ioapic_log(void *opaque, const char *msg)
{
	guest_error(opaque, "IOAPIC", msg);
}

static void ioapic_redirection_changed(void *opaque, unsigned int pin, uint64_t rte)
{
	struct platform *p = opaque;

	(void)pin;
	(void)rte;
	if (p->w.redirection_changed)
		p->w.redirection_changed(p->vm);
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

	/*
	 * The PIC's INT pin is wired to the BSP's LINT0 (virtual wire mode).
	 * vcpu_kick: --legacy-pc starts the PIT before the vCPU threads exist;
	 * a thread looks at the PIC before its first KVM_RUN anyway.
	 */
	vcpu_kick(&p->vm->vcpus[p->vm->opts->boot_cpu]);
}

static void pic_log(void *opaque, const char *msg)
{
	guest_error(opaque, "PIC", msg);
}

static const struct pic_ops platform_pic_ops = { .kick = pic_kick, .log = pic_log };

/* ---- PIT ------------------------------------------------------------------- */

static uint64_t pit_now(void *opaque)
{
	struct platform *p = opaque;

	return vm_now_ns(p->vm);
}

/* IRQ 0 is PIC input 0 and IOAPIC pin 2 (the MADT's interrupt source override). */
static void pit_set_irq(void *opaque, unsigned int irq, bool level)
{
	struct platform *p = opaque;

	pic_set_irq(p->pic, irq, level);
	ioapic_set_irq(p->ioapic, irq == 0 ? 2 : irq, level);
}

static void pit_rearm(void *opaque)
{
	platform_rearm(opaque);
}

static const struct pit_ops platform_pit_ops = { .now_ns = pit_now, .set_irq = pit_set_irq, .rearm = pit_rearm };

/* ---- the timer thread -------------------------------------------------------- */

static uint64_t irqchip_next(struct platform *p)
{
	return p->w.timer_next ? p->w.timer_next(p->vm) : UINT64_MAX;
}

/* The PIT's IRQ 0 edges and the irqchip's own timed work. */
static void *timer_thread(void *arg)
{
	struct platform *p = arg;
	struct vm *vm = p->vm;

	pthread_setname_np(pthread_self(), "timer");
	if (sandbox_enter(SANDBOX_TIMER, vm->opts->seccomp, vm->vm_fd, -1)) {
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		uint64_t next = pit_next_irq_ns(p->pit), chip = irqchip_next(p), now;

		if (chip < next)
			next = chip;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&p->rearm, &p->lock);
		} else if (next > vm_now_ns(vm)) {
			struct timespec ts = ns_to_timespec(vm->t0_ns + next);

			pthread_cond_timedwait(&p->rearm, &p->lock, &ts);
		}
		if (p->quit)
			break;
		pthread_mutex_unlock(&p->lock);
		now = vm_now_ns(vm);
		if (irqchip_next(p) <= now)
			p->w.timer_fire(vm, now);
		pit_update(p->pit, now);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void platform_rearm(struct platform *p)
{
	pthread_mutex_lock(&p->lock);
	pthread_cond_signal(&p->rearm);
	pthread_mutex_unlock(&p->lock);
}

/* ---- the platform ------------------------------------------------------------ */

struct platform *platform_create(struct vm *vm, const struct platform_wiring *w)
{
	struct platform *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p) {
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		return NULL;
	}
	p->vm = vm;
	p->w = *w;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->rearm, &ca);
	pthread_condattr_destroy(&ca);
	p->ioapic = ioapic_create(vm->ioapic_id, &platform_ioapic_ops, p);
	p->pic = pic_create(&platform_pic_ops, p);
	p->pit = pit_create(&platform_pit_ops, p);
	if (!p->ioapic || !p->pic || !p->pit) {
		fprintf(stderr, "mpvm: out of memory for the interrupt controllers\n");
		platform_destroy(p);
		return NULL;
	}
	return p;
}

/*
 * --legacy-pc: the port writes a PC BIOS makes (the in-kernel irqchip gets
 * the same state through KVM_SET_IRQCHIP and KVM_SET_PIT2, irqchip_kernel.c).
 * The 8259As (8259A data sheet, "Initialization Command Words"): ICW1 edge,
 * cascade, ICW4 needed; ICW2 vector base 0x08 (master) and 0x70 (slave);
 * ICW3 slave on master IR2, slave ID 2; ICW4 8086 mode, normal EOI; OCW1
 * masks all but IRQ 0 and the cascade. The 8254: channel 0, low then high
 * byte, mode 3 (square wave), binary, count 0 = 65536, 18.2 Hz on IRQ 0.
 */
void platform_legacy_pc(struct platform *p)
{
	static const struct { uint16_t port; uint8_t value; } pic[] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfa }, { 0xa1, 0xff },
	}, pit[] = {
		{ 0x43, 0x36 }, { 0x40, 0x00 }, { 0x40, 0x00 },
	};

	for (size_t i = 0; i < sizeof(pic) / sizeof(pic[0]); i++) {
		uint32_t v = pic[i].value;

		pic_pio(p->pic, pic[i].port, true, &v, 1);
	}
	for (size_t i = 0; i < sizeof(pit) / sizeof(pit[0]); i++) {
		uint32_t v = pit[i].value;

		pit_pio(p->pit, pit[i].port, true, &v, 1);
	}
}

int platform_start(struct platform *p)
{
	int err = pthread_create(&p->timer, NULL, timer_thread, p);

	if (err) {
		fprintf(stderr, "mpvm: cannot start the interrupt controllers' timer thread: %s\n", strerror(err));
		return -1;
	}
	p->timer_made = true;
	return 0;
}

void platform_destroy(struct platform *p)
{
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
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void platform_set_gsi(struct platform *p, unsigned int gsi, bool level)
{
	if (gsi < 16)
		pic_set_irq(p->pic, gsi, level);
	if (gsi < IOAPIC_PINS)
		ioapic_set_irq(p->ioapic, gsi, level);
}

void platform_eoi(struct platform *p, uint8_t vector)
{
	ioapic_eoi(p->ioapic, vector);
}

bool platform_pic_intr(struct platform *p)
{
	return pic_has_interrupt(p->pic);
}

bool platform_extint_pending(struct platform *p, struct vcpu *v)
{
	return p->w.takes_extint(v) && pic_has_interrupt(p->pic);
}

int platform_extint_ack(struct platform *p)
{
	return pic_ack(p->pic);
}

struct ioapic *platform_ioapic(struct platform *p)
{
	return p->ioapic;
}

struct pic *platform_pic(struct platform *p)
{
	return p->pic;
}

struct pit *platform_pit(struct platform *p)
{
	return p->pit;
}

/* ---- snapshots ----------------------------------------------------------------- */

size_t platform_state_size(void)
{
	return sizeof(struct platform_state);
}

int platform_save(struct platform *p, void *buf, size_t *len)
{
	struct platform_state st;

	if (*len < sizeof(st)) {
		errno = ENOSPC;
		return -1;
	}
	ioapic_save(p->ioapic, &st.ioapic);
	pic_save(p->pic, &st.pic);
	pit_save(p->pit, &st.pit);
	memcpy(buf, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

int platform_load(struct platform *p, const void *buf, size_t len)
{
	struct platform_state st;
	char err[160];

	if (len != sizeof(st)) {
		fprintf(stderr, "mpvm: --restore: section CHIP#0: %zu bytes, expected %zu (mpvm's IOAPIC, PICs and PIT)\n",
			len, sizeof(st));
		errno = EINVAL;
		return -1;
	}
	memcpy(&st, buf, sizeof(st));
	if (ioapic_load(p->ioapic, &st.ioapic, err, sizeof(err)) || pic_load(p->pic, &st.pic, err, sizeof(err)) ||
	    pit_load(p->pit, &st.pit, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --restore: %s\n", err);
		errno = EINVAL;
		return -1;
	}
	if (p->w.redirection_changed)
		p->w.redirection_changed(p->vm); /* KVM's routes follow the loaded redirection table */
	platform_rearm(p);
	return 0;
}
