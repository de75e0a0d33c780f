/*
 * Console on COM1 (16550A, polled), a small printf, the exit port, and the
 * few string functions the compiler may call even in freestanding mode.
 */
#include "guest.h"
#include "cpu.h"

#define UART_THR 0 /* transmit holding register (DLAB = 0) */
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20 /* transmit holding register empty */

void serial_init(void)
{
	outb(MPVM_COM1_PORT + UART_IER, 0x00); /* polled: no interrupts */
	outb(MPVM_COM1_PORT + UART_LCR, 0x03); /* 8N1, DLAB = 0 */
	outb(MPVM_COM1_PORT + UART_FCR, 0x07); /* FIFOs on and cleared */
	outb(MPVM_COM1_PORT + UART_MCR, 0x03); /* DTR, RTS */
}

static void serial_putc(char c)
{
	/* Bounded, so a UART that never reports THRE cannot hang the test. */
	for (int i = 0; i < 100000 && !(inb(MPVM_COM1_PORT + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(MPVM_COM1_PORT + UART_THR, (uint8_t)c);
}

uint8_t serial_getc(void)
{
	while (!(inb(MPVM_COM1_PORT + UART_LSR) & 0x01)) /* LSR.DR */
		cpu_relax();
	return inb(MPVM_COM1_PORT + UART_THR); /* RBR: the same offset, read */
}

/*
 * Whole lines go out under a lock so lines from different CPUs never mix.
 * The wait is bounded: a CPU that faulted while holding it must not keep
 * the exception report of another from being printed.
 */
static volatile uint32_t print_lock;

static void lock_print(void)
{
	for (long spins = 0; spins < 1000000; spins++) {
		if (!print_lock && !__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
			return;
		cpu_relax();
	}
}

static void unlock_print(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

struct out {
	char buf[256];
	size_t len;
};

static void out_c(struct out *o, char c)
{
	if (o->len < sizeof(o->buf))
		o->buf[o->len++] = c;
}

static void out_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		out_c(o, pad);
	while (n)
		out_c(o, tmp[--n]);
}

/* %s %c %d %u %x with l/ll, a '0' flag and a width; enough for this guest. */
static void vformat(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			longs++, fmt++;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t len = strlen(s);
			for (size_t i = len; i < (size_t)width; i++)
				out_c(o, ' ');
			while (*s)
				out_c(o, *s++);
			break;
		}
		case 'c':
			out_c(o, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			out_num(o, v, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case '%':
			out_c(o, '%');
			break;
		default:
			out_c(o, '?');
			if (!*fmt)
				fmt--;
			break;
		}
	}
}

void gprintf(const char *fmt, ...)
{
	struct out o;
	va_list ap;

	o.len = 0;
	va_start(ap, fmt);
	vformat(&o, fmt, ap);
	va_end(ap);
	lock_print();
	for (size_t i = 0; i < o.len; i++)
		serial_putc(o.buf[i]);
	unlock_print();
}

void guest_exit(int status)
{
	outb(MPVM_EXIT_PORT, (uint8_t)status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * GCC may emit calls to these for struct copies and clears. The loops must
 * not be turned back into calls to themselves.
 */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

__attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
