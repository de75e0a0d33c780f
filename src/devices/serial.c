#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Register offsets from the base port (PC16550D, table 2). */
enum {
	UART_RBR_THR = 0, /* DLAB=0: receive buffer (read) / transmit holding (write) */
	UART_IER = 1,     /* DLAB=0: interrupt enable */
	UART_IIR_FCR = 2, /* interrupt identification (read) / FIFO control (write) */
	UART_LCR = 3,     /* line control; bit 7 is DLAB */
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define UART_LSR_TEMT 0x40 /* transmitter empty */
#define UART_IIR_NO_INT 0x01
#define UART_MCR_LOOP 0x10
#define UART_MSR_DCD 0x80
#define UART_MSR_DSR 0x20
#define UART_MSR_CTS 0x10

#define SERIAL_BUF 4096

struct serial {
	pthread_mutex_t lock;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	size_t len;
	char buf[SERIAL_BUF];
};

struct serial *serial_create(int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->dll = 0x0c; /* 9600 baud, as after a BIOS */
	return s;
}

static void flush_locked(struct serial *s)
{
	size_t off = 0;

	while (off < s->len) {
		ssize_t n = write(s->out_fd, s->buf + off, s->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the console is gone: drop output rather than stall the guest */
		off += (size_t)n;
	}
	s->len = 0;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void transmit_locked(struct serial *s, uint8_t c)
{
	s->buf[s->len++] = (char)c;
	if (c == '\n' || s->len == sizeof(s->buf))
		flush_locked(s);
}

static uint8_t read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR: return dlab ? s->dll : 0; /* nothing received */
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR: return UART_IIR_NO_INT | ((s->fcr & 1) ? 0xc0 : 0);
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	/* Transmission is instant, so the transmitter is always empty. */
	case UART_LSR: return UART_LSR_THRE | UART_LSR_TEMT;
	/* In loopback the modem inputs follow the outputs; otherwise a cable is present. */
	case UART_MSR:
		if (s->mcr & UART_MCR_LOOP)
			return (uint8_t)(((s->mcr & 1) << 5) | ((s->mcr & 2) << 3) |
					 ((s->mcr & 4) << 4) | ((s->mcr & 8) << 4));
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	case UART_SCR: return s->scr;
	}
	return 0xff;
}

static void write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v;
		else if (!(s->mcr & UART_MCR_LOOP))
			transmit_locked(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_IIR_FCR: s->fcr = v; break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

int serial_pio(void *opaque, struct vcpu *vcpu, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size)
{
	struct serial *s = opaque;
	unsigned int reg = port & 7;

	(void)vcpu;
	pthread_mutex_lock(&s->lock);
	/* A wider access touches consecutive registers, as on an ISA bus. */
	for (unsigned int i = 0; i < size; i++) {
		unsigned int r = (reg + i) & 7;

		if (is_write)
			write_reg(s, r, (uint8_t)(*data >> (8 * i)));
		else
			*data = (i ? *data : 0) | ((uint32_t)read_reg(s, r) << (8 * i));
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}
