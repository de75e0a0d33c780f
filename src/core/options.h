/*
 * Command-line options of `mpvm run`, parsed without touching KVM so that
 * unit tests drive every case. Limits that depend on the host (KVM's
 * maximum vCPU count) are checked afterwards by options_check_host().
 */
#ifndef MPVM_CORE_OPTIONS_H
#define MPVM_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/cpu_features.h"
#include "core/topology.h"

enum irqchip_mode {
	IRQCHIP_KERNEL, /* KVM_CREATE_IRQCHIP: LAPICs, IOAPIC, PIC in KVM */
	IRQCHIP_SPLIT,  /* LAPICs in KVM, IOAPIC and PIC in mpvm */
	IRQCHIP_USER,   /* everything, MP state included, in mpvm */
};

/*
 * What a guest access to an I/O port no device claims does. A PC's ISA bus
 * floats (reads all ones, writes vanish), and Linux probes many absent
 * devices that way; mpvm's own guests never should.
 */
/* --seccomp: the system-call filters of mpvm's threads (kvm/sandbox.c). */
enum seccomp_mode {
	SECCOMP_ON,  /* a forbidden call stops mpvm with a message naming it (the default) */
	SECCOMP_LOG, /* a forbidden call is logged by the kernel and allowed */
	SECCOMP_OFF, /* no filters */
};

enum unknown_io {
	UNKNOWN_IO_AUTO,   /* ignore for Linux kernels and --bios, fault otherwise */
	UNKNOWN_IO_FAULT,  /* stop the VM with a guest-fault report */
	UNKNOWN_IO_IGNORE, /* reads all ones, writes dropped; counted in the report */
};

#define OPT_DEFAULT_MEMORY (256ull << 20)
#define OPT_MIN_MEMORY (16ull << 20)
#define OPT_MAX_MEMORY (1ull << 40)
/* Upper bound before the host is asked; KVM_CAP_MAX_VCPUS narrows it. */
#define OPT_MAX_CPUS 4096u

/* Room for the machine-shaping arguments: each such option at most twice (name, value). */
#define OPT_SHAPE_ARGS_MAX 48

struct mpvm_options {
	unsigned int cpus;
	struct cpu_topology topology; /* --cpus N,sockets=,cores=,threads=; cpus == topology.cpus */
	uint64_t memory;           /* bytes */
	unsigned int boot_cpu;
	enum irqchip_mode irqchip;
	const char *report_path;   /* NULL: no JSON report */
	const char *trace_path;    /* --trace: NULL: no trace */
	const char *cmdline;       /* passed to the guest */
	unsigned int timeout_ms;   /* 0: none */
	bool no_acpi;
	bool no_mptable;
	const char *kernel;        /* --kernel: bzImage, PVH vmlinux or multiboot ELF; NULL: the built-in guest */
	const char *initrd;        /* --initrd: Linux's initrd or a multiboot kernel's one module */
	bool debug_exit;           /* --debug-exit[=PORT]: isa-debug-exit */
	uint16_t debug_exit_port;
	bool pc_testdev;           /* --pc-testdev: pc-testdev's I/O register at 0xe0, IRQ lines at 0x2000 */
	bool no_x2apic;            /* --no-x2apic: CPUID.1:ECX.x2APIC clear */
	bool legacy_pc;            /* --legacy-pc: PIC, PIT and real-mode IVT as a BIOS leaves them */
	const char *cpu_features;  /* --cpu-features LIST: NULL = host (all KVM supports) */
	struct cpu_feature_set cpu_feature_set; /* LIST, parsed */
	bool cpu_features_help;    /* --cpu-features help */
	const char *bios;          /* --bios FILE: raw firmware image below 4 GiB */
	enum unknown_io unknown_io; /* --unknown-io */
	enum seccomp_mode seccomp;  /* --seccomp */
	const char *stop_on;       /* --stop-on TEXT: end with status 0 when the console prints TEXT */
	const char *control_path;  /* --control PATH: the QMP socket (kvm/control.c); NULL: none */
	bool reboot;               /* --reboot: a guest's reset resets the VM in place (kvm/reset.c) */
	const char *restore_path;  /* --restore FILE: start from a snapshot (kvm/snapshot.c); NULL: boot */
	const char *snapshot_on;   /* --snapshot-on TEXT PATH: when the console prints TEXT ... */
	const char *snapshot_on_path; /* ... a snapshot goes to PATH and the VM ends */
	/* The arguments that shape the machine, as typed: a snapshot keeps them (options_shape_args()). */
	int shape_argc;
	const char *shape_argv[OPT_SHAPE_ARGS_MAX];
	unsigned int ap_watchdog_ms; /* --ap-watchdog MS: VCPU_STUCK on the control socket; 0: off */
	bool help;
};

/*
 * How an option takes its value: never (a flag), always (`--opt VALUE` or
 * `--opt=VALUE`), or only after '=' (`--debug-exit[=PORT]`, so that the
 * argument after it is never mistaken for its value).
 */
enum run_option_value {
	OPT_FLAG,
	OPT_VALUE,
	OPT_OPTIONAL_VALUE,
	OPT_TWO_VALUES,     /* `--opt A B`: set() gets A, set2() B */
};

struct run_option;

/* Applies val (NULL for a flag or an omitted optional value) to o. */
typedef int run_option_setter(const struct run_option *opt, const char *val,
			      struct mpvm_options *o, char *err, size_t errlen);

/*
 * One option of `mpvm run`. The table of these is the only list of options:
 * the parser looks names up in it and --help prints it, so the two cannot
 * disagree. It is public so that tests can walk it.
 */
struct run_option {
	const char *name;          /* as typed and as messages print it: "--cpus" */
	enum run_option_value value;
	const char *arg;           /* the value's placeholder in --help; NULL for a flag */
	run_option_setter *set;
	run_option_setter *set2;   /* OPT_TWO_VALUES: the second value */
	size_t field;              /* offsetof the member the shared setters fill */
	bool shapes;               /* shapes the machine: kept in a snapshot, refused with --restore */
	const char *help;          /* one sentence; --help wraps it */
};

extern const struct run_option options_run_table[];
extern const size_t options_run_count;

/*
 * Parses the arguments after `run`. Returns 0, or -1 with a message in err
 * that names the option and what is allowed.
 */
int options_parse_run(int argc, char *const argv[], struct mpvm_options *o,
		      char *err, size_t errlen);

/*
 * `mpvm run --restore FILE ARGS`: `saved` (len bytes, NUL-separated
 * arguments) is the snapshot's machine-shaping arguments, ARGS the ones
 * typed now. ARGS may not shape the machine (the snapshot does); both are
 * parsed as one command line. The saved arguments are copied (o points
 * into the copy). Returns 0, or -1 with a message in err.
 */
int options_parse_restore(const char *saved, size_t len, int argc, char *const argv[], struct mpvm_options *o,
			  char *err, size_t errlen);

/* Checks the options against the host's limit; -1 with a message in err. */
int options_check_host(const struct mpvm_options *o, unsigned int max_vcpus,
		       char *err, size_t errlen);

/* Parses "256M", "1G", "65536", "64K": -1 if malformed or out of range. */
int parse_size(const char *s, uint64_t *out);

const char *irqchip_mode_name(enum irqchip_mode m);

/* Writes `mpvm run --help`: a synopsis, then every option with its help. */
void options_print_usage(FILE *f);

#endif
