/*
 * scenario=console-flood bytes=N: the BSP writes N bytes (suffix K, M or G)
 * of text to COM1 as fast as it can, for mpvm's resource-bound tests
 * (tests/integration/bounds.t): whatever the guest prints, mpvm's memory
 * must stay flat, and a stdout nobody reads must neither grow it nor keep
 * the VM from stopping.
 *
 * Guest kernel code runs at about a million instructions a second under
 * KVM-PVM, so a polled putc loop would take hours for a gigabyte; a REP
 * OUTSB of a 64 KiB block of 64-byte lines moves a page per exit. The
 * UART's THR is never waited for: mpvm's transmitter is always empty.
 */
#include "guest.h"
#include "cpu.h"

#define FLOOD_BLOCK 65536
#define FLOOD_LINE 64

static char block[FLOOD_BLOCK];

bool flood_parse_bytes(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0, unit = 1;
	size_t digits = len;

	if (len && (s[len - 1] == 'K' || s[len - 1] == 'M' || s[len - 1] == 'G')) {
		unit = s[len - 1] == 'K' ? 1ull << 10 : s[len - 1] == 'M' ? 1ull << 20 : 1ull << 30;
		digits--;
	}
	if (!digits || digits > 12)
		return false;
	for (size_t i = 0; i < digits; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v * unit;
	return true;
}

static void fill_block(void)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t l = 0; l < FLOOD_BLOCK / FLOOD_LINE; l++) {
		char *p = block + l * FLOOD_LINE;
		size_t i = 0;

		for (const char *t = "mpvm-guest: flood "; *t; t++)
			p[i++] = *t;
		for (int sh = 12; sh >= 0; sh -= 4)
			p[i++] = hex[(l >> sh) & 0xf];
		while (i < FLOOD_LINE - 1)
			p[i++] = '.';
		p[i] = '\n';
	}
}

static void outsb(const char *src, uint64_t n)
{
	__asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(n) : "d"((uint16_t)MPVM_COM1_PORT) : "memory");
}

void console_flood(uint64_t bytes)
{
	uint64_t left = bytes, t0;

	fill_block();
	gprintf("mpvm-guest: console-flood: writing %lu bytes to COM1\n", bytes);
	t0 = rdtsc();
	while (left) {
		uint64_t n = left < FLOOD_BLOCK ? left : FLOOD_BLOCK;

		outsb(block, n);
		left -= n;
	}
	if (bytes % FLOOD_LINE)
		gprintf("\n");
	gprintf("mpvm-guest: console-flood: %lu bytes written in %lu ms\n", bytes,
		tsc_khz ? (rdtsc() - t0) / tsc_khz : 0);
	guest_exit(0);
}
