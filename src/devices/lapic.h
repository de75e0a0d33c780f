/*
 * A local APIC device model for --irqchip user (Intel SDM vol. 3A chapter
 * 10, "Advanced Programmable Interrupt Controller"): xAPIC MMIO and x2APIC
 * MSRs, IRR/ISR/TMR and priorities, EOI, the error status register, the
 * ICR (decoded here, delivered by the VMM), the LVT and the timer in its
 * three modes. No KVM: the VMM wires it into the vCPU run loop.
 *
 * Threads. The vCPU thread that owns the APIC does the MMIO and MSR
 * accesses, lapic_ack_vector(), the timer and the resets; any other thread
 * may call lapic_accept_irq(), lapic_dest_info(), lapic_id() and the other
 * getters at the same time. State sits behind a mutex inside struct lapic,
 * and every lapic_ops callback is called after that mutex is released, so
 * a callback may call back into any lapic, this one included (a self-IPI:
 * send_ipi -> lapic_accept_irq on the sender). Callbacks run on the thread
 * that made the call that caused them.
 *
 * Time. The APIC bus (timer input clock) runs at 1 GHz, as KVM's does:
 * one bus cycle is 1 ns, so a timer count of N with divide D lasts N * D ns.
 * Time comes from the caller: lapic_timer_update() is given "now", and
 * register accesses that need it (current count, initial count, divide)
 * ask the clock installed with lapic_set_clock() (CLOCK_MONOTONIC by
 * default), so tests can run on a fake clock.
 */
#ifndef MPVM_DEVICES_LAPIC_H
#define MPVM_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lapic;
struct icr;
struct apic_cpu;

/* APIC bus frequency in kHz (1 GHz, KVM's APIC_BUS_CYCLE_NS = 1). */
#define LAPIC_BUS_KHZ 1000000u

/* IA32_APIC_BASE (MSR 1BH), §10.4.4 Figure 10-5. */
#define LAPIC_MSR_APIC_BASE      0x1bu
#define LAPIC_BASE_BSP           (1ull << 8)
#define LAPIC_BASE_EXTD          (1ull << 10)  /* x2APIC mode (§10.12.1) */
#define LAPIC_BASE_EN            (1ull << 11)
#define LAPIC_BASE_ADDR_MASK     (~0xfffull)
#define LAPIC_DEFAULT_BASE       0xfee00000ull

/* IA32_TSC_DEADLINE (§10.5.4.1) and the x2APIC MSR range (§10.12.1.2). */
#define LAPIC_MSR_TSC_DEADLINE   0x6e0u
#define LAPIC_MSR_X2APIC_FIRST   0x800u
#define LAPIC_MSR_X2APIC_LAST    0x8ffu

/* Register offsets in the xAPIC page (Table 10-1); x2APIC MSR = 0x800 + off/16 (Table 10-6). */
enum {
	LAPIC_REG_ID     = 0x020,
	LAPIC_REG_VER    = 0x030,
	LAPIC_REG_TPR    = 0x080,
	LAPIC_REG_APR    = 0x090,
	LAPIC_REG_PPR    = 0x0a0,
	LAPIC_REG_EOI    = 0x0b0,
	LAPIC_REG_RRD    = 0x0c0,
	LAPIC_REG_LDR    = 0x0d0,
	LAPIC_REG_DFR    = 0x0e0,
	LAPIC_REG_SVR    = 0x0f0,
	LAPIC_REG_ISR    = 0x100,  /* 8 registers, 0x100-0x170 */
	LAPIC_REG_TMR    = 0x180,  /* 0x180-0x1f0 */
	LAPIC_REG_IRR    = 0x200,  /* 0x200-0x270 */
	LAPIC_REG_ESR    = 0x280,
	LAPIC_REG_LVT_CMCI = 0x2f0,
	LAPIC_REG_ICR    = 0x300,  /* low half in xAPIC; the whole 64-bit ICR in x2APIC */
	LAPIC_REG_ICR2   = 0x310,  /* xAPIC only */
	LAPIC_REG_LVT_TIMER = 0x320,
	LAPIC_REG_LVT_THERMAL = 0x330,
	LAPIC_REG_LVT_PERF = 0x340,
	LAPIC_REG_LVT_LINT0 = 0x350,
	LAPIC_REG_LVT_LINT1 = 0x360,
	LAPIC_REG_LVT_ERROR = 0x370,
	LAPIC_REG_TMICT  = 0x380,
	LAPIC_REG_TMCCT  = 0x390,
	LAPIC_REG_TDCR   = 0x3e0,
	LAPIC_REG_SELF_IPI = 0x3f0, /* x2APIC only (MSR 83FH) */
};

#define LAPIC_MSR(off) (LAPIC_MSR_X2APIC_FIRST + ((unsigned)(off) >> 4))

/* Version register: version 14H, 7 LVT entries (max LVT entry 6: CMCI included). */
#define LAPIC_VERSION            0x00060014u
#define LAPIC_VERSION_EOI_SUPPRESS (1u << 24)

/* SVR (§10.9, Figure 10-23). */
#define LAPIC_SVR_ENABLE         (1u << 8)
#define LAPIC_SVR_FOCUS_DISABLE  (1u << 9)
#define LAPIC_SVR_EOI_SUPPRESS   (1u << 12)

/* LVT fields (§10.5.1, Figure 10-8). */
#define LAPIC_LVT_VECTOR(v)      ((uint8_t)((v) & 0xffu))
#define LAPIC_LVT_DELIVERY(v)    (((v) >> 8) & 0x7u)
#define LAPIC_LVT_PENDING        (1u << 12)
#define LAPIC_LVT_POLARITY_LOW   (1u << 13)
#define LAPIC_LVT_REMOTE_IRR     (1u << 14)
#define LAPIC_LVT_LEVEL          (1u << 15)
#define LAPIC_LVT_MASKED         (1u << 16)
#define LAPIC_LVT_TIMER_MODE(v)  (((v) >> 17) & 0x3u)
enum lapic_timer_mode {
	LAPIC_TIMER_ONESHOT = 0,
	LAPIC_TIMER_PERIODIC = 1,
	LAPIC_TIMER_TSC_DEADLINE = 2,
	LAPIC_TIMER_RESERVED = 3,  /* the timer does not run */
};

/* LVT delivery modes (Figure 10-8). */
enum lapic_lvt_delivery {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_EXTINT = 7,
};

/* Error Status Register bits (§10.5.3, Figure 10-9). */
#define LAPIC_ESR_SEND_CHECKSUM    (1u << 0)
#define LAPIC_ESR_RECV_CHECKSUM    (1u << 1)
#define LAPIC_ESR_SEND_ACCEPT      (1u << 2)
#define LAPIC_ESR_RECV_ACCEPT      (1u << 3)
#define LAPIC_ESR_REDIRECTABLE_IPI (1u << 4)
#define LAPIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define LAPIC_ESR_ILLEGAL_REGISTER (1u << 7)

/* The local vector table, for lapic_lvt() and lapic_raise_lvt(). */
enum lapic_lvt {
	LAPIC_LVT_TIMER,
	LAPIC_LVT_THERMAL,
	LAPIC_LVT_PERF,
	LAPIC_LVT_LINT0,
	LAPIC_LVT_LINT1,
	LAPIC_LVT_ERROR,
	LAPIC_LVT_CMCI,
};
#define LAPIC_LVT_COUNT 7

/* Periodic timer periods are at least this long (a guest cannot make the VMM spin). */
#define LAPIC_TIMER_MIN_PERIOD_NS 50000u

struct lapic_ops {            /* callbacks into the VMM, called WITHOUT the lapic lock held; any may be NULL */
	/* A valid ICR write: the VMM resolves destinations (apic_dest_resolve)
	 * and delivers (fixed/lowest -> lapic_accept_irq on targets;
	 * NMI/INIT/SIPI/SMI -> its MP-state machine). */
	void (*send_ipi)(void *opaque, struct lapic *from, const struct icr *icr);
	/* An interrupt became pending in this APIC's IRR (a bit went from 0 to
	 * 1): wake the vCPU / make it look. Also called on the owner thread
	 * (timer, self-IPI, LVT error). */
	void (*kick)(void *opaque, unsigned int vcpu_id);
	/* EOI of a level-triggered vector (TMR bit set): for the IOAPIC's
	 * remote IRR. Not called when EOI-broadcast suppression is on. */
	void (*eoi)(void *opaque, unsigned int vcpu_id, uint8_t vector);
	/* Guest errors: illegal vector, bad ICR, writes to read-only registers... */
	void (*log)(void *opaque, unsigned int vcpu_id, const char *msg);
	/* What lapic_dest_info() reports may have changed (ID, LDR, DFR, SVR,
	 * IA32_APIC_BASE, a reset): the VMM's destination map re-reads this
	 * APIC, as KVM recomputes its APIC map (not called for TPR changes). */
	void (*dest_changed)(void *opaque, unsigned int vcpu_id);
};

/*
 * `apic_id` is the initial (x2)APIC ID; its low 8 bits are the xAPIC ID
 * (§10.12.5.1). An ID above 255 only makes sense in x2APIC mode: the VMM
 * must then switch the APIC to x2APIC with lapic_set_base() after each
 * reset, as firmware would. `bsp` is the reset value of IA32_APIC_BASE.BSP.
 * Returns NULL if out of memory.
 */
struct lapic *lapic_create(unsigned int vcpu_id, uint32_t apic_id, bool bsp,
			   const struct lapic_ops *ops, void *opaque);
void lapic_destroy(struct lapic *l);

/*
 * init=false: power-up / RESET (§10.4.7.1, §10.12.5.1): xAPIC mode, base
 * FEE00000H enabled, BSP as created, ID the initial one, every register at
 * its reset value. init=true: INIT (§10.4.7.3, §10.12.5.1): the same except
 * that the APIC ID, IA32_APIC_BASE and so the mode (xAPIC, x2APIC or
 * disabled) are kept.
 */
void lapic_reset(struct lapic *l, bool init);

/*
 * IA32_APIC_BASE. lapic_set_base() returns -1 (the VMM injects #GP, the
 * value is not taken) for reserved bits (0-7, 9, MAXPHYADDR and up) and for
 * the illegal transitions of §10.12.5 Figure 10-27: to EN=0 EXTD=1, x2APIC
 * -> xAPIC, disabled -> x2APIC.
 */
uint64_t lapic_get_base(struct lapic *l);
int lapic_set_base(struct lapic *l, uint64_t value);
/* The guest's physical-address width (CPUID 80000008H EAX[7:0]) for the
 * reserved-bit check of IA32_APIC_BASE; 52 until set. */
void lapic_set_maxphyaddr(struct lapic *l, unsigned int bits);
/* EN=1 (globally enabled, either mode). A disabled APIC takes no interrupt
 * of any kind, INIT and SIPI included: the VMM leaves it out of delivery. */
bool lapic_hw_enabled(struct lapic *l);
bool lapic_x2apic_mode(struct lapic *l);
/* EN=1 and EXTD=0: the MMIO page at (base & ~0xfff) answers. */
bool lapic_xapic_mmio_enabled(struct lapic *l);

/*
 * xAPIC MMIO, `offset` within the 4 KiB page. Registers are 32 bits at
 * 16-byte aligned offsets. Reads of any size and alignment work byte by
 * byte (bytes 4-15 of a register's slot read 0). Writes must be 4 bytes at
 * a 16-byte aligned offset; anything else is ignored and logged (the SDM
 * makes smaller accesses model specific, §10.4.1). Reserved offsets read 0,
 * ignore writes and set ESR "illegal register address". When the page is
 * not enabled (x2APIC mode or disabled), reads give 0 and writes are
 * ignored.
 */
void lapic_mmio_read(struct lapic *l, uint32_t offset, void *data, unsigned int len);
void lapic_mmio_write(struct lapic *l, uint32_t offset, const void *data, unsigned int len);

/*
 * x2APIC MSRs 800H-8FFH (§10.12.1.2, Table 10-6). -1 means #GP: not in
 * x2APIC mode, an MSR with no register, RDMSR of a write-only register
 * (EOI, SELF IPI), WRMSR of a read-only one, reserved bits set
 * (§10.12.1.3; bits 63:32 of all but the ICR), a non-zero EOI or ESR write.
 */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value);

/*
 * IA32_TSC_DEADLINE (§10.5.4.1): reads 0 and ignores writes unless the LVT
 * timer is in TSC-deadline mode; 0 disarms; a deadline at or before
 * `guest_tsc_now` fires at once.
 */
uint64_t lapic_get_tsc_deadline(struct lapic *l);
void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc_value, uint64_t guest_tsc_now);

/*
 * A fixed or lowest-priority interrupt that reached this APIC (IPI,
 * IOAPIC, MSI). Sets IRR, and TMR for level / clears it for edge (§10.8.4).
 * Returns false if dropped: APIC disabled (EN=0) or software-disabled
 * (§10.4.7.2), or an illegal vector < 16 (ESR "receive illegal vector",
 * the LVT error interrupt if unmasked). Any thread.
 */
bool lapic_accept_irq(struct lapic *l, uint8_t vector, bool level_trigger);

/* An LVT entry as the guest wrote it (delivery status and remote IRR read 0). */
uint32_t lapic_lvt(struct lapic *l, enum lapic_lvt which);
/*
 * A local interrupt source (LINT0/1 pin, thermal sensor, performance
 * counter overflow, CMCI) fired. Masked: returns -1. Fixed delivery: sets
 * the vector in IRR (kick) and returns LAPIC_DM_FIXED. Otherwise returns
 * the delivery mode (SMI, NMI, INIT, ExtINT) for the VMM to carry out.
 */
int lapic_raise_lvt(struct lapic *l, enum lapic_lvt which);

/*
 * For the VMM to record an error it detected while delivering this APIC's
 * IPI (ESR bits, e.g. LAPIC_ESR_SEND_ACCEPT when no APIC took it): latched
 * into the ESR, LVT error interrupt if unmasked.
 */
void lapic_set_error(struct lapic *l, uint32_t esr_bits);

/* The highest pending vector whose priority class is above PPR[7:4] (§10.8.3.1), or -1. */
int lapic_pending_vector(struct lapic *l);
/* The CPU took `vector` (the VMM injected it): IRR -> ISR (§10.8.4). Logged and ignored if not in IRR. */
void lapic_ack_vector(struct lapic *l, uint8_t vector);

/* TPR, for the VMM to keep CR8 (= TPR[7:4], §10.8.6.1) and the APIC in step. */
uint8_t lapic_get_tpr(struct lapic *l);
void lapic_set_tpr(struct lapic *l, uint8_t tpr);
uint8_t lapic_get_ppr(struct lapic *l);

/*
 * Timer (§10.5.4). lapic_timer_next_ns(): absolute ns of the next expiry
 * on the installed clock, 0 = none (may be in the past: call update).
 * lapic_timer_update(): fires what is due at `now_ns` (on the clock given
 * to lapic_set_clock()) / `guest_tsc_now`:
 * sets the LVT timer vector in IRR unless masked (kick), re-arms a
 * periodic timer (missed periods coalesce into one interrupt), disarms a
 * one-shot or TSC-deadline one.
 */
uint64_t lapic_timer_next_ns(struct lapic *l);
void lapic_timer_update(struct lapic *l, uint64_t now_ns, uint64_t guest_tsc_now);
/*
 * The clock for current-count reads and arming: now_ns() (NULL: the
 * CLOCK_MONOTONIC default), tsc_now() (may be NULL) returning the guest
 * TSC, which runs at tsc_khz (0: unknown; TSC-deadline mode then polls
 * every 1 ms). Called with the lapic lock held: must not call into it.
 */
void lapic_set_clock(struct lapic *l, uint64_t (*now_ns)(void *), uint64_t (*tsc_now)(void *),
		     uint64_t tsc_khz, void *clock_opaque);

/*
 * Offer EOI-broadcast suppression (version bit 24, SVR bit 12 writable,
 * §10.8.5): only if the VMM's IOAPIC has the directed-EOI register. Off
 * after create; kept across resets.
 */
void lapic_set_eoi_suppression(struct lapic *l, bool supported);

/* For destination resolution (core/apic_dest.h): ID, mode, LDR, DFR, SVR bit 8 (false if EN=0), PPR. */
void lapic_dest_info(struct lapic *l, struct apic_cpu *out);
/* The APIC ID in the current mode: xAPIC ID register[31:24], or the 32-bit x2APIC ID. */
uint32_t lapic_id(struct lapic *l);
unsigned int lapic_vcpu_id(const struct lapic *l);

/*
 * What a snapshot keeps of a local APIC (kvm/irqchip_user.c): the
 * architectural registers and the timer, whose times are the now_ns
 * clock's (VM time, which a restore continues).
 */
struct lapic_state {
	uint64_t base, icr;
	uint32_t id_reg, tpr, ldr, dfr, svr, esr_pending, esr, tmict, tdcr, pad;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t lvt[LAPIC_LVT_COUNT], timer_armed;
	uint64_t timer_start_ns, timer_period_ns, tsc_deadline, deadline_ns;
};

void lapic_save(struct lapic *l, struct lapic_state *s);
/*
 * -1 with the reason in err (reserved IA32_APIC_BASE bits, x2APIC without
 * the enable bit, a divide configuration with reserved bits); l unchanged
 * then. Calls dest_changed, as an ID or mode change does.
 */
int lapic_load(struct lapic *l, const struct lapic_state *s, char *err, size_t errlen);

/*
 * A saved timer (lapic_timer.c), for converting to and from another local
 * APIC's state (lapic_kvm.h). now_ns is on the saved clock.
 *
 * lapic_state_timer_count(): the current count (TMCCT) at now_ns.
 * lapic_state_set_timer_count(): the one-shot or periodic timer of s
 * (LVT timer, TMICT, TDCR already set) counting from `ccr` at now_ns;
 * a one-shot at 0 has expired, a periodic one at 0 (or above TMICT)
 * starts a full period.
 * lapic_state_set_tsc_deadline(): in TSC-deadline mode, the timer armed
 * for `deadline` (0: disarmed) when the TSC reads tsc_now at now_ns.
 */
uint32_t lapic_state_timer_count(const struct lapic_state *s, uint64_t now_ns);
void lapic_state_set_timer_count(struct lapic_state *s, uint32_t ccr, uint64_t now_ns);
void lapic_state_set_tsc_deadline(struct lapic_state *s, uint64_t deadline, uint64_t tsc_now, uint64_t tsc_khz,
				  uint64_t now_ns);

#endif
