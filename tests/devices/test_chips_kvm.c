/*
 * Unit tests of devices/chips_kvm.c: KVM's PICs, IOAPIC and PIT to mpvm's
 * saved states and back, each way a round trip that changes nothing, and
 * the fields whose meaning differs (priority, init sequence, pin level
 * against polarity, the PIT's byte flip-flops and latches).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/chips_kvm.h"

/* The PICs as Linux leaves them: vectors 0x30/0x38, IRQ 0 in service, IRQ 1 and 9 requested, rotated. */
static struct pic_state linux_pics(void)
{
	struct pic_state s;

	memset(&s, 0, sizeof(s));
	s.c[0] = (struct pic_chip_state){ .irr = 0x02, .isr = 0x01, .imr = 0xf8, .lines = 0x03, .base = 0x30,
					  .icw3 = 0x04, .lowest = 3, .ic4 = 1, .aeoi = 0, .read_isr = 1 };
	s.c[1] = (struct pic_chip_state){ .irr = 0x02, .imr = 0xfd, .lines = 0x02, .elcr = 0x02, .base = 0x38,
					  .icw3 = 0x02, .lowest = 7, .ic4 = 1, .init = 3 };
	s.int_out = pic_state_int(&s);
	return s;
}

static void pic_round_trips(void **state)
{
	struct pic_state s = linux_pics(), back;
	struct kvm_pic_state m, sl, m2, sl2;
	char err[160];

	pic_to_kvm(&s, &m, &sl);
	assert_int_equal(m.priority_add, 4);   /* IR 4 highest after IR 3 lowest */
	assert_int_equal(sl.init_state, 2);    /* ICW3 next: two ICWs done */
	assert_int_equal(m.last_irr, 0x03);
	assert_int_equal(pic_from_kvm(&m, &sl, &back, err, sizeof(err)), 0);
	assert_memory_equal(&s, &back, sizeof(s));
	pic_to_kvm(&back, &m2, &sl2);
	assert_memory_equal(&m, &m2, sizeof(m));
	assert_memory_equal(&sl, &sl2, sizeof(sl));

	/* INT: IRQ 1 outranks nothing in service once IRQ 0 is done */
	assert_false(s.int_out);               /* IR0 in service blocks IR1 */
	m.isr = 0;
	assert_int_equal(pic_from_kvm(&m, &sl, &back, err, sizeof(err)), 0);
	assert_true(back.int_out);

	m.init_state = 4;
	assert_int_equal(pic_from_kvm(&m, &sl, &back, err, sizeof(err)), -1);
	assert_string_equal(err, "KVM's PIC master: init state 4 or vector base 0x30 out of range");
}

static void ioapic_round_trips(void **state)
{
	struct ioapic_state s, back;
	struct kvm_ioapic_state k, k2;

	memset(&s, 0, sizeof(s));
	s.id = 0x02000000;
	s.regsel = 0x13;
	for (int i = 0; i < IOAPIC_PINS; i++)
		s.rte[i] = 1ull << 16;
	s.rte[2] = 0x0100000000000030ull;                 /* PIT, edge, to APIC 1 */
	s.rte[9] = 0x41ull | 1ull << 15 | 1ull << 14;     /* SCI, level, remote IRR set */
	s.rte[16] = 0x51ull | 1ull << 15 | 1ull << 13;    /* PCI INTA#, level, active low */
	s.lines = 1u << 9;                                /* SCI asserted; INTA# high: idle */
	s.lines |= 1u << 16;
	ioapic_to_kvm(&s, &k);
	assert_int_equal(k.id, 2);
	assert_int_equal(k.irr, 1u << 9);                 /* asserted pins, after polarity */
	assert_int_equal(k.redirtbl[9].fields.remote_irr, 1);
	ioapic_from_kvm(&k, &back);
	assert_memory_equal(&s, &back, sizeof(s));
	ioapic_to_kvm(&back, &k2);
	assert_memory_equal(&k, &k2, sizeof(k));
	k.irr |= 1u << 16;                                /* INTA# asserted: the line low */
	ioapic_from_kvm(&k, &back);
	assert_int_equal(back.lines & (1u << 16), 0);
}

static void pit_round_trips(void **state)
{
	struct kvm_pit_state2 k, k2;
	struct pit_state s, back;
	const uint64_t now = 123456789;

	memset(&k, 0, sizeof(k));
	/* channel 0: mode 2, rate generator at 1000 Hz (count 1193), LSB then MSB */
	k.channels[0] = (struct kvm_pit_channel_state){ .count = 1193, .rw_mode = 3, .read_state = 3,
							.write_state = 3, .mode = 2, .gate = 1 };
	/* channel 1: never programmed */
	k.channels[1] = (struct kvm_pit_channel_state){ .count = 0x10000, .mode = 0xff, .rw_mode = 3,
							.read_state = 3, .write_state = 3, .gate = 1 };
	/* channel 2: mode 0, count 65536, a count latched and half read, the LSB of a new count written */
	k.channels[2] = (struct kvm_pit_channel_state){ .count = 0x10000, .rw_mode = 3, .read_state = 4,
							.write_state = 4, .write_latch = 0x34, .mode = 0,
							.count_latched = 2, .latched_count = 0x1234,
							.status_latched = 1, .status = 0xb0 };
	k.flags = 2;   /* speaker data on */
	pit_from_kvm(&k, now, &s);
	assert_int_equal(s.ch[0].n, 1193);
	assert_int_equal(s.ch[0].cr, 1193);
	assert_int_equal(s.ch[0].ctrl, 0x34);
	assert_true(s.ch[0].counting);
	assert_int_equal(s.ch[0].start_ns, now);
	assert_false(s.ch[1].counting);
	assert_int_equal(s.ch[1].ctrl, 0);
	assert_true(s.ch[2].write_msb);
	assert_false(s.ch[2].counting);   /* mode 0: the first byte of a count stops it */
	assert_int_equal(s.ch[2].cr & 0xff, 0x34);
	assert_true(s.ch[2].read_msb);
	assert_true(s.ch[2].latch_msb);
	assert_int_equal(s.port61, 2);
	assert_int_equal(s.last_ns, now);

	pit_to_kvm(&s, &k2);
	assert_memory_equal(&k.channels[0], &k2.channels[0], sizeof(k.channels[0]));
	assert_memory_equal(&k.channels[1], &k2.channels[1], sizeof(k.channels[1]));
	assert_int_equal(k2.channels[2].write_state, 4);
	assert_int_equal(k2.channels[2].write_latch, 0x34);
	assert_int_equal(k2.channels[2].count_latched, 2);
	assert_int_equal(k2.channels[2].latched_count, 0x1234);
	assert_int_equal(k2.channels[2].read_state, 4);
	assert_int_equal(k2.flags, 2);
	pit_from_kvm(&k2, now, &back);
	assert_memory_equal(&s, &back, sizeof(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pic_round_trips),
		cmocka_unit_test(ioapic_round_trips),
		cmocka_unit_test(pit_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
