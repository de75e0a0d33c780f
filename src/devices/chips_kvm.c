/*
 * KVM's PICs, IOAPIC and PIT <-> mpvm's (chips_kvm.h).
 *
 * 8259A (KVM's arch/x86/kvm/i8259.c keeps the same registers under other
 * names): KVM's priority_add is the IR of highest priority, mpvm keeps the
 * lowest; KVM's init_state counts the ICWs still expected from 1 where mpvm
 * names the next ICW (2-4); last_irr is the input lines. KVM has no ICW1
 * LTIM or SNGL (it implements neither) and no ICW3 (the cascade is IR2 on
 * a PC): from KVM they are the PC's values; to KVM they are dropped.
 *
 * I/O APIC: KVM's irr is each pin asserted (its level after the entry's
 * polarity), mpvm keeps the electrical level (ioapic.h); KVM's ID is the
 * 4-bit value, mpvm keeps the ID register (bits 27:24). mpvm's count of
 * messages per pin (`sent`, which tells a late EOI from a new delivery in
 * split mode) starts again at 0.
 *
 * 8254 (KVM's i8254.c): mode, access mode, BCD, gate, the count loaded,
 * the read and write byte flip-flops, a latched count and a latched status
 * cross as they are. KVM's count_load_time is the host's clock, and
 * KVM_SET_PIT2 restarts every count from the count loaded anyway, so the
 * phase a count had reached does not cross in either direction (a restore
 * in kernel mode loses it the same way). Port 0x61: channel 2's gate and
 * the speaker data bit (KVM_PIT_FLAGS_SPEAKER_DATA_ON); its NMI enable
 * bits have no place in KVM's state.
 */
#include "devices/chips_kvm.h"

#include <string.h>

#include "core/errmsg.h"

#ifndef KVM_PIT_FLAGS_SPEAKER_DATA_ON
#define KVM_PIT_FLAGS_SPEAKER_DATA_ON 0x00000002
#endif

/* ---- 8259A ------------------------------------------------------------------------------ */

static int chip_from_kvm(const struct kvm_pic_state *k, bool master, struct pic_chip_state *o, char *err,
			 size_t errlen)
{
	if (k->init_state > 3 || (k->irq_base & 7))
		return errmsg(err, errlen, "KVM's PIC %s: init state %u or vector base 0x%x out of range",
			      master ? "master" : "slave", k->init_state, k->irq_base);
	memset(o, 0, sizeof(*o));
	o->irr = k->irr;
	o->isr = k->isr;
	o->imr = k->imr;
	o->lines = k->last_irr;
	o->elcr = k->elcr & (master ? 0xf8 : 0xde);   /* PIIX: IRQ 0, 1, 2, 8, 13 are edge-only */
	o->base = k->irq_base;
	o->icw3 = master ? 1u << 2 : 2;                  /* the slave on master IR2 */
	o->lowest = (uint8_t)((k->priority_add + 7) & 7);
	o->init = k->init_state ? (uint8_t)(k->init_state + 1) : 0;
	o->ic4 = !!k->init4;
	o->aeoi = !!k->auto_eoi;
	o->sfnm = !!k->special_fully_nested_mode;
	o->rotate_aeoi = !!k->rotate_on_auto_eoi;
	o->read_isr = !!k->read_reg_select;
	o->poll = !!k->poll;
	o->smm = !!k->special_mask;
	return 0;
}

static void chip_to_kvm(const struct pic_chip_state *o, bool master, struct kvm_pic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->last_irr = o->lines;
	k->irr = o->irr;
	k->imr = o->imr;
	k->isr = o->isr;
	k->priority_add = (uint8_t)((o->lowest + 1) & 7);
	k->irq_base = o->base;
	k->read_reg_select = o->read_isr;
	k->poll = o->poll;
	k->special_mask = o->smm;
	k->init_state = o->init ? (uint8_t)(o->init - 1) : 0;
	k->auto_eoi = o->aeoi;
	k->rotate_on_auto_eoi = o->rotate_aeoi;
	k->special_fully_nested_mode = o->sfnm;
	k->init4 = o->ic4;
	k->elcr = o->elcr;
	k->elcr_mask = master ? 0xf8 : 0xde;
}

int pic_from_kvm(const struct kvm_pic_state *master, const struct kvm_pic_state *slave, struct pic_state *out,
		 char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (chip_from_kvm(master, true, &out->c[0], err, errlen) || chip_from_kvm(slave, false, &out->c[1], err, errlen))
		return -1;
	out->int_out = pic_state_int(out);
	return 0;
}

void pic_to_kvm(const struct pic_state *s, struct kvm_pic_state *master, struct kvm_pic_state *slave)
{
	chip_to_kvm(&s->c[0], true, master);
	chip_to_kvm(&s->c[1], false, slave);
}

/* ---- I/O APIC --------------------------------------------------------------------------- */

#define RTE_LOW_ACTIVE (1ull << 13)   /* 82093AA §3.2.4: interrupt input pin polarity */

static uint32_t low_active_pins(const uint64_t *rte)
{
	uint32_t m = 0;

	for (unsigned int i = 0; i < IOAPIC_PINS; i++)
		m |= (uint32_t)!!(rte[i] & RTE_LOW_ACTIVE) << i;
	return m;
}

void ioapic_from_kvm(const struct kvm_ioapic_state *k, struct ioapic_state *out)
{
	memset(out, 0, sizeof(*out));
	out->id = (k->id & 0xfu) << 24;
	out->regsel = (uint8_t)k->ioregsel;
	for (unsigned int i = 0; i < IOAPIC_PINS; i++)
		out->rte[i] = k->redirtbl[i].bits;
	out->lines = (k->irr ^ low_active_pins(out->rte)) & ((1u << IOAPIC_PINS) - 1);
}

void ioapic_to_kvm(const struct ioapic_state *s, struct kvm_ioapic_state *out)
{
	memset(out, 0, sizeof(*out));
	out->base_address = IOAPIC_BASE;
	out->ioregsel = s->regsel;
	out->id = (s->id >> 24) & 0xfu;
	for (unsigned int i = 0; i < IOAPIC_PINS; i++)
		out->redirtbl[i].bits = s->rte[i];
	out->irr = (s->lines ^ low_active_pins(s->rte)) & ((1u << IOAPIC_PINS) - 1);
}

/* ---- 8254 ------------------------------------------------------------------------------- */

/* KVM's read_state/write_state/count_latched values (i8254.h). */
enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };
#define KVM_PIT_UNPROGRAMMED 0xff   /* KVM's mode before any control word */

static uint16_t to_bcd(uint32_t v)
{
	v %= 10000;
	return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static void channel_from_kvm(const struct kvm_pit_channel_state *k, uint64_t now_ns, struct pit_channel_state *c)
{
	uint32_t count = k->count && k->count <= 0x10000 ? k->count : 0x10000;

	memset(c, 0, sizeof(*c));
	c->rw = k->rw_mode >= RW_LSB && k->rw_mode <= RW_WORD0 ? k->rw_mode : RW_WORD0;
	c->gate = !!k->gate;
	c->start_ns = now_ns;
	if (k->mode > 5) {            /* never programmed: no count, output low */
		c->mode = 0;
		return;
	}
	c->mode = k->mode;
	c->bcd = !!k->bcd;
	c->ctrl = (uint8_t)(c->rw << 4 | c->mode << 1 | c->bcd);
	if (c->bcd && count > 10000)
		count = 10000;
	c->cr = c->bcd ? to_bcd(count) : (uint16_t)count;
	c->n = c->reload = count;
	c->loaded = 1;
	c->counting = 1;
	if (c->rw == RW_WORD0 && k->write_state == RW_WORD1) {
		/* The low byte of a new count written, the high byte to come. */
		c->write_msb = 1;
		c->cr = (uint16_t)((c->cr & 0xff00) | k->write_latch);
		c->counting = c->mode != 0;    /* mode 0: writing the first byte stops the count */
	}
	c->read_msb = c->rw == RW_WORD0 && k->read_state == RW_WORD1;
	c->count_latched = !!k->count_latched;
	c->latch = k->latched_count;
	c->latch_msb = c->rw == RW_WORD0 && k->count_latched == RW_MSB;
	c->status_latched = !!k->status_latched;
	c->status = k->status;
}

static void channel_to_kvm(const struct pit_channel_state *c, struct kvm_pit_channel_state *k)
{
	uint32_t count = c->loaded ? c->reload : c->n;

	memset(k, 0, sizeof(*k));
	k->gate = c->gate;
	k->rw_mode = c->rw;
	k->read_state = c->rw == RW_WORD0 ? (c->read_msb ? RW_WORD1 : RW_WORD0) : c->rw;
	k->write_state = c->rw == RW_WORD0 ? (c->write_msb ? RW_WORD1 : RW_WORD0) : c->rw;
	k->write_latch = c->write_msb ? (uint8_t)c->cr : 0;
	if (!c->loaded && !c->counting) {
		/* a control word and no count yet, or never programmed: KVM counts nothing */
		k->mode = c->ctrl ? c->mode : KVM_PIT_UNPROGRAMMED;
		k->count = 0x10000;
	} else {
		k->mode = c->mode;
		k->count = count ? count : (c->bcd ? 10000 : 0x10000);
	}
	k->bcd = c->bcd;
	if (c->count_latched) {
		k->count_latched = c->rw == RW_WORD0 ? (c->latch_msb ? RW_MSB : RW_WORD0) : c->rw;
		k->latched_count = c->latch;
	}
	k->status_latched = c->status_latched;
	k->status = c->status;
}

void pit_from_kvm(const struct kvm_pit_state2 *k, uint64_t now_ns, struct pit_state *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 3; i++)
		channel_from_kvm(&k->channels[i], now_ns, &out->ch[i]);
	out->last_ns = now_ns;
	out->port61 = (uint8_t)(out->ch[2].gate | (k->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON ? 2 : 0));
}

void pit_to_kvm(const struct pit_state *s, struct kvm_pit_state2 *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 3; i++)
		channel_to_kvm(&s->ch[i], &out->channels[i]);
	out->flags = s->port61 & 2 ? KVM_PIT_FLAGS_SPEAKER_DATA_ON : 0;
}

