/*
 * The built-in test guest: constants shared by its C and assembly files, and
 * the C declarations. The part above __ASSEMBLER__ must stay plain #defines
 * (the .S files include it); src/core/guest_abi.h is the contract with mpvm
 * and is included by the C files only, since it declares a struct.
 */
#ifndef GUEST_H
#define GUEST_H

/* Our own GDT (entry.S). The first three match the boot GDT's selectors. */
#define SEL_CODE64 0x08
#define SEL_DATA   0x10 /* flat data, used in 64-bit mode */
#define SEL_CODE32 0x18 /* AP trampoline, protected mode */
#define SEL_DATA32 0x20 /* AP trampoline, protected mode */

#define MAX_CPUS    1024
#define MAX_APIC_ID 1024 /* APIC IDs 0..1023: per-APIC-ID arrays are indexed by it */
#define STACK_SIZE  4096 /* one per CPU index, in .stacks (never zeroed) */
#define BSP_STACK_SIZE 16384

#define IPI_VECTOR      0x40
#define SPIN_VECTOR     0x41 /* scenario=nmi-storm: the AP spins in the handler, interrupts on */
#define HEARTBEAT_VECTOR 0x42 /* scenario=heartbeat: each CPU's local APIC timer */
#define SCI_VECTOR      0x50 /* scenario=hotplug sci=1: the ACPI SCI, I/O APIC pin 9 */
#define SPURIOUS_VECTOR 0xff

/*
 * Low memory the guest uses (guest_abi.h: 0x8000-0x7ffff is ours). A SIPI
 * starts an AP in real mode at vector << 12, so the trampoline is copied to
 * page-aligned addresses below 1 MiB; the AP entry records must be reachable
 * from real mode too, so they live below 1 MiB as well.
 */
#define TRAMP_ADDR    0x8000  /* SIPI vector 0x08 */
#define TRAMP2_ADDR   0xa000  /* SIPI vector 0x0a (scenario=reinit) */
#define APREC_ADDR    0x10000 /* per-APIC-ID records written in real mode */
#define APREC_ENTRIES 0x0000  /* u32[MAX_APIC_ID]: trampoline entries */
#define APREC_CS      0x1000  /* u16[MAX_APIC_ID]: CS the AP started with */
#define APREC_SIZE    0x1800

/* The data block at the end of the trampoline, patched by the BSP per copy. */
#define TD_GDTR      0  /* u16 limit, u32 base (lgdtl operand) */
#define TD_FAR32     8  /* u32 offset, u16 selector: into protected mode */
#define TD_FAR64     16 /* u32 offset, u16 selector: into 64-bit mode */
#define TD_CR3       24 /* u32 */
#define TD_EFER      28 /* u32: LME (and NXE if the BSP has it) */
#define TD_APIC_BASE 32 /* u32: linear address of the xAPIC MMIO page */
#define TD_APREC_SEG 36 /* u16: real-mode segment of the AP records */
#define TD_X2APIC    38 /* u8: 1 = x2APIC mode (IDs from CPUID 0xb, MSRs) */
#define TD_SIZE      40

#define MSR_APIC_BASE     0x1b
#define APIC_BASE_BSP     (1 << 8)
#define APIC_BASE_EXTD    (1 << 10) /* x2APIC mode */
#define APIC_BASE_EN      (1 << 11)
#define MSR_X2APIC_ID     0x802
#define MSR_EFER          0xc0000080
#define EFER_LME          (1 << 8)
#define EFER_NXE          (1 << 11)
#define CR0_PE            (1 << 0)
#define CR0_NW            (1 << 29)
#define CR0_CD            (1 << 30)
#define CR0_PG            (1 << 31)
#define CR4_PAE           (1 << 5)

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_abi.h"

/* serial.c: console, output lock, exit */
void serial_init(void);
__attribute__((format(printf, 1, 2))) void gprintf(const char *fmt, ...);
__attribute__((noreturn)) void guest_exit(int status);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* acpi.c: the CPU list, from the ACPI MADT or the MP table */
struct cpu_list {
	unsigned n;                 /* enabled CPUs */
	uint32_t apic_id[MAX_CPUS];
	bool mp_bp[MAX_CPUS];       /* MP table: the entry's BP flag */
	bool has_bp;                /* mp_bp[] is meaningful (a real MP table) */
	const char *source;         /* "ACPI MADT" or "MP table" */
	uint64_t addr;              /* of the MADT or the MP config table */
};
bool acpi_find_cpus(struct cpu_list *cl);
bool mptable_find_cpus(struct cpu_list *cl);

/* lapic.c: local APIC and TSC time */
extern uint64_t tsc_khz;
extern bool x2apic_mode;
extern uint64_t lapic_base;
bool time_init(void);
uint64_t us_to_tsc(uint64_t us);
uint64_t tsc_to_us(uint64_t tsc);
void delay_us(uint64_t us);
void lapic_enable(void);
uint32_t lapic_id(void);
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
void lapic_eoi(void);
bool lapic_send_ipi(uint32_t dest, uint32_t icr_low);

/*
 * ICR low fields (SDM vol. 3A §10.6.1, Figure 10-12): vector 7:0, delivery
 * mode 10:8, destination mode 11 (0 = physical), delivery status 12, level
 * 14, trigger mode 15, destination shorthand 19:18.
 */
#define ICR_FIXED        (0u << 8)
#define ICR_NMI          (4u << 8)
#define ICR_INIT         (5u << 8)
#define ICR_STARTUP      (6u << 8)
#define ICR_BUSY         (1u << 12)
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

/* fault.c: deliberate faults for mpvm's fault-reporting tests */
enum fault { FAULT_NONE, FAULT_TRIPLE, FAULT_BAD_PORT, FAULT_BAD_MMIO, FAULT_BAD_FETCH };
extern volatile int ap_fault;
void do_fault(enum fault kind);

/* idt.c */
void idt_load(void);
void idt_init(void);

/* smp.c: AP bring-up and the tests on running APs */
extern struct cpu_list cpus;
/* CPUID 0BH's SMT and core levels as one CPU reads them. */
struct topo_leaf {
	bool valid;
	uint32_t smt_shift, pkg_shift; /* bits below the core number, below the package number */
	uint32_t threads, per_pkg;     /* logical processors per core, per package */
	uint32_t x2apic_id;
};

void smp_prepare(uint32_t bsp_apic_id);
unsigned smp_start_each(unsigned count);
unsigned smp_start_broadcast(void);
void smp_second_sipi(void);
void smp_reinit(void);
unsigned smp_ipi_round(unsigned round);
unsigned smp_online(void);
void smp_final_check(void);
uint64_t smp_ram_needed(void);
void smp_ap_ipi(void);
extern bool ap_io_on_ipi;
int smp_add_cpu(uint32_t apic_id);
int64_t smp_bring_up(unsigned i);
void smp_park(unsigned i);
bool smp_ping(unsigned i);

/* hotplug.c: scenario=hotplug */
__attribute__((noreturn)) void hotplug_run(unsigned events, bool sci);
void hotplug_sci(void);

/* bench.c: scenario=ipi-bench */
#define BENCH_MAX_ROUNDS 10000
void bench_ipi(unsigned rounds, bool spin);

/* hostile.c: scenario=hostile-mp|hostile-ipi|hostile-apic|hostile-io */
enum hostile { HOSTILE_NONE, HOSTILE_MP, HOSTILE_IPI, HOSTILE_APIC, HOSTILE_IO };
void hostile_run(enum hostile which);
bool hostile_interrupt(uint64_t vector, uint64_t *rip); /* true: handled (idt.c) */
uint32_t smp_checkins(unsigned i); /* smp.c: times CPU index i ran ap_main */

/* heartbeat.c: scenario=heartbeat (for --control) */
extern volatile bool heartbeat_on;
void heartbeat_prepare(void);
void heartbeat_start_cpu(void);
bool heartbeat_interrupt(uint64_t vector); /* true: handled (idt.c) */
__attribute__((noreturn)) void heartbeat_run(void);

/* flood.c: scenario=console-flood bytes=N */
bool flood_parse_bytes(const char *s, size_t len, uint64_t *out);
__attribute__((noreturn)) void console_flood(uint64_t bytes);

/*
 * smp.c: hold=STAGE (mpvm's snapshot tests): the BSP stops at that point of
 * starting the APs, prints "mpvm-guest: hold STAGE", and goes on when a
 * byte arrives on COM1. start: no AP started yet; init: the first AP has
 * had its INIT, not its SIPI; sipi: the first AP has had its SIPIs and may
 * not have checked in; online: every AP checked in, before the IPIs.
 */
enum guest_hold { HOLD_NONE, HOLD_START, HOLD_INIT, HOLD_SIPI, HOLD_ONLINE };
extern enum guest_hold guest_hold;
void smp_hold(enum guest_hold at);
uint8_t serial_getc(void); /* serial.c: waits for a byte on COM1 */

extern unsigned failures;
extern uint64_t ap_timeout_ms;
#define FAIL(...) do { failures++; gprintf("mpvm-guest: FAIL: " __VA_ARGS__); } while (0)

/* Entered from assembly. */
void bsp_main(const struct mpvm_boot_info *bi);
void ap_main(uint32_t lapic_id, uint32_t cpuid_id, uint32_t start_cs);
struct int_frame;
void interrupt_handler(struct int_frame *f);

/* entry.S, trampoline.S */
extern char isr_stubs[];
extern char gdt[], gdt_end[];
extern char tramp_start[], tramp_pm32[], tramp_lm64[], tramp_data[], tramp_end[];
extern char ap_stacks[]; /* MAX_CPUS stacks of STACK_SIZE, AP i uses the (i+1)-th top */
extern uint64_t ap_stack_top[MAX_APIC_ID];

#endif /* __ASSEMBLER__ */
#endif
