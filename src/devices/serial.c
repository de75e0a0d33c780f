/*
 * 16550A UART (see serial.h). References are to the National Semiconductor
 * PC16550D data sheet: §8 (registers), Table II (register summary), Table
 * IV (interrupt control functions).
 *
 * Time. Nothing here takes time: a byte written to THR is on the output at
 * once, a byte from the host reaches the receiver FIFO as soon as there is
 * room. What the guest can observe of time is kept by splitting each
 * register access into two steps, with the interrupt line updated after
 * each: the access itself, then "later", when the transmitter has sent
 * the byte and the receiver's timeout has run. So a THR write first drops
 * the THR-empty interrupt (§8.6: writing THR clears it) and then raises it
 * again (the THR is empty once more), which is an edge on the ISA line as
 * on real hardware one character time later; and an RBR read first clears
 * the character-timeout indication (§8.11: reading RBR resets the timer),
 * which returns while bytes stay below the trigger level. A driver that
 * serves one interrupt and returns without draining every source still
 * gets the next edge.
 *
 * Interrupts (§8.6, Table IV), highest priority first:
 *   receiver line status (IIR 0x06; LSR.OE here): cleared by reading LSR;
 *   received data available (0x04): the FIFO at or above its trigger level
 *     (1 byte without FIFOs), cleared when it drops below;
 *   character timeout (0x0c, FIFO mode): bytes below the trigger level,
 *     cleared by reading RBR;
 *   THR empty (0x02): set when the transmitter empties and when IER.ETBEI
 *     goes from 0 to 1 with THR empty (Linux's serial8250 startup test,
 *     UART_BUG_THRE, expects this re-assertion), and when FCR0 changes
 *     (§8.5: "the first transmitter interrupt after changing FCR0 will be
 *     immediate"); cleared by writing THR or by an IIR read that reports it;
 *   modem status (0x00): an MSR delta bit, cleared by reading MSR.
 * Each is reported only while its IER bit is set. IIR bits 7:6 are 11 while
 * FCR0 is set (the 16550A's FIFOs work: Linux's autoconfig tells a 16550A
 * by them), bits 5:4 read 0 (no 64-byte FIFO, which the TI16750 probe
 * looks for). The chip's INTR output reaches the PIC only through the
 * board's OUT2 gate (MCR bit 3, the PC wiring); in loopback the OUT2 pin is
 * forced inactive (§8.8), so the line stays low there.
 *
 * Loopback (MCR.LOOP, §8.8): the transmitter feeds the receiver, nothing
 * goes out, host input waits, and the modem inputs follow the outputs:
 * DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. A byte arriving at a full
 * receiver sets LSR.OE: in FIFO mode it is lost, without FIFOs it replaces
 * the unread one (§8.4). Linux's size_fifo() counts 16 that way.
 *
 * Host input is flow-controlled twice. serial_receive() takes what fits in
 * a SERIAL_INPUT_BUF buffer and says how much, so the caller holds the rest
 * (nothing is dropped). From there bytes go to the receiver only while the
 * guest asserts MCR.RTS, as a terminal with RTS/CTS handshaking sends only
 * while its CTS input is on: Linux raises RTS when the port is opened,
 * after its startup code has reset the FIFO and read RBR to discard stale
 * data, and lowers it on close, so input typed or piped early waits for a
 * reader instead of being thrown away.
 *
 * Output is line-buffered: written at a newline or a full buffer, and
 * whenever the guest's driver shows it has nothing more to send right now,
 * so a prompt without a newline appears: an IER write (Linux's
 * interrupt-driven transmit ends by clearing ETBEI, its console output ends
 * by restoring IER), an IIR read that finds no interrupt, an FCR write, and
 * a second LSR read in a row (polled transmit reads LSR once per byte, so
 * two in a row mean the guest is waiting for something else, input).
 *
 * The output never waits without limit and never grows: the guest's bytes
 * go through the SERIAL_OUT_BUF line buffer and nothing else. When the
 * output is a pipe or a terminal, serial_create() opens it again, privately
 * and non-blocking (/proc/self/fd/N, O_NONBLOCK on that new open file
 * description only, which takes N's place in mpvm; the description mpvm's
 * parent and the rest of a pipeline share stays as it was); a write
 * that finds it full waits in short sleeps (SERIAL_OUT_RETRY_MAX_NS at
 * most each), holding the UART as a transmitter that cannot send would:
 * a guest that prints faster than the reader reads is slowed to the
 * reader's pace (backpressure), and one that prints while nobody reads
 * waits there. Once serial_stop_output() has been called (the VM is
 * stopping) a write that stdout has not taken within SERIAL_STOP_GRACE_NS
 * is dropped, and so is what the guest transmits after that, so a stdout
 * nobody reads cannot hold up the VM's stop; the count is in
 * serial_output_dropped(). serial_flush() gives up the same way after
 * SERIAL_STOP_GRACE_NS, so no caller waits for stdout without limit. A
 * regular file, or an output that cannot be opened again, is written with
 * plain blocking writes (a file does not block for long). An output that
 * fails (EPIPE, EIO, ...) drops the guest's output rather than stopping it.
 *
 * Not modelled: baud rate, data format and parity (LCR and the divisor
 * latch are storage), break, DMA mode signalling, line errors other than
 * overrun.
 *
 * Locking: `lock` guards the registers and buffers; `irq_lock` orders the
 * set_irq calls and is always taken first and never held by the register
 * paths, so set_irq runs with no device state locked (update_irq()).
 */
#include "devices/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errmsg.h"

/* Register offsets from the base port (Table II). */
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

#define IER_ERBFI 0x01 /* received data available (and character timeout) */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f /* bits 7:4 are always 0 */

#define IIR_NO_INT  0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFOS   0xc0 /* FCR0 set */

#define FCR_ENABLE   0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04
#define FCR_DMA      0x08
#define FCR_TRIGGER  0xc0

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f /* bits 7:5 are always 0 */

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20 /* transmit holding register (FIFO) empty */
#define LSR_TEMT 0x40 /* transmitter empty */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

#define SERIAL_OUT_BUF 4096

struct serial {
	pthread_mutex_t lock;
	pthread_mutex_t irq_lock;
	serial_irq_fn set_irq;
	void *irq_opaque;
	bool irq_line;        /* the level set_irq last got (irq_lock) */

	int out_fd;
	_Atomic uint64_t out_give_up_ns; /* serial_stop_output(): a blocked write gives up then */
	uint64_t out_dropped; /* bytes of output dropped: the output failed or did not take them */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t lsr_errors;   /* LSR.OE until LSR is read */
	uint8_t msr_deltas;   /* MSR 3:0 until MSR is read */
	uint8_t rbr;          /* the byte last read from RBR (what an empty RBR gives again) */
	bool thre_int;        /* the THR-empty interrupt is latched */
	bool tx_busy;         /* a THR write has not "finished sending" yet (first step) */
	bool timeout_reset;   /* RBR was read: the timeout indication is off until later */
	bool lsr_polled;      /* the previous access was an LSR read */

	uint8_t rx[SERIAL_FIFO];
	unsigned int rx_head, rx_count;
	uint8_t in[SERIAL_INPUT_BUF]; /* host input not yet in the receiver */
	size_t in_head, in_count;
	size_t out_len;
	char out[SERIAL_OUT_BUF];

	bool line_set;        /* the guest wrote LCR or the divisor latch */

	/* serial_watch(): the text, the output's last bytes, and the callback. */
	char watch[SERIAL_WATCH_MAX + 1];
	size_t watch_len;
	char tail[SERIAL_WATCH_MAX];
	size_t tail_len;
	bool watch_seen;      /* the text went by; the callback runs at the line's end */
	bool watch_due;       /* ... which has come: serial_pio() calls it, unlocked */
	serial_match_fn watch_fn;
	void *watch_opaque;
};

/*
 * A pipe or a terminal, opened again on a new open file description that is
 * non-blocking: O_NONBLOCK on out_fd itself would be seen by every process
 * sharing it (the shell, the next program in a pipeline). -1 if out_fd is
 * anything else or cannot be opened again.
 */
static int private_nonblocking(int out_fd)
{
	struct stat st;
	char path[64];

	if (fstat(out_fd, &st) || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", out_fd);
	return open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

struct serial *serial_create(int out_fd, serial_irq_fn set_irq, void *irq_opaque)
{
	struct serial *s = calloc(1, sizeof(*s));
	int own;

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->irq_lock, NULL);
	s->set_irq = set_irq;
	s->irq_opaque = irq_opaque;
	/*
	 * In out_fd's place, so the descriptor number stays the one the
	 * seccomp filters let vCPU threads write to.
	 */
	own = private_nonblocking(out_fd);
	if (own >= 0) {
		dup2(own, out_fd); /* on failure out_fd stays as it was: blocking */
		close(own);
	}
	s->out_fd = out_fd;
	s->dll = 0x0c; /* 9600 baud, as after a BIOS */
	return s;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = ns_to_timespec(ns);

	nanosleep(&ts, NULL);
}

/*
 * Writes out the buffer. A full output (EAGAIN) is waited for in sleeps
 * until `give_up_ns` (0: no limit of the caller's own) or the stop's
 * deadline, whichever comes first; then the rest is dropped.
 */
static void flush_locked(struct serial *s, uint64_t give_up_ns)
{
	size_t off = 0;
	uint64_t pause = SERIAL_OUT_RETRY_MIN_NS;

	while (off < s->out_len) {
		ssize_t n = write(s->out_fd, s->out + off, s->out_len - off);
		uint64_t stop;

		if (n > 0) {
			off += (size_t)n;
			pause = SERIAL_OUT_RETRY_MIN_NS;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			stop = atomic_load(&s->out_give_up_ns);
			if (give_up_ns && (!stop || give_up_ns < stop))
				stop = give_up_ns;
			if (!stop || monotonic_ns() < stop) {
				sleep_ns(pause);
				pause = pause * 2 > SERIAL_OUT_RETRY_MAX_NS ? SERIAL_OUT_RETRY_MAX_NS : pause * 2;
				continue;
			}
		}
		/* The console is gone or did not take output in time: drop it rather than stall. */
		s->out_dropped += s->out_len - off;
		break;
	}
	s->out_len = 0;
}

void serial_flush(struct serial *s)
{
	/*
	 * The lock is held for microseconds, unless a vCPU waits for stdout:
	 * then that is its work. At most 100 ms of tries, 1 ms apart (not
	 * pthread_mutex_clocklock(): ThreadSanitizer does not know it and
	 * then takes the unlock for a misuse).
	 */
	for (int tries = 0; pthread_mutex_trylock(&s->lock); tries++) {
		if (tries == 100)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	flush_locked(s, monotonic_ns() + SERIAL_STOP_GRACE_NS);
	pthread_mutex_unlock(&s->lock);
}

void serial_stop_output(struct serial *s)
{
	uint64_t expected = 0;

	atomic_compare_exchange_strong(&s->out_give_up_ns, &expected, monotonic_ns() + SERIAL_STOP_GRACE_NS);
}

uint64_t serial_output_dropped(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->out_dropped;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->irq_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool fifo_mode(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

/* Without FIFOs the receiver is the one-byte RBR (the 16450 mode). */
static unsigned int rx_capacity(const struct serial *s)
{
	return fifo_mode(s) ? SERIAL_FIFO : 1;
}

/* FCR bits 7:6: the receiver FIFO trigger level (§8.5). */
static unsigned int rx_trigger(const struct serial *s)
{
	static const unsigned int level[4] = { 1, 4, 8, 14 };

	return fifo_mode(s) ? level[s->fcr >> 6] : 1;
}

static void rx_clear_locked(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* A byte that reached the receiver: from the host or, in loopback, the transmitter. */
static void rx_push_locked(struct serial *s, uint8_t c)
{
	if (s->rx_count == rx_capacity(s)) {
		s->lsr_errors |= LSR_OE;
		if (fifo_mode(s))
			return; /* §8.4: the byte in the shift register is not transferred */
		s->rx_count = 0; /* 16450 mode: it overwrites the unread RBR */
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO] = c;
	s->rx_count++;
}

/* Host input moves on while the guest wants it (RTS) and the receiver has room. */
static void rx_refill_locked(struct serial *s)
{
	if ((s->mcr & MCR_LOOP) || !(s->mcr & MCR_RTS))
		return;
	while (s->in_count && s->rx_count < rx_capacity(s)) {
		rx_push_locked(s, s->in[s->in_head]);
		s->in_head = (s->in_head + 1) % SERIAL_INPUT_BUF;
		s->in_count--;
	}
}

/* The modem control inputs MSR 7:4: a connected terminal, or the outputs in loopback. */
static uint8_t modem_inputs(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (uint8_t)(((m & MCR_DTR) ? MSR_DSR : 0) | ((m & MCR_RTS) ? MSR_CTS : 0) |
			 ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0));
}

/* §8.9: the delta bits; TERI only on RI's trailing edge. */
static void modem_inputs_changed(struct serial *s, uint8_t before, uint8_t after)
{
	uint8_t ch = before ^ after;

	if (ch & MSR_CTS)
		s->msr_deltas |= MSR_DCTS;
	if (ch & MSR_DSR)
		s->msr_deltas |= MSR_DDSR;
	if ((before & MSR_RI) && !(after & MSR_RI))
		s->msr_deltas |= MSR_TERI;
	if (ch & MSR_DCD)
		s->msr_deltas |= MSR_DDCD;
}

/* The highest-priority pending interrupt, as IIR bits 3:0 (Table IV). */
static uint8_t pending_locked(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && s->lsr_errors)
		return IIR_RLSI;
	if (s->ier & IER_ERBFI) {
		if (s->rx_count >= rx_trigger(s))
			return IIR_RDI;
		if (fifo_mode(s) && s->rx_count && !s->timeout_reset)
			return IIR_TIMEOUT;
	}
	if ((s->ier & IER_ETBEI) && s->thre_int)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && s->msr_deltas)
		return IIR_MSI;
	return IIR_NO_INT;
}

/* The line at the PIC: INTR through the OUT2 gate, which loopback holds off. */
static bool irq_level_locked(const struct serial *s)
{
	return pending_locked(s) != IIR_NO_INT && (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
}

static void update_irq(struct serial *s)
{
	bool level;

	pthread_mutex_lock(&s->irq_lock);
	pthread_mutex_lock(&s->lock);
	level = irq_level_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (level != s->irq_line) {
		s->irq_line = level;
		if (s->set_irq)
			s->set_irq(s->irq_opaque, level);
	}
	pthread_mutex_unlock(&s->irq_lock);
}

/* The second step of an access: the byte is sent, the timeout has run, input arrives. */
static void settle_locked(struct serial *s)
{
	if (s->tx_busy) {
		s->tx_busy = false;
		s->thre_int = true;
	}
	s->timeout_reset = false;
	rx_refill_locked(s);
}

static void transmit_locked(struct serial *s, uint8_t c)
{
	s->thre_int = false;
	s->tx_busy = true;
	if (s->mcr & MCR_LOOP) {
		rx_push_locked(s, c);
		return;
	}
	s->out[s->out_len++] = (char)c;
	if (s->watch_len && !s->watch_seen) {
		if (s->tail_len == s->watch_len)
			memmove(s->tail, s->tail + 1, --s->tail_len);
		s->tail[s->tail_len++] = (char)c;
		s->watch_seen = s->tail_len == s->watch_len && !memcmp(s->tail, s->watch, s->watch_len);
	}
	if (c == '\n' || s->out_len == sizeof(s->out))
		flush_locked(s, 0);
	/* The whole line with the text is out before anyone acts on it. */
	if (s->watch_seen && c == '\n' && s->watch_fn) {
		s->watch_due = true;
		s->watch_seen = false;
		s->watch_len = 0;
	}
}

static uint8_t read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	bool lsr_polled = s->lsr_polled;
	uint8_t v;

	s->lsr_polled = false;
	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			return s->dll;
		if (s->rx_count) {
			s->rbr = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO;
			s->rx_count--;
		}
		s->timeout_reset = true;
		return s->rbr;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = pending_locked(s);
		if (v == IIR_THRI)
			s->thre_int = false; /* reading IIR clears THRE when it is the source */
		else if (v == IIR_NO_INT && s->out_len)
			flush_locked(s, 0);
		return (uint8_t)(v | (fifo_mode(s) ? IIR_FIFOS : 0));
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		/* The transmitter is always empty: a byte written is sent at once. */
		v = (uint8_t)((s->rx_count ? LSR_DR : 0) | s->lsr_errors | LSR_THRE | LSR_TEMT);
		s->lsr_errors = 0;
		s->lsr_polled = true;
		if (lsr_polled && s->out_len)
			flush_locked(s, 0);
		return v;
	case UART_MSR:
		v = (uint8_t)(modem_inputs(s) | s->msr_deltas);
		s->msr_deltas = 0;
		return v;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void write_fcr(struct serial *s, uint8_t v)
{
	if ((v ^ s->fcr) & FCR_ENABLE) {
		/* §8.5: switching between FIFO and 16450 mode empties the FIFOs. */
		rx_clear_locked(s);
		s->thre_int = true;
	}
	if (!(v & FCR_ENABLE)) {
		/* "FCR0 must be 1 when other FCR bits are written to or they will not be programmed." */
		s->fcr &= (uint8_t)~FCR_ENABLE;
		return;
	}
	if (v & FCR_RX_RESET)
		rx_clear_locked(s);
	/* FCR_TX_RESET: the transmitter FIFO is always empty here. */
	s->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
}

static void write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t before;

	s->lsr_polled = false;
	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v, s->line_set = true;
		else
			transmit_locked(s, v);
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v, s->line_set = true;
			break;
		}
		if ((v & IER_ETBEI) && !(s->ier & IER_ETBEI) && !s->tx_busy)
			s->thre_int = true;
		s->ier = v & IER_MASK;
		flush_locked(s, 0);
		break;
	case UART_IIR_FCR:
		write_fcr(s, v);
		flush_locked(s, 0);
		break;
	case UART_LCR:
		s->lcr = v;
		s->line_set = true;
		break;
	case UART_MCR:
		before = modem_inputs(s);
		s->mcr = v & MCR_MASK;
		modem_inputs_changed(s, before, modem_inputs(s));
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

int serial_pio(void *opaque, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size)
{
	struct serial *s = opaque;
	unsigned int reg = port & 7;
	bool due;

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
	update_irq(s);

	pthread_mutex_lock(&s->lock);
	settle_locked(s);
	due = s->watch_due;
	s->watch_due = false;
	pthread_mutex_unlock(&s->lock);
	update_irq(s);
	if (due)
		s->watch_fn(s->watch_opaque);
	return 0;
}

int serial_watch(struct serial *s, const char *text, serial_match_fn fn, void *opaque)
{
	size_t n = strlen(text);

	if (n == 0 || n > SERIAL_WATCH_MAX)
		return -1;
	pthread_mutex_lock(&s->lock);
	memcpy(s->watch, text, n + 1);
	s->watch_len = n;
	s->tail_len = 0;
	s->watch_fn = fn;
	s->watch_opaque = opaque;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * LCR (PC16550D §8.4): bits 1:0 word length 5-8, bit 2 stop bits (2, or
 * 1.5 with 5-bit words), bits 5:3 parity (x0 none, 01 odd, 11 even, 101
 * mark, 111 space); the divisor latch divides the 1.8432 MHz clock by 16:
 * baud = 115200 / divisor.
 */
bool serial_describe_line(struct serial *s, char *buf, size_t len)
{
	static const char parity[] = { 'N', 'O', 'N', 'E', 'N', 'M', 'N', 'S' };
	unsigned int divisor;
	uint8_t lcr;
	bool set;

	pthread_mutex_lock(&s->lock);
	set = s->line_set;
	lcr = s->lcr;
	divisor = (unsigned int)s->dlm << 8 | s->dll;
	pthread_mutex_unlock(&s->lock);
	if (!set)
		return false;
	if (divisor == 0) {
		snprintf(buf, len, "divisor 0 (no baud rate), %u%c%s", 5 + (lcr & 3),
			 parity[(lcr >> 3) & 7], lcr & 4 ? ((lcr & 3) ? "2" : "1.5") : "1");
		return true;
	}
	snprintf(buf, len, "%u baud, %u%c%s", 115200 / divisor, 5 + (lcr & 3),
		 parity[(lcr >> 3) & 7], lcr & 4 ? ((lcr & 3) ? "2" : "1.5") : "1");
	return true;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t take, tail, first;

	pthread_mutex_lock(&s->lock);
	take = SERIAL_INPUT_BUF - s->in_count;
	if (take > n)
		take = n;
	tail = (s->in_head + s->in_count) % SERIAL_INPUT_BUF;
	first = SERIAL_INPUT_BUF - tail < take ? SERIAL_INPUT_BUF - tail : take;
	memcpy(s->in + tail, buf, first);
	memcpy(s->in, buf + first, take - first);
	s->in_count += take;
	rx_refill_locked(s);
	pthread_mutex_unlock(&s->lock);
	update_irq(s);
	return take;
}

void serial_save(struct serial *s, struct serial_state *st)
{
	serial_flush(s);
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = s->fcr;
	st->lsr_errors = s->lsr_errors;
	st->msr_deltas = s->msr_deltas;
	st->rbr = s->rbr;
	st->thre_int = s->thre_int;
	st->tx_busy = s->tx_busy;
	st->timeout_reset = s->timeout_reset;
	st->lsr_polled = s->lsr_polled;
	st->line_set = s->line_set;
	st->rx_count = (uint8_t)s->rx_count;
	for (unsigned int i = 0; i < s->rx_count; i++)
		st->rx[i] = s->rx[(s->rx_head + i) % SERIAL_FIFO];
	st->in_count = (uint32_t)s->in_count;
	for (size_t i = 0; i < s->in_count; i++)
		st->in[i] = s->in[(s->in_head + i) % SERIAL_INPUT_BUF];
	pthread_mutex_unlock(&s->lock);
}

int serial_load(struct serial *s, const struct serial_state *st, char *err, size_t errlen)
{
	if ((st->thre_int | st->tx_busy | st->timeout_reset | st->lsr_polled | st->line_set) > 1 || st->pad)
		return errmsg(err, errlen, "COM1: a flag is neither 0 nor 1");
	if (st->ier & ~IER_MASK || st->mcr & ~MCR_MASK || st->fcr & ~(FCR_ENABLE | FCR_DMA | FCR_TRIGGER) ||
	    st->lsr_errors & ~LSR_OE || st->msr_deltas > 0xf)
		return errmsg(err, errlen, "COM1: IER 0x%02x, MCR 0x%02x, FCR 0x%02x, LSR errors 0x%02x or MSR "
			      "deltas 0x%02x has bits the UART never holds",
			      st->ier, st->mcr, st->fcr, st->lsr_errors, st->msr_deltas);
	if (st->rx_count > (st->fcr & FCR_ENABLE ? SERIAL_FIFO : 1) || st->in_count > SERIAL_INPUT_BUF)
		return errmsg(err, errlen, "COM1: %u bytes in the receiver or %u bytes of input, more than it holds",
			      st->rx_count, st->in_count);
	pthread_mutex_lock(&s->irq_lock);
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->lsr_errors = st->lsr_errors;
	s->msr_deltas = st->msr_deltas;
	s->rbr = st->rbr;
	s->thre_int = st->thre_int;
	s->tx_busy = st->tx_busy;
	s->timeout_reset = st->timeout_reset;
	s->lsr_polled = st->lsr_polled;
	s->line_set = st->line_set;
	s->rx_head = 0;
	s->rx_count = st->rx_count;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	s->in_head = 0;
	s->in_count = st->in_count;
	memcpy(s->in, st->in, st->in_count);
	s->irq_line = irq_level_locked(s);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->irq_lock);
	return 0;
}
