/*
 * IDT (SDM vol. 3A §6.14): every vector goes to a stub in entry.S and then
 * to interrupt_handler(). Exceptions and unexpected vectors end the test.
 */
#include "guest.h"
#include "cpu.h"

struct __attribute__((packed)) idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* 0x8e: present, DPL 0, 64-bit interrupt gate (IF cleared on entry) */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
};

struct int_frame { /* as isr_common builds it */
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

static struct idt_gate idt[256] __attribute__((aligned(16)));

volatile uint64_t gp_fixup;
volatile int gp_seen;
volatile uint32_t nmis_taken; /* scenario=nmi-storm: NMIs are expected, and counted */
volatile bool nmis_expected;
volatile bool ap_spinning, ap_spin_stop;

void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(uintptr_t)isr_stubs + 16 * v;
		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)a,
			.sel = SEL_CODE64,
			.type = 0x8e,
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
}

void idt_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void interrupt_handler(struct int_frame *f)
{
	if (f->vector == IPI_VECTOR) {
		smp_ap_ipi();
		lapic_eoi();
		return;
	}
	if (f->vector == SPIN_VECTOR) { /* busy, not halted, taking interrupts: until told to stop */
		lapic_eoi();
		ap_spinning = true;
		__asm__ volatile("sti" : : : "memory");
		while (!ap_spin_stop)
			cpu_relax();
		__asm__ volatile("cli" : : : "memory");
		ap_spinning = false;
		return;
	}
	if (f->vector == SCI_VECTOR) {
		hotplug_sci();
		return;
	}
	if (f->vector == SPURIOUS_VECTOR)
		return; /* no EOI for a spurious interrupt (SDM §10.9) */
	if (f->vector == 2 && nmis_expected) { /* IRET ends NMI blocking (SDM §6.7.1) */
		__atomic_fetch_add(&nmis_taken, 1, __ATOMIC_RELAXED);
		return;
	}
	if (f->vector == 13 && gp_fixup) { /* wrmsr_safe(): the #GP it expected */
		f->rip = gp_fixup;
		gp_fixup = 0;
		gp_seen = 1;
		return;
	}

	if (hostile_interrupt(f->vector, &f->rip) || heartbeat_interrupt(f->vector))
		return;

	/* A fault while reporting a fault: say the least and stop. */
	static volatile uint32_t reporting;
	if (__atomic_fetch_add(&reporting, 1, __ATOMIC_RELAXED)) {
		gprintf("mpvm-guest: another %s %lu at RIP 0x%lx\n",
			f->vector < 32 ? "exception" : "unexpected interrupt", f->vector, f->rip);
		guest_exit(1);
	}
	/* Read the ID directly: the APIC may be what failed, so no lookups. */
	uint32_t id = x2apic_mode ? (uint32_t)rdmsr(MSR_X2APIC_ID)
				  : mmio_read32(lapic_base + 0x20) >> 24;
	gprintf("mpvm-guest: %s %lu (0x%lx) on APIC ID %u at RIP 0x%lx, error code 0x%lx, "
		"RSP 0x%lx\n", f->vector < 32 ? "exception" : "unexpected interrupt",
		f->vector, f->vector, id, f->rip, f->error, f->rsp);
	guest_exit(1);
}
