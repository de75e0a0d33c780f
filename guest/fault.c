/*
 * Deliberate guest faults, for mpvm's tests of how it reports them
 * (scenario=triple-fault|bad-port|bad-mmio|bad-fetch, where=bsp|ap). Each
 * should stop the VM; if it returns, mpvm let the guest go on and the
 * caller fails the test.
 */
#include "guest.h"
#include "cpu.h"

/* Never RAM: mpvm's RAM stops at 3 GiB and continues at 4 GiB, the LAPIC is at 0xfee00000. */
#define UNMAPPED_MMIO 0xd0000000u

volatile int ap_fault; /* enum fault the first AP to check in performs */

void do_fault(enum fault kind)
{
	switch (kind) {
	case FAULT_TRIPLE: {
		/* An empty IDT: the #UD cannot be delivered, nor the #GP, nor the #DF: shutdown. */
		struct __attribute__((packed)) {
			uint16_t limit;
			uint64_t base;
		} none = { 0, 0 };
		__asm__ volatile("lidt %0; ud2" : : "m"(none));
		break;
	}
	case FAULT_BAD_PORT:
		outb(0x666, 0x5a); /* no device there */
		break;
	case FAULT_BAD_MMIO:
		mmio_write32(UNMAPPED_MMIO, 0x5a5a5a5a);
		break;
	case FAULT_BAD_FETCH:
		/* Executing from MMIO: KVM cannot fetch the instruction. */
		((void (*)(void))(uintptr_t)UNMAPPED_MMIO)();
		break;
	case FAULT_NONE:
		break;
	}
}
