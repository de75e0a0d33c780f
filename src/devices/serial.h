/*
 * A 16550A UART (National Semiconductor PC16550D data sheet) as a PC's COM
 * port: the guest's console. Transmitted bytes go to an output file
 * descriptor; received bytes come from serial_receive() (another thread);
 * the interrupt output reaches the caller through set_irq, gated by
 * MCR.OUT2 as on a PC. Details and data-sheet references in serial.c.
 */
#ifndef MPVM_DEVICES_SERIAL_H
#define MPVM_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

/*
 * The interrupt line as the PIC and IOAPIC see it: called (never with a
 * serial lock held, one call at a time) each time the level changes; it
 * starts low. On a PC the COM ports' IRQs are ISA edge-triggered, so a
 * rise is the interrupt.
 */
typedef void (*serial_irq_fn)(void *opaque, bool level);

/* set_irq may be NULL (no interrupt line, as in a polled-only setup). */
struct serial *serial_create(int out_fd, serial_irq_fn set_irq, void *irq_opaque);
/*
 * Writes out the guest's output held back so far (it is line-buffered).
 * Waits at most 100 ms for the UART (a vCPU that holds it waiting for a
 * full stdout keeps it) and SERIAL_STOP_GRACE_NS for the output: what the
 * output does not take by then is dropped (counted).
 */
void serial_flush(struct serial *s);
/*
 * The VM is stopping: from SERIAL_STOP_GRACE_NS from now, a write the
 * output does not take (a pipe nobody reads) is dropped instead of waited
 * for, so no vCPU stays in the UART. Any thread, once or more.
 */
void serial_stop_output(struct serial *s);
/* Bytes of the guest's output dropped so far (the output failed or gave up). */
uint64_t serial_output_dropped(struct serial *s);
void serial_destroy(struct serial *s);

/*
 * Bytes for the guest's receiver, from any thread. Returns how many were
 * taken (0 up to n): the rest find no room now and the caller offers them
 * again later. The device holds up to SERIAL_INPUT_BUF bytes on the host
 * side and feeds them to the 16-byte receiver FIFO as the guest reads it
 * and while the guest asserts MCR.RTS (hardware flow control).
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);

/*
 * Watches the guest's output for `text` (1 to SERIAL_WATCH_MAX bytes): once
 * it has gone by and the line holding it is out, fn(opaque) runs once, on
 * the vCPU thread that wrote the line's end, with no serial lock held.
 * -1 if text is empty or too long.
 */
#define SERIAL_WATCH_MAX 255
typedef void (*serial_match_fn)(void *opaque);
int serial_watch(struct serial *s, const char *text, serial_match_fn fn, void *opaque);

/*
 * The line settings the guest programmed ("115200 baud, 8N1") into buf;
 * false if it never wrote LCR or the divisor latch.
 */
bool serial_describe_line(struct serial *s, char *buf, size_t len);

/* The port-bus handler; opaque is the struct serial. */
int serial_pio(void *opaque, uint16_t port, bool is_write,
	       uint32_t *data, unsigned int size);

#define SERIAL_PORTS 8
#define SERIAL_FIFO 16          /* PC16550D: 16-byte receiver and transmitter FIFOs */
#define SERIAL_INPUT_BUF 4096   /* host-side input waiting for the receiver */
#define SERIAL_STOP_GRACE_NS 1000000000ull /* how long a stopping VM waits for stdout */
#define SERIAL_OUT_RETRY_MIN_NS 50000ull   /* sleeps while stdout is full: 50 us ... */
#define SERIAL_OUT_RETRY_MAX_NS 10000000ull /* ... doubling up to 10 ms */

/*
 * What a snapshot keeps of a UART (kvm/snapshot.c): its registers, the
 * receiver FIFO (from its oldest byte) and host input not yet in it.
 * Output the guest has sent is flushed by serial_save(), not kept: it was
 * printed once and a restored guest does not print it again.
 */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, lsr_errors;
	uint8_t msr_deltas, rbr, thre_int, tx_busy, timeout_reset, lsr_polled, line_set, rx_count;
	uint8_t rx[SERIAL_FIFO];
	uint32_t in_count, pad;
	uint8_t in[SERIAL_INPUT_BUF];
};

void serial_save(struct serial *s, struct serial_state *st);
/*
 * -1 with the reason in err for a state no guest could have made; s
 * unchanged then. The IRQ line is not driven: the interrupt controllers'
 * state, loaded beside it, holds its level.
 */
int serial_load(struct serial *s, const struct serial_state *st, char *err, size_t errlen);

#endif
