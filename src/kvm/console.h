/*
 * The host side of the guest's console (COM1): mpvm's stdin forwarded to
 * the UART's receiver by a reader thread. The guest's output goes to
 * stdout from the UART itself (devices/serial.c).
 *
 * stdin a terminal (mpvm in the foreground): raw mode, so every key,
 * Ctrl-C included, goes to the guest; Ctrl-A x stops the VM (status 130,
 * as if interrupted), Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h prints the
 * keys; Ctrl-A and any other key send both. Output processing is left as
 * it was, so "\n" from the guest still starts a new line. The terminal is
 * restored by console_stop(), at exit() and on a fatal signal.
 *
 * stdin a pipe or a file: forwarded as it is, with no escape key, until
 * end of file. stdin /dev/null, closed, or a terminal of another process
 * group (mpvm in the background): nothing is read.
 */
#ifndef MPVM_KVM_CONSOLE_H
#define MPVM_KVM_CONSOLE_H

struct vm;
struct serial;
struct console;

/*
 * Starts forwarding stdin to `com1`. *out is NULL when there is nothing to
 * forward. -1 after printing why (the terminal is then as it was).
 */
int console_start(struct vm *vm, struct serial *com1, struct console **out);

/*
 * Stops the reader thread, restores the terminal and frees `c` (NULL is
 * fine). Once it returns, the console no longer touches the UART.
 */
void console_stop(struct console *c);

#endif
