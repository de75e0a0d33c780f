/*
 * Unit tests of devices/serial.c: the probes Linux's 8250 driver runs
 * (autoconfig down to 16550A with a 16-byte FIFO, the THRE re-assertion and
 * TXEN tests), IIR priorities, the THR-empty interrupt rules, OUT2 gating,
 * loopback and overrun, receiving with interrupts, RTS flow control and
 * back-pressure, when output is written out, and a feeding thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/serial.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

/* The interrupt line as the PIC would see it. */
struct line {
	pthread_mutex_t lock;
	bool level;
	unsigned int rises, falls;
};

static void set_irq(void *opaque, bool level)
{
	struct line *l = opaque;

	pthread_mutex_lock(&l->lock);
	assert_true(level != l->level); /* only changes are reported */
	l->level = level;
	if (level)
		l->rises++;
	else
		l->falls++;
	pthread_mutex_unlock(&l->lock);
}

struct uart {
	struct serial *s;
	struct line line;
	int rd, wr; /* the output pipe */
};

static struct uart *uart_new(void)
{
	struct uart *u = calloc(1, sizeof(*u));
	int p[2];

	assert_non_null(u);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	pthread_mutex_init(&u->line.lock, NULL);
	u->rd = p[0];
	u->wr = p[1];
	u->s = serial_create(p[1], set_irq, &u->line);
	assert_non_null(u->s);
	return u;
}

static void uart_free(struct uart *u)
{
	serial_destroy(u->s);
	close(u->wr);
	close(u->rd);
	pthread_mutex_destroy(&u->line.lock);
	free(u);
}

static void out(struct uart *u, unsigned int reg, uint8_t v)
{
	uint32_t d = v;

	assert_int_equal(serial_pio(u->s, (uint16_t)(0x3f8 + reg), true, &d, 1), 0);
}

static uint8_t in(struct uart *u, unsigned int reg)
{
	uint32_t d = 0xdeadbeef;

	assert_int_equal(serial_pio(u->s, (uint16_t)(0x3f8 + reg), false, &d, 1), 0);
	assert_true(d <= 0xff);
	return (uint8_t)d;
}

static bool level(struct uart *u)
{
	bool l;

	pthread_mutex_lock(&u->line.lock);
	l = u->line.level;
	pthread_mutex_unlock(&u->line.lock);
	return l;
}

/* What the guest has sent to the output so far (written out, not buffered). */
static size_t output(struct uart *u, char *buf, size_t len)
{
	ssize_t n = read(u->rd, buf, len - 1);

	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	return (size_t)n;
}

static void receive_all(struct uart *u, const char *str)
{
	assert_int_equal(serial_receive(u->s, (const uint8_t *)str, strlen(str)), strlen(str));
}

static void reset_state(void **state)
{
	struct uart *u = uart_new();

	assert_int_equal(in(u, IIR), 0x01);
	assert_int_equal(in(u, LSR), 0x60);
	assert_int_equal(in(u, IER), 0);
	assert_int_equal(in(u, MCR), 0);
	assert_int_equal(in(u, MSR), 0xb0); /* DCD, DSR, CTS: a terminal is attached */
	assert_false(level(u));
	out(u, SCR, 0x5a);
	assert_int_equal(in(u, SCR), 0x5a);
	out(u, LCR, 0x83);
	out(u, DLL, 0x01);
	out(u, DLM, 0x00);
	assert_int_equal(in(u, DLL), 0x01);
	assert_int_equal(in(u, DLM), 0x00);
	out(u, LCR, 0x03);
	assert_int_equal(in(u, LCR), 0x03);
	assert_int_equal(in(u, IER), 0);
	uart_free(u);
}

/* Linux's size_fifo(): loopback at full speed, 256 bytes out, count what arrived. */
static int size_fifo(struct uart *u)
{
	uint8_t old_lcr = in(u, LCR), old_fcr, old_mcr, old_dll, old_dlm;
	int count;

	out(u, LCR, 0);
	old_fcr = in(u, IIR);
	old_mcr = in(u, MCR);
	out(u, FCR, 0x07);
	out(u, MCR, 0x10);
	out(u, LCR, 0x80);
	old_dll = in(u, DLL);
	old_dlm = in(u, DLM);
	out(u, DLL, 1);
	out(u, DLM, 0);
	out(u, LCR, 0x03);
	for (count = 0; count < 256; count++)
		out(u, THR, (uint8_t)count);
	for (count = 0; (in(u, LSR) & 0x01) && count < 256; count++)
		assert_int_equal(in(u, RBR), count); /* the first 16 stay; the rest overran */
	out(u, FCR, old_fcr);
	out(u, MCR, old_mcr);
	out(u, LCR, 0x80);
	out(u, DLL, old_dll);
	out(u, DLM, old_dlm);
	out(u, LCR, old_lcr);
	return count;
}

/*
 * The probe sequence of Linux's autoconfig() and autoconfig_16550a()
 * (drivers/tty/serial/8250/8250_port.c), step by step; it must end at
 * "16550A" with a 16-byte FIFO and nothing sent to the console.
 */
static const char *linux_autoconfig(struct uart *u)
{
	uint8_t save_ier, save_mcr, save_lcr, s1, s2, s3;

	/* Existence: IER bits 3:0 read back as written. */
	save_ier = in(u, IER);
	out(u, IER, 0);
	s2 = in(u, IER) & 0x0f;
	out(u, IER, 0x0f);
	s3 = in(u, IER) & 0x0f;
	out(u, IER, save_ier);
	if (s2 != 0 || s3 != 0x0f)
		return "none (IER test)";
	save_mcr = in(u, MCR);
	save_lcr = in(u, LCR);
	/* Loopback: RTS and OUT2 come back as CTS and DCD. */
	out(u, MCR, 0x10 | 0x0a);
	s1 = in(u, MSR) & 0xf0;
	out(u, MCR, save_mcr);
	if (s1 != 0x90)
		return "none (loopback test)";
	/* EFR (at the FCR's place with LCR 0xbf) to 0, then the FIFO bits of IIR. */
	out(u, LCR, 0xbf);
	out(u, 2, 0);
	out(u, LCR, 0);
	out(u, FCR, 0x01);
	switch (in(u, IIR) >> 6) {
	case 0: return "8250/16450";
	case 1: return "unknown";
	case 2: return "16550 (broken FIFO)";
	default: break;
	}
	/* autoconfig_16550a: an EFR with DLAB set (ST16C650V1)? */
	out(u, LCR, 0x80);
	if (in(u, 2) == 0)
		return "16650";
	/* With LCR 0xbf (ST16C650V2, TI16C752)? */
	out(u, LCR, 0xbf);
	if (in(u, 2) == 0)
		return "16650V2";
	/* National SuperIO: MCR.LOOP mirrored in EXCR1 (offset 2 with LCR 0xe0). */
	out(u, LCR, 0);
	s1 = in(u, MCR);
	out(u, LCR, 0xe0);
	s2 = in(u, 2);
	if (!((s2 ^ s1) & 0x10)) {
		out(u, LCR, 0);
		out(u, MCR, s1 ^ 0x10);
		out(u, LCR, 0xe0);
		s2 = in(u, 2);
		out(u, LCR, 0);
		out(u, MCR, s1);
		if ((s2 ^ s1) & 0x10)
			return "NS16550A";
	}
	/* TI16750: IIR bit 5 with a 64-byte FIFO asked for under DLAB. */
	out(u, LCR, 0);
	out(u, FCR, 0x21);
	s1 = in(u, IIR) >> 5;
	out(u, FCR, 0x01);
	out(u, LCR, 0x80);
	out(u, FCR, 0x21);
	s2 = in(u, IIR) >> 5;
	out(u, FCR, 0x01);
	out(u, LCR, 0);
	if (s1 == 6 && s2 == 7)
		return "16750";
	/* XScale: IER bit 6 (UUE) sticks. */
	save_ier = in(u, IER);
	out(u, IER, save_ier & ~0x40);
	if (!(in(u, IER) & 0x40)) {
		out(u, IER, save_ier | 0x40);
		if (in(u, IER) & 0x40)
			return "XScale";
	}
	out(u, IER, save_ier);
	if (size_fifo(u) == 64)
		return "U6_16550A";
	/* The reset at the end of autoconfig(). */
	out(u, LCR, save_lcr);
	out(u, MCR, save_mcr);
	out(u, FCR, 0x01);
	out(u, FCR, 0x07);
	out(u, FCR, 0);
	in(u, RBR);
	out(u, IER, 0);
	return "16550A";
}

static void linux_probe(void **state)
{
	struct uart *u = uart_new();
	char buf[64];

	assert_string_equal(linux_autoconfig(u), "16550A");
	assert_int_equal(size_fifo(u), 16);
	assert_int_equal(output(u, buf, sizeof(buf)), 0); /* loopback sends nothing out */
	assert_false(level(u));
	assert_int_equal(u->line.rises, 0);
	uart_free(u);
}

static void fifo_bits(void **state)
{
	struct uart *u = uart_new();

	assert_int_equal(in(u, IIR) & 0xc0, 0);
	out(u, FCR, 0x01);
	assert_int_equal(in(u, IIR), 0xc1);
	out(u, FCR, 0x0e); /* FCR0 clear: the other bits are not programmed, FIFOs off */
	assert_int_equal(in(u, IIR), 0x01);
	uart_free(u);
}

/*
 * serial8250_do_startup's THRE test (UART_BUG_THRE) and TXEN test: THRE
 * must come back each time ETBEI is set again while the transmitter idles.
 */
static void linux_thre_tests(void **state)
{
	struct uart *u = uart_new();
	uint8_t iir1, iir;

	in(u, LSR);
	out(u, IER, 0x02);
	iir1 = in(u, IIR);
	out(u, IER, 0);
	out(u, IER, 0x02);
	iir = in(u, IIR);
	out(u, IER, 0);
	assert_int_equal(iir1 & 0x0f, 0x02);
	assert_int_equal(iir & 0x0f, 0x02); /* no UART_BUG_THRE */

	out(u, MCR, 0x08); /* OUT2: interrupts reach the PIC */
	out(u, IER, 0x02);
	assert_true(in(u, LSR) & 0x40);
	iir = in(u, IIR);
	out(u, IER, 0);
	assert_false(iir & 0x01); /* no UART_BUG_TXEN */
	assert_false(level(u));
	assert_int_equal(u->line.rises, 1);
	uart_free(u);
}

static void thre_rules(void **state)
{
	struct uart *u = uart_new();
	unsigned int rises;

	out(u, MCR, 0x0b);
	out(u, IER, 0x02);
	assert_true(level(u)); /* setting ETBEI with THR empty raises it */
	assert_int_equal(in(u, IIR), 0x02);
	assert_false(level(u)); /* an IIR read that reports THRE clears it */
	assert_int_equal(in(u, IIR), 0x01);
	out(u, IER, 0x02); /* ETBEI was already set: no new interrupt */
	assert_int_equal(in(u, IIR), 0x01);
	assert_false(level(u));

	/* Each THR write drops the line and raises it again: an edge per byte sent. */
	rises = u->line.rises;
	out(u, THR, 'a');
	assert_true(level(u));
	assert_int_equal(u->line.rises, rises + 1);
	out(u, THR, 'b');
	assert_int_equal(u->line.rises, rises + 2);
	assert_int_equal(u->line.falls, rises + 1);
	assert_int_equal(in(u, IIR), 0x02);

	/* Clearing ETBEI hides it; with THR empty, setting it again brings it back. */
	out(u, THR, 'c');
	out(u, IER, 0);
	assert_false(level(u));
	assert_int_equal(in(u, IIR), 0x01);
	out(u, IER, 0x02);
	assert_int_equal(in(u, IIR), 0x02);

	/* An IIR read that reports a higher source leaves THRE pending. */
	out(u, IER, 0x03);
	out(u, THR, 'd');
	receive_all(u, "x");
	assert_int_equal(in(u, IIR), 0x04);
	assert_int_equal(in(u, RBR), 'x');
	assert_int_equal(in(u, IIR), 0x02);
	assert_int_equal(in(u, IIR), 0x01);
	uart_free(u);
}

static void out2_gating(void **state)
{
	struct uart *u = uart_new();

	out(u, IER, 0x02);
	assert_int_equal(in(u, IIR), 0x02); /* pending in the UART ... */
	out(u, IER, 0);
	out(u, IER, 0x02);
	assert_false(level(u));             /* ... but OUT2 is off: not at the PIC */
	out(u, MCR, 0x08);
	assert_true(level(u));
	out(u, MCR, 0x00);
	assert_false(level(u));
	out(u, MCR, 0x18);                  /* loopback forces the OUT2 pin inactive */
	assert_false(level(u));
	out(u, MCR, 0x08);
	assert_true(level(u));
	assert_int_equal(in(u, IIR), 0x02);
	assert_false(level(u));
	uart_free(u);
}

static void loopback(void **state)
{
	struct uart *u = uart_new();
	char buf[64];

	out(u, MCR, 0x10);
	assert_int_equal(in(u, MSR) & 0xf0, 0x00);
	out(u, MCR, 0x11);
	assert_int_equal(in(u, MSR), 0x20 | 0x02); /* DTR -> DSR, with its delta */
	out(u, MCR, 0x12);
	assert_int_equal(in(u, MSR), 0x10 | 0x03); /* RTS -> CTS */
	out(u, MCR, 0x14);
	assert_int_equal(in(u, MSR), 0x40 | 0x01); /* OUT1 -> RI */
	out(u, MCR, 0x18);
	assert_int_equal(in(u, MSR), 0x80 | 0x0c); /* OUT2 -> DCD; RI's trailing edge */

	/* 16450 mode: one byte; a second overruns and replaces it. */
	out(u, THR, 'a');
	assert_int_equal(in(u, LSR), 0x61);
	out(u, THR, 'b');
	assert_int_equal(in(u, LSR), 0x63);
	assert_int_equal(in(u, LSR), 0x61); /* reading LSR cleared OE */
	assert_int_equal(in(u, RBR), 'b');
	assert_int_equal(in(u, LSR), 0x60);
	assert_int_equal(in(u, RBR), 'b'); /* an empty RBR gives the last byte again */

	/* FIFO mode: 16 bytes; the 17th is lost. */
	out(u, FCR, 0x07);
	for (int i = 0; i < 17; i++)
		out(u, THR, (uint8_t)('A' + i));
	assert_int_equal(in(u, LSR), 0x63);
	for (int i = 0; i < 16; i++)
		assert_int_equal(in(u, RBR), 'A' + i);
	assert_int_equal(in(u, LSR), 0x60);

	/* Host input waits while in loopback, even with RTS set. */
	out(u, MCR, 0x12);
	receive_all(u, "hi");
	assert_int_equal(in(u, LSR) & 0x01, 0);
	out(u, MCR, 0x02);
	assert_int_equal(in(u, LSR) & 0x01, 1);
	assert_int_equal(in(u, RBR), 'h');
	assert_int_equal(in(u, RBR), 'i');
	assert_int_equal(output(u, buf, sizeof(buf)), 0);
	uart_free(u);
}

static void iir_priorities(void **state)
{
	struct uart *u = uart_new();

	out(u, FCR, 0x07); /* trigger level 1 */
	out(u, IER, 0x0f);
	out(u, MCR, 0x10); /* loopback: modem deltas, then an overrun */
	for (int i = 0; i < 17; i++)
		out(u, THR, (uint8_t)i);
	assert_int_equal(in(u, IIR), 0xc6); /* line status (OE) first */
	assert_int_equal(in(u, IIR), 0xc6); /* reading IIR does not clear it */
	assert_int_equal(in(u, LSR) & 0x03, 0x03);
	assert_int_equal(in(u, IIR), 0xc4); /* then data available */
	for (int i = 0; i < 16; i++)
		in(u, RBR);
	assert_int_equal(in(u, IIR), 0xc2); /* then THR empty, cleared by this read */
	assert_int_equal(in(u, IIR), 0xc0); /* then modem status (from entering loopback) */
	in(u, MSR);
	assert_int_equal(in(u, IIR), 0xc1);
	assert_false(level(u)); /* all along in loopback: the line never rose */
	assert_int_equal(u->line.rises, 0);
	uart_free(u);
}

static void fifo_timeout(void **state)
{
	struct uart *u = uart_new();

	out(u, FCR, 0xc1); /* trigger level 14 */
	out(u, IER, 0x01);
	out(u, MCR, 0x0b);
	receive_all(u, "abc");
	assert_int_equal(in(u, IIR), 0xcc); /* below the trigger: character timeout */
	assert_true(level(u));
	receive_all(u, "defghijklmn");
	assert_int_equal(in(u, IIR), 0xc4); /* 14 bytes: data available */
	assert_int_equal(in(u, RBR), 'a');
	assert_int_equal(in(u, IIR), 0xcc);
	for (const char *p = "bcdefghijklm"; *p; p++)
		assert_int_equal(in(u, RBR), *p);
	/* Reading RBR restarts the timeout: the line falls, and rises while a byte is left. */
	assert_true(level(u));
	assert_int_equal(in(u, RBR), 'n');
	assert_false(level(u));
	assert_int_equal(in(u, IIR), 0xc1);
	uart_free(u);
}

static void receive_with_interrupts(void **state)
{
	struct uart *u = uart_new();

	/* Linux: FIFOs with trigger 8, IER = RLSI|RDI, MCR = DTR|RTS|OUT2. */
	out(u, LCR, 0x03);
	out(u, FCR, 0x01);
	out(u, FCR, 0x87);
	out(u, MCR, 0x0b);
	out(u, IER, 0x05);
	assert_false(level(u));
	receive_all(u, "ls\r");
	assert_true(level(u));
	assert_int_equal(u->line.rises, 1);
	/*
	 * Each RBR read below restarts the character timeout, which comes
	 * back "4 character times later": at once here. So the line falls and
	 * rises again while bytes are left (real hardware would wait; a driver
	 * that drains the FIFO just sees a spurious interrupt afterwards).
	 */
	/* The handler: IIR, then LSR and RBR while DR. */
	assert_int_equal(in(u, IIR), 0xcc);
	for (const char *p = "ls\r"; *p; p++) {
		assert_true(in(u, LSR) & 0x01);
		assert_int_equal(in(u, RBR), *p);
	}
	assert_false(in(u, LSR) & 0x01);
	assert_int_equal(in(u, IIR), 0xc1);
	assert_false(level(u));
	assert_int_equal(u->line.rises, 3);
	/* The next byte is the next edge. */
	receive_all(u, "x");
	assert_true(level(u));
	assert_int_equal(u->line.rises, 4);

	/* Without FIFOs each RBR read is followed by the next byte, and an edge. */
	in(u, RBR);
	out(u, FCR, 0x00);
	receive_all(u, "12");
	assert_int_equal(u->line.rises, 5);
	assert_int_equal(in(u, RBR), '1');
	assert_int_equal(u->line.rises, 6);
	assert_int_equal(in(u, RBR), '2');
	assert_false(level(u));
	uart_free(u);
}

static void rts_flow_control(void **state)
{
	struct uart *u = uart_new();

	out(u, FCR, 0x07);
	out(u, MCR, 0x09); /* DTR and OUT2, no RTS: Linux's console before the port is opened */
	out(u, IER, 0x01);
	receive_all(u, "early");
	assert_false(in(u, LSR) & 0x01);
	assert_false(level(u));
	/* Linux's startup: clear the FIFOs, read RBR to discard; nothing is lost. */
	out(u, FCR, 0x07);
	in(u, RBR);
	out(u, MCR, 0x0b);
	assert_true(level(u));
	for (const char *p = "early"; *p; p++)
		assert_int_equal(in(u, RBR), *p);
	assert_false(level(u));
	uart_free(u);
}

static void back_pressure(void **state)
{
	struct uart *u = uart_new();
	static uint8_t data[3 * SERIAL_INPUT_BUF];
	size_t sent = 0, got = 0, n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	out(u, FCR, 0x07);
	n = serial_receive(u->s, data, sizeof(data));
	assert_int_equal(n, SERIAL_INPUT_BUF); /* RTS off: all of it waits on the host side */
	sent = n;
	assert_int_equal(serial_receive(u->s, data + sent, 1), 0);
	out(u, MCR, 0x02);
	/* The FIFO took 16 from the host buffer: 16 more fit. */
	assert_int_equal(serial_receive(u->s, data + sent, sizeof(data) - sent), SERIAL_FIFO);
	sent += SERIAL_FIFO;
	while (got < sizeof(data)) {
		if (!(in(u, LSR) & 0x01)) {
			assert_true(sent < sizeof(data));
			sent += serial_receive(u->s, data + sent, sizeof(data) - sent);
			continue;
		}
		assert_int_equal(in(u, RBR), data[got]);
		got++;
	}
	assert_int_equal(sent, sizeof(data));
	assert_false(in(u, LSR) & 0x03); /* in order, nothing lost, no overrun */
	uart_free(u);
}

static void output_flush(void **state)
{
	struct uart *u = uart_new();
	char buf[128];

	for (const char *p = "hello"; *p; p++)
		out(u, THR, (uint8_t)*p);
	assert_int_equal(output(u, buf, sizeof(buf)), 0); /* line-buffered */
	out(u, THR, '\n');
	assert_int_equal(output(u, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "hello\n");

	/* Polled output reads LSR once per byte: that alone flushes nothing. */
	for (const char *p = "login: "; *p; p++) {
		assert_true(in(u, LSR) & 0x20);
		out(u, THR, (uint8_t)*p);
	}
	assert_int_equal(output(u, buf, sizeof(buf)), 0);
	in(u, LSR); /* the guest keeps polling LSR: waiting for input */
	in(u, LSR);
	assert_int_equal(output(u, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "login: ");

	/* Interrupt-driven output ends by clearing ETBEI. */
	out(u, IER, 0x02);
	in(u, IIR);
	out(u, THR, '$');
	out(u, THR, ' ');
	assert_int_equal(output(u, buf, sizeof(buf)), 0);
	out(u, IER, 0x00);
	assert_int_equal(output(u, buf, sizeof(buf)), 2);

	/* An IIR read that finds nothing pending. */
	out(u, THR, '#');
	assert_int_equal(in(u, IIR), 0x01);
	assert_int_equal(output(u, buf, sizeof(buf)), 1);

	/* serial_flush, as mpvm does at the end. */
	out(u, THR, '!');
	serial_flush(u->s);
	assert_int_equal(output(u, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "!");
	uart_free(u);
}

/*
 * A transmit the way Linux's serial8250 driver does it with interrupts:
 * start_tx sets ETBEI; the handler loops while IIR shows an interrupt,
 * reads LSR, and on THRE writes up to 16 bytes, clearing ETBEI when it has
 * nothing left. Everything must come out, the prompt at once.
 */
static void linux_interrupt_tx(void **state)
{
	struct uart *u = uart_new();
	const char *msg = "Debian GNU/Linux 12 mpvm ttyS0\r\n\r\nmpvm login: ";
	size_t pos = 0, len = strlen(msg);
	char buf[128];
	unsigned int irqs = 0;
	uint8_t ier = 0x05;

	out(u, FCR, 0x87);
	out(u, MCR, 0x0b);
	out(u, IER, ier);
	ier |= 0x02; /* start_tx */
	out(u, IER, ier);
	while (level(u)) { /* the CPU takes the interrupt */
		uint8_t iir;

		irqs++;
		assert_true(irqs < 20);
		while (!((iir = in(u, IIR)) & 0x01)) {
			uint8_t lsr = in(u, LSR);

			if ((lsr & 0x20) && (ier & 0x02)) {
				for (int i = 0; i < 16 && pos < len; i++)
					out(u, THR, (uint8_t)msg[pos++]);
				if (pos == len) { /* __stop_tx */
					ier &= (uint8_t)~0x02;
					out(u, IER, ier);
				}
			}
		}
	}
	assert_int_equal(pos, len);
	assert_int_equal(output(u, buf, sizeof(buf)), len);
	assert_string_equal(buf, msg);
	assert_int_equal(irqs, 1);
	uart_free(u);
}

static void wide_access(void **state)
{
	struct uart *u = uart_new();
	uint32_t d = 0x0b03; /* LCR = 0x03, MCR = 0x0b in one 16-bit OUT to 0x3fb */

	assert_int_equal(serial_pio(u->s, 0x3fb, true, &d, 2), 0);
	assert_int_equal(in(u, LCR), 0x03);
	assert_int_equal(in(u, MCR), 0x0b);
	d = 0;
	assert_int_equal(serial_pio(u->s, 0x3fd, false, &d, 2), 0);
	assert_int_equal(d, 0xb060); /* LSR, MSR */
	uart_free(u);
}

/* A host thread feeds input while the "guest" reads it with interrupts: for TSan too. */
struct feeder { struct serial *s; const uint8_t *data; size_t len; };

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t sent = 0;

	while (sent < f->len) {
		size_t n = serial_receive(f->s, f->data + sent, f->len - sent);

		sent += n;
		if (!n)
			usleep(100);
	}
	return NULL;
}

static void threads(void **state)
{
	struct uart *u = uart_new();
	static uint8_t data[100000];
	struct feeder f = { u->s, data, sizeof(data) };
	pthread_t t;
	size_t got = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	out(u, FCR, 0x87);
	out(u, MCR, 0x0b);
	out(u, IER, 0x05);
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	while (got < sizeof(data)) {
		if (!level(u)) {
			usleep(10);
			continue;
		}
		while (!(in(u, IIR) & 0x01))
			while (in(u, LSR) & 0x01)
				assert_int_equal(in(u, RBR), data[got++]);
	}
	pthread_join(t, NULL);
	assert_false(in(u, LSR) & 0x03);
	uart_free(u);
}

/* ---- output that stdout does not take ------------------------------------ */

struct flood {
	struct uart *u;
	size_t n;
	_Atomic size_t sent;
};

static char flood_byte(size_t i)
{
	return i % 64 == 63 ? '\n' : (char)('a' + i % 26);
}

static void *flood_thread(void *arg)
{
	struct flood *f = arg;

	for (size_t i = 0; i < f->n; i++) {
		out(f->u, THR, (uint8_t)flood_byte(i));
		atomic_store(&f->sent, i + 1);
	}
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A reader slower than the guest (a pipe of 64 KiB, 256 KiB sent): the
 * guest waits for it and nothing is lost or reordered.
 */
static void output_backpressure(void **state)
{
	struct uart *u = uart_new();
	struct flood f = { .u = u, .n = 256 * 1024 };
	pthread_t t;
	size_t got = 0;
	char buf[4096];

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, flood_thread, &f), 0);
	while (got < f.n) {
		ssize_t n = read(u->rd, buf, sizeof(buf));

		if (n <= 0) {
			usleep(2000); /* slower than the guest */
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal(buf[i], flood_byte(got + (size_t)i));
		got += (size_t)n;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(got, f.n);
	assert_true(serial_output_dropped(u->s) == 0);
	uart_free(u);
}

/*
 * A pipe nobody reads: the guest waits in the UART (no byte is buffered
 * beyond the line buffer) until the VM stops; then what stdout does not
 * take within the grace is dropped, the guest's writes return and
 * serial_flush() does not wait.
 */
static void output_nobody_reads(void **state)
{
	struct uart *u = uart_new();
	struct flood f = { .u = u, .n = 256 * 1024 };
	pthread_t t;
	size_t stuck, got = 0;
	uint64_t t0, elapsed;
	char buf[4096];
	ssize_t n;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, flood_thread, &f), 0);
	usleep(300 * 1000);
	stuck = atomic_load(&f.sent);
	usleep(100 * 1000);
	assert_true(stuck < f.n);
	assert_true(atomic_load(&f.sent) == stuck); /* waiting for the reader, not dropping */
	t0 = now_ns();
	serial_stop_output(u->s);
	assert_int_equal(pthread_join(t, NULL), 0);
	/*
	 * The guest's writes return once the grace is over: a bound far from
	 * "until someone reads", loose enough for the rest of the flood
	 * (dropped byte by byte, each through the UART model) under the
	 * sanitizers, which run that path ten times slower.
	 */
	elapsed = now_ns() - t0;
	if (elapsed >= SERIAL_STOP_GRACE_NS + 10000000000ull)
		fail_msg("the writes returned %llu ms after the stop", (unsigned long long)(elapsed / 1000000));
	assert_true(elapsed >= SERIAL_STOP_GRACE_NS - 1000000ull); /* it waited the grace */
	t0 = now_ns();
	serial_flush(u->s);
	assert_true(now_ns() - t0 < 100000000ull);
	while ((n = read(u->rd, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_true(serial_output_dropped(u->s) > 0);
	assert_true(got + serial_output_dropped(u->s) == f.n); /* each byte written or counted */
	uart_free(u);
}

/* A slow reader at the stop: what it takes within the grace still comes out. */
static void output_stop_with_slow_reader(void **state)
{
	struct uart *u = uart_new();
	struct flood f = { .u = u, .n = 128 * 1024 };
	pthread_t t;
	size_t got = 0;
	char buf[4096];

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, flood_thread, &f), 0);
	usleep(100 * 1000);
	serial_stop_output(u->s);
	while (got < f.n) {
		ssize_t n = read(u->rd, buf, sizeof(buf));

		if (n > 0)
			got += (size_t)n;
		else
			usleep(1000);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	serial_flush(u->s);
	assert_int_equal(got, f.n);
	assert_true(serial_output_dropped(u->s) == 0);
	uart_free(u);
}

/*
 * Saved with the FIFO full, host input behind it, output sent and an
 * interrupt pending: another UART loaded from it gives the same registers,
 * every byte in order, and the output is flushed once, by the save.
 */
static void save_load(void **state)
{
	static const char text[] = "a line longer than the sixteen-byte FIFO\r";
	struct uart *u = uart_new(), *v = uart_new();
	struct serial_state *st = malloc(sizeof(*st)), *st2 = malloc(sizeof(*st2));
	char buf[64], err[160] = "";
	size_t i = 0;

	out(u, LCR, 0x80);
	out(u, DLL, 0x0c);                 /* 9600 baud */
	out(u, DLM, 0x00);
	out(u, LCR, 0x03);
	out(u, FCR, 0x01);
	out(u, FCR, 0x87);
	out(u, MCR, 0x0b);
	out(u, IER, 0x05);
	out(u, SCR, 0x5a);
	out(u, THR, 'o');
	out(u, THR, 'k');
	receive_all(u, text);
	assert_true(level(u));
	serial_save(u->s, st);
	assert_int_equal(output(u, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	assert_int_equal(st->rx_count, 16);
	assert_int_equal(st->in_count, strlen(text) - 16);

	assert_int_equal(serial_load(v->s, st, NULL, 0), 0);
	serial_save(v->s, st2);
	assert_memory_equal(st, st2, sizeof(*st));
	assert_int_equal(output(v, buf, sizeof(buf)), 0);  /* nothing sent again */
	v->line.level = true;                  /* the PIC's state, loaded beside it */
	for (unsigned int r = IER; r <= SCR; r++)
		assert_int_equal(in(v, r), in(u, r));
	out(v, LCR, 0x83);
	assert_int_equal(in(v, DLL), 0x0c);
	out(v, LCR, 0x03);
	while (in(v, LSR) & 0x01)
		buf[i++] = (char)in(v, RBR);
	buf[i] = '\0';
	assert_string_equal(buf, text);
	assert_false(level(v));

	st->ier = 0x10;
	assert_int_equal(serial_load(v->s, st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IER 0x10"));
	st->ier = 0x05;
	st->fcr = 0;                           /* 16450 mode holds one byte */
	assert_int_equal(serial_load(v->s, st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16 bytes in the receiver"));
	st->fcr = 0x81;
	st->in_count = SERIAL_INPUT_BUF + 1;
	assert_int_equal(serial_load(v->s, st, err, sizeof(err)), -1);
	st->in_count = 0;
	st->tx_busy = 2;
	assert_int_equal(serial_load(v->s, st, err, sizeof(err)), -1);
	assert_string_equal(err, "COM1: a flag is neither 0 nor 1");
	free(st);
	free(st2);
	uart_free(u);
	uart_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reset_state),
		cmocka_unit_test(save_load),
		cmocka_unit_test(linux_probe),
		cmocka_unit_test(fifo_bits),
		cmocka_unit_test(linux_thre_tests),
		cmocka_unit_test(thre_rules),
		cmocka_unit_test(out2_gating),
		cmocka_unit_test(loopback),
		cmocka_unit_test(iir_priorities),
		cmocka_unit_test(fifo_timeout),
		cmocka_unit_test(receive_with_interrupts),
		cmocka_unit_test(rts_flow_control),
		cmocka_unit_test(back_pressure),
		cmocka_unit_test(output_flush),
		cmocka_unit_test(linux_interrupt_tx),
		cmocka_unit_test(wide_access),
		cmocka_unit_test(threads),
		cmocka_unit_test(output_backpressure),
		cmocka_unit_test(output_nobody_reads),
		cmocka_unit_test(output_stop_with_slow_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
