/*
 * libFuzzer target: the KVM-free device models of src/devices driven the
 * way a guest (and the vCPU loop) drives them. The input is a sequence of
 * operations: one byte picks the device and the kind of access, then come
 * the port or offset, the size and the value bytes (missing bytes read as
 * 0). One machine's worth of devices is created per input and destroyed at
 * its end, wired roughly as kvm/ wires them (IOAPIC -> local APIC, local
 * APIC EOI -> IOAPIC, PIT/UART/i8042 -> PIC and IOAPIC), with a fake
 * clock. A depth counter stops callback chains from recursing unboundedly.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/acpi.h"
#include "core/fw_cfg_store.h"
#include "core/guest_abi.h"
#include "devices/acpi_pm.h"
#include "devices/chips_kvm.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/lapic_kvm.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the input as a byte stream ------------------------------------------ */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t un(struct in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)u8(in) << (8 * i);
	return v;
}

static unsigned int pio_size(struct in *in)
{
	static const unsigned int sizes[] = { 1, 2, 4, 1 };

	return sizes[u8(in) & 3];
}

/* ---- the machine ---------------------------------------------------------- */

struct machine {
	uint64_t now_ns, tsc;
	int depth;          /* callback nesting */
	struct lapic *lapic;
	struct ioapic *ioapic;
	struct pic *pic;
	struct pit *pit;
	struct serial *uart;
	struct rtc rtc;
	struct i8042 kbc;
	struct fw_cfg *fw_cfg;
	struct acpi_pm pm;
};

#define MAX_DEPTH 4

/* local APIC */
static void la_send_ipi(void *o, struct lapic *from, const struct icr *icr) { }
static void la_kick(void *o, unsigned int vcpu) { }
static void la_log(void *o, unsigned int vcpu, const char *msg) { }
static void la_dest_changed(void *o, unsigned int vcpu) { }

static void la_eoi(void *o, unsigned int vcpu, uint8_t vector)
{
	struct machine *m = o;

	if (m->depth >= MAX_DEPTH)
		return;
	m->depth++;
	ioapic_eoi(m->ioapic, vector);
	m->depth--;
}

static const struct lapic_ops lapic_ops = {
	.send_ipi = la_send_ipi, .kick = la_kick, .eoi = la_eoi, .log = la_log,
	.dest_changed = la_dest_changed,
};

static uint64_t fake_now(void *o) { return ((struct machine *)o)->now_ns; }
static uint64_t fake_tsc(void *o) { return ((struct machine *)o)->tsc; }

/* IOAPIC */
static void io_deliver(void *o, const struct ioapic_msg *msg)
{
	struct machine *m = o;

	if (m->depth >= MAX_DEPTH || msg->delivery != IOAPIC_FIXED)
		return;
	m->depth++;
	(void)lapic_accept_irq(m->lapic, msg->vector, msg->level);
	m->depth--;
}

static void io_log(void *o, const char *msg) { }
static void io_rte(void *o, unsigned int pin, uint64_t rte) { }

static const struct ioapic_ops ioapic_ops = {
	.deliver = io_deliver, .log = io_log, .redirection_changed = io_rte,
};

/* ISA interrupt lines: to both the PIC and the IOAPIC (IRQ 0 is pin 2) */
static void isa_irq(struct machine *m, unsigned int irq, bool level)
{
	if (m->depth >= MAX_DEPTH)
		return;
	m->depth++;
	pic_set_irq(m->pic, irq, level);
	ioapic_set_irq(m->ioapic, irq == 0 ? 2 : irq, level);
	m->depth--;
}

static void pic_kick(void *o) { }
static void pic_log(void *o, const char *msg) { }
static const struct pic_ops pic_ops = { .kick = pic_kick, .log = pic_log };

static uint64_t pit_now(void *o) { return ((struct machine *)o)->now_ns; }
static void pit_irq(void *o, unsigned int irq, bool level) { isa_irq(o, irq, level); }
static void pit_rearm(void *o) { }
static const struct pit_ops pit_ops = { .now_ns = pit_now, .set_irq = pit_irq, .rearm = pit_rearm };

static void uart_irq(void *o, bool level) { isa_irq(o, 4, level); }

static int64_t rtc_wall(void *o)
{
	/* 2024-01-01 plus the fake clock */
	return 1704067200ll * 1000000000ll + (int64_t)(((struct machine *)o)->now_ns >> 1);
}
static const struct rtc_ops rtc_ops = { .wall_ns = rtc_wall };

static int kbc_reset(void *o) { return 0; }
static void kbc_irq(void *o, unsigned int irq, bool level) { isa_irq(o, irq, level); }
static const struct i8042_ops kbc_ops = { .reset = kbc_reset, .set_irq = kbc_irq };

static uint64_t pm_now(void *o) { return ((struct machine *)o)->now_ns; }
static int pm_poweroff(void *o) { return -1; }
static void pm_sleep(void *o, unsigned int slp_typ) { }
static const struct acpi_pm_ops pm_ops = {
	.now_ns = pm_now, .poweroff = pm_poweroff, .sleep_ignored = pm_sleep,
};

static int null_fd = -1;

static int machine_create(struct machine *m, bool bsp)
{
	memset(m, 0, sizeof(*m));
	m->now_ns = 1000000000ull;
	m->tsc = 5000000000ull;
	m->lapic = lapic_create(0, 0, bsp, &lapic_ops, m);
	m->ioapic = ioapic_create(1, &ioapic_ops, m);
	m->pic = pic_create(&pic_ops, m);
	m->pit = pit_create(&pit_ops, m);
	m->uart = serial_create(null_fd, uart_irq, m);
	m->fw_cfg = fw_cfg_create(4, 512ull << 20);
	if (!m->lapic || !m->ioapic || !m->pic || !m->pit || !m->uart || !m->fw_cfg)
		abort();
	lapic_set_clock(m->lapic, fake_now, fake_tsc, 1000000, m);
	rtc_init(&m->rtc, &rtc_ops, m);
	i8042_init(&m->kbc, &kbc_ops, m);
	acpi_pm_init(&m->pm, &pm_ops, m);
	return 0;
}

static void machine_destroy(struct machine *m)
{
	acpi_pm_destroy(&m->pm);
	i8042_destroy(&m->kbc);
	rtc_destroy(&m->rtc);
	fw_cfg_destroy(m->fw_cfg);
	serial_destroy(m->uart);
	pit_destroy(m->pit);
	pic_destroy(m->pic);
	ioapic_destroy(m->ioapic);
	lapic_destroy(m->lapic);
}

/* ---- port accesses --------------------------------------------------------- */

static void pio(struct in *in, pio_handler_fn fn, void *dev, const uint16_t *ports, size_t nports)
{
	uint8_t b = u8(in);
	uint16_t port = ports[(b >> 1) % nports];
	bool is_write = b & 1;
	unsigned int size = pio_size(in);
	uint32_t v = is_write ? (uint32_t)un(in, size) : 0xdeadbeefu;

	(void)fn(dev, port, is_write, &v, size);
}

static const uint16_t pic_ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
static const uint16_t pit_ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };
static const uint16_t uart_ports[] = {
	MPVM_COM1_PORT + 0, MPVM_COM1_PORT + 1, MPVM_COM1_PORT + 2, MPVM_COM1_PORT + 3,
	MPVM_COM1_PORT + 4, MPVM_COM1_PORT + 5, MPVM_COM1_PORT + 6, MPVM_COM1_PORT + 7,
};
static const uint16_t rtc_ports[] = { RTC_PORT, RTC_PORT + 1 };
static const uint16_t kbc_ports[] = { I8042_DATA_PORT, I8042_CMD_PORT };
static const uint16_t fw_cfg_ports[] = { FW_CFG_PORT_SEL, FW_CFG_PORT_DATA };
static const uint16_t pm_ports[] = {
	ACPI_PM1_EVT_BLK, ACPI_PM1_EVT_BLK + 1, ACPI_PM1_EVT_BLK + 2, ACPI_PM1_EVT_BLK + 3,
	ACPI_PM1_CNT_BLK, ACPI_PM1_CNT_BLK + 1,
	ACPI_PM_TMR_BLK, ACPI_PM_TMR_BLK + 1, ACPI_PM_TMR_BLK + 2, ACPI_PM_TMR_BLK + 3,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum op {
	OP_LAPIC_MMIO_READ,
	OP_LAPIC_MMIO_WRITE,
	OP_LAPIC_MSR_READ,
	OP_LAPIC_MSR_WRITE,
	OP_LAPIC_SET_BASE,
	OP_LAPIC_ACCEPT_IRQ,
	OP_LAPIC_ACK,           /* the vCPU takes the highest pending vector */
	OP_LAPIC_TSC_DEADLINE,
	OP_LAPIC_RESET,
	OP_CLOCK,               /* time passes: the LAPIC timer and the PIT run */
	OP_IOAPIC_MMIO_READ,
	OP_IOAPIC_MMIO_WRITE,
	OP_IOAPIC_SET_IRQ,
	OP_IOAPIC_EOI,
	OP_PIC_PIO,
	OP_PIC_SET_IRQ,
	OP_PIC_ACK,
	OP_PIT_PIO,
	OP_UART_PIO,
	OP_UART_RECEIVE,
	OP_RTC_PIO,
	OP_KBC_PIO,
	OP_FW_CFG_PIO,
	OP_PM_PIO,
	OP_STATE_ROUNDTRIP,     /* a device's saved state loads back and saves the same (else abort) */
	OP_STATE_LOAD,          /* a device's state from the input, as a snapshot file could hold it */
	OP_STATE_FROM_KVM,      /* KVM's state of a device from the input, converted (a snapshot of another irqchip mode) */
	OP_STATE_VIA_KVM,       /* a device's saved state to KVM's and back loads (else abort) */
	OP_COUNT
};

/* ---- snapshot state: every device's, as kvm/snapshot.c saves and loads it ---- */

union dev_state {
	struct lapic_state lapic;
	struct ioapic_state ioapic;
	struct pic_state pic;
	struct pit_state pit;
	struct serial_state uart;
	struct rtc_state rtc;
	struct i8042_state kbc;
	struct fw_cfg_state fw_cfg;
	struct acpi_pm_state pm;
};

enum { ST_LAPIC, ST_IOAPIC, ST_PIC, ST_PIT, ST_UART, ST_RTC, ST_KBC, ST_FW_CFG, ST_PM, ST_COUNT };

static void state_save(struct machine *m, unsigned int dev, union dev_state *s)
{
	switch (dev) {
	case ST_LAPIC: lapic_save(m->lapic, &s->lapic); break;
	case ST_IOAPIC: ioapic_save(m->ioapic, &s->ioapic); break;
	case ST_PIC: pic_save(m->pic, &s->pic); break;
	case ST_PIT: pit_save(m->pit, &s->pit); break;
	case ST_UART: serial_save(m->uart, &s->uart); break;
	case ST_RTC: rtc_save(&m->rtc, &s->rtc); break;
	case ST_KBC: i8042_save(&m->kbc, &s->kbc); break;
	case ST_FW_CFG: fw_cfg_save(m->fw_cfg, &s->fw_cfg); break;
	default: acpi_pm_save(&m->pm, &s->pm); break;
	}
}

static int state_load(struct machine *m, unsigned int dev, const union dev_state *s)
{
	char err[256];

	switch (dev) {
	case ST_LAPIC: return lapic_load(m->lapic, &s->lapic, err, sizeof(err));
	case ST_IOAPIC: return ioapic_load(m->ioapic, &s->ioapic, err, sizeof(err));
	case ST_PIC: return pic_load(m->pic, &s->pic, err, sizeof(err));
	case ST_PIT: return pit_load(m->pit, &s->pit, err, sizeof(err));
	case ST_UART: return serial_load(m->uart, &s->uart, err, sizeof(err));
	case ST_RTC: return rtc_load(&m->rtc, &s->rtc, err, sizeof(err));
	case ST_KBC: return i8042_load(&m->kbc, &s->kbc, err, sizeof(err));
	case ST_FW_CFG: return fw_cfg_load(m->fw_cfg, &s->fw_cfg, err, sizeof(err));
	default: return acpi_pm_load(&m->pm, &s->pm, err, sizeof(err));
	}
}

static size_t state_size(unsigned int dev)
{
	static const size_t sizes[ST_COUNT] = {
		sizeof(struct lapic_state), sizeof(struct ioapic_state), sizeof(struct pic_state),
		sizeof(struct pit_state), sizeof(struct serial_state), sizeof(struct rtc_state),
		sizeof(struct i8042_state), sizeof(struct fw_cfg_state), sizeof(struct acpi_pm_state),
	};
	return sizes[dev];
}

/* x2APIC MSRs (0x800-0x8ff) and a few around them */
static uint32_t pick_msr(struct in *in)
{
	uint8_t b = u8(in);

	switch (b >> 6) {
	case 0:
	case 1:
		return LAPIC_MSR_X2APIC_FIRST + (b & 0x3f);
	case 2:
		return LAPIC_MSR_X2APIC_FIRST + 0x80 + (b & 0x7f);
	default:
		return (b & 1) ? LAPIC_MSR_APIC_BASE : LAPIC_MSR_X2APIC_LAST + 1;
	}
}

static void step(struct machine *m, struct in *in)
{
	uint8_t buf[8];
	unsigned int op = u8(in) % OP_COUNT;

	switch (op) {
	case OP_LAPIC_MMIO_READ: {
		uint32_t off = (uint32_t)un(in, 2) & 0xfffu;
		unsigned int len = 1 + (u8(in) & 7u);

		lapic_mmio_read(m->lapic, off, buf, len);
		break;
	}
	case OP_LAPIC_MMIO_WRITE: {
		uint32_t off = (uint32_t)un(in, 2) & 0xfffu;
		unsigned int len = 1u << (u8(in) & 3u);

		for (unsigned int i = 0; i < len; i++)
			buf[i] = u8(in);
		lapic_mmio_write(m->lapic, off, buf, len);
		break;
	}
	case OP_LAPIC_MSR_READ: {
		uint64_t v;

		(void)lapic_msr_read(m->lapic, pick_msr(in), &v);
		break;
	}
	case OP_LAPIC_MSR_WRITE: {
		uint32_t msr = pick_msr(in);

		(void)lapic_msr_write(m->lapic, msr, un(in, 8));
		break;
	}
	case OP_LAPIC_SET_BASE: {
		/* Mostly the default base with the mode bits of the input. */
		uint8_t b = u8(in);
		uint64_t v = (b & 0x80) ? un(in, 8)
					: LAPIC_DEFAULT_BASE | ((uint64_t)(b & 0x0d) << 8);

		(void)lapic_set_base(m->lapic, v);
		break;
	}
	case OP_LAPIC_ACCEPT_IRQ: {
		uint8_t vector = u8(in);

		(void)lapic_accept_irq(m->lapic, vector, u8(in) & 1);
		break;
	}
	case OP_LAPIC_ACK: {
		int v = lapic_pending_vector(m->lapic);

		if (v >= 0 && v <= 255)
			lapic_ack_vector(m->lapic, (uint8_t)v);
		break;
	}
	case OP_LAPIC_TSC_DEADLINE:
		lapic_set_tsc_deadline(m->lapic, m->tsc + un(in, 4), m->tsc);
		(void)lapic_get_tsc_deadline(m->lapic);
		break;
	case OP_LAPIC_RESET:
		lapic_reset(m->lapic, u8(in) & 1);
		break;
	case OP_CLOCK: {
		uint64_t delta = un(in, 4);

		m->now_ns += delta;
		m->tsc += delta;
		lapic_timer_update(m->lapic, m->now_ns, m->tsc);
		(void)lapic_timer_next_ns(m->lapic);
		pit_update(m->pit, m->now_ns);
		(void)pit_next_irq_ns(m->pit);
		(void)acpi_pm_timer(&m->pm);
		break;
	}
	case OP_IOAPIC_MMIO_READ: {
		uint64_t off = un(in, 2) & 0xfffu;
		unsigned int len = 1 + (u8(in) & 7u);

		ioapic_mmio_read(m->ioapic, off, buf, len);
		break;
	}
	case OP_IOAPIC_MMIO_WRITE: {
		uint64_t off = un(in, 2) & 0xfffu;
		unsigned int len = 1u << (u8(in) & 3u);

		for (unsigned int i = 0; i < len; i++)
			buf[i] = u8(in);
		ioapic_mmio_write(m->ioapic, off, buf, len);
		break;
	}
	case OP_IOAPIC_SET_IRQ: {
		uint8_t b = u8(in);

		ioapic_set_irq(m->ioapic, (b >> 1) % 32u, b & 1);
		break;
	}
	case OP_IOAPIC_EOI:
		ioapic_eoi(m->ioapic, u8(in));
		break;
	case OP_PIC_PIO:
		pio(in, pic_pio, m->pic, pic_ports, N(pic_ports));
		break;
	case OP_PIC_SET_IRQ: {
		uint8_t b = u8(in);

		pic_set_irq(m->pic, (b >> 1) % 20u, b & 1);
		break;
	}
	case OP_PIC_ACK:
		if (pic_has_interrupt(m->pic))
			(void)pic_ack(m->pic);
		else if (u8(in) & 1)
			(void)pic_ack(m->pic);   /* a spurious INTA */
		break;
	case OP_PIT_PIO:
		pio(in, pit_pio, m->pit, pit_ports, N(pit_ports));
		break;
	case OP_UART_PIO:
		pio(in, serial_pio, m->uart, uart_ports, N(uart_ports));
		break;
	case OP_UART_RECEIVE: {
		size_t n = u8(in) & 31u;

		for (size_t i = 0; i < n; i++)
			buf[i % sizeof(buf)] = u8(in);
		(void)serial_receive(m->uart, buf, n < sizeof(buf) ? n : sizeof(buf));
		break;
	}
	case OP_RTC_PIO:
		pio(in, rtc_pio, &m->rtc, rtc_ports, N(rtc_ports));
		break;
	case OP_KBC_PIO:
		pio(in, i8042_pio, &m->kbc, kbc_ports, N(kbc_ports));
		break;
	case OP_FW_CFG_PIO:
		pio(in, fw_cfg_pio, m->fw_cfg, fw_cfg_ports, N(fw_cfg_ports));
		break;
	case OP_PM_PIO:
		pio(in, acpi_pm_pio, &m->pm, pm_ports, N(pm_ports));
		break;
	case OP_STATE_ROUNDTRIP: {
		static union dev_state a, b;
		unsigned int dev = u8(in) % ST_COUNT;

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		state_save(m, dev, &a);
		if (state_load(m, dev, &a))
			abort(); /* a state the device was in must load back */
		state_save(m, dev, &b);
		if (memcmp(&a, &b, state_size(dev)))
			abort(); /* and be the same state */
		break;
	}
	case OP_STATE_LOAD: {
		static union dev_state s;
		unsigned int dev = u8(in) % ST_COUNT;
		uint8_t *p = (uint8_t *)&s;

		memset(&s, 0, sizeof(s));
		state_save(m, dev, &s);
		/* Some bytes of the state from the input, at an offset it picks: the rest stays plausible. */
		for (size_t off = (size_t)un(in, 2) % state_size(dev), k = u8(in); k-- && off < state_size(dev); off++)
			p[off] = u8(in);
		(void)state_load(m, dev, &s);
		break;
	}
	case OP_STATE_FROM_KVM:
	case OP_STATE_VIA_KVM: {
		static union {
			struct lapic_kvm lapic;
			struct kvm_pic_state pic[2];
			struct kvm_ioapic_state ioapic;
			struct kvm_pit_state2 pit;
		} k;
		static union dev_state st;
		static struct apic_bus_cpu_state b;
		const struct lapic_kvm_clock c = { .vm_ns = m->now_ns, .tsc = m->tsc, .tsc_khz = 1000000 };
		bool from_input = op == OP_STATE_FROM_KVM;
		unsigned int dev = u8(in) % 4;
		char err[256];
		int r = 0;

		memset(&k, 0, sizeof(k));
		memset(&st, 0, sizeof(st));
		memset(&b, 0, sizeof(b));
		if (from_input) {
			/* the bytes of KVM's structure (for the local APIC: its page, then each field) */
			uint8_t *p = dev ? (uint8_t *)&k : (uint8_t *)k.lapic.page.regs;
			size_t len = dev ? sizeof(k) : sizeof(k.lapic.page);

			for (size_t off = (size_t)un(in, 2) % len, n = u8(in); n-- && off < len; off++)
				p[off] = u8(in);
			if (!dev) {
				k.lapic.apic_base = un(in, 8);
				k.lapic.tsc_deadline = un(in, 8);
				k.lapic.mp_state = u8(in) % 8;
				k.lapic.sipi_vector = u8(in);
				k.lapic.nmi_pending = u8(in);
				k.lapic.latched_init = u8(in) & 1;
				k.lapic.if_flag = u8(in) & 1;
			}
		} else {
			/* the device's own state, as KVM's: what a snapshot in the other mode holds */
			switch (dev) {
			case 0:
				lapic_save(m->lapic, &b.lapic);
				lapic_kvm_from_bus(&b, 0, false, true, &c, &k.lapic);
				break;
			case 1: pic_save(m->pic, &st.pic); pic_to_kvm(&st.pic, &k.pic[0], &k.pic[1]); break;
			case 2: ioapic_save(m->ioapic, &st.ioapic); ioapic_to_kvm(&st.ioapic, &k.ioapic); break;
			default: pit_save(m->pit, &st.pit); pit_to_kvm(&st.pit, &k.pit); break;
			}
		}
		switch (dev) {
		case 0:
			r = lapic_kvm_to_bus(&k.lapic, 0, false, &c, &b, err, sizeof(err));
			if (!r)
				r = lapic_load(m->lapic, &b.lapic, err, sizeof(err));
			break;
		case 1:
			r = pic_from_kvm(&k.pic[0], &k.pic[1], &st.pic, err, sizeof(err));
			if (!r)
				r = pic_load(m->pic, &st.pic, err, sizeof(err));
			break;
		case 2:
			ioapic_from_kvm(&k.ioapic, &st.ioapic);
			r = ioapic_load(m->ioapic, &st.ioapic, err, sizeof(err));
			break;
		default:
			pit_from_kvm(&k.pit, m->now_ns, &st.pit);
			r = pit_load(m->pit, &st.pit, err, sizeof(err));
			break;
		}
		if (r && !from_input)
			abort(); /* a state a device was in crosses to KVM's and back, and loads */
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct machine *m;

	if (null_fd < 0) {
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null_fd < 0)
			abort();
	}
	if (size == 0)
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		abort();
	/* The first byte: BSP or AP local APIC. */
	machine_create(m, u8(&in) & 1);
	while (in.n)
		step(m, &in);
	machine_destroy(m);
	free(m);
	return 0;
}
