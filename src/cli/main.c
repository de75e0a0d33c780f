/*
 * mpvm's command line: parse, create the VM, run it, report. Everything
 * else lives in core/ (KVM-free), kvm/ and devices/.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bios_image.h"
#include "core/cpu_features.h"
#include "core/linux_boot.h"
#include "core/options.h"
#include "core/report.h"
#include "devices/serial.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

static const char usage[] =
	"usage: mpvm run [options]     run a VM (mpvm run --help lists the options)\n"
	"       mpvm --help            this text\n";

static const char *stop_name(int reason)
{
	switch (reason) {
	case VM_STOP_GUEST_EXIT: return "guest-exit";
	case VM_STOP_GUEST_RESET: return "guest-reset";
	case VM_STOP_GUEST_FAULT: return "guest-fault";
	case VM_STOP_HOST_ERROR: return "host-error";
	case VM_STOP_TIMEOUT: return "timeout";
	case VM_STOP_CONSOLE_TEXT: return "stop-on";
	case VM_STOP_SIGNAL: return "signal";
	default: return "running";
	}
}

static int report(struct vm *vm, uint64_t process_start_ns, uint64_t run_ns)
{
	const struct mpvm_options *o = vm->opts;
	struct vcpu_report *v = calloc(vm->ncpus, sizeof(*v));
	const struct vcpu *bsp = &vm->vcpus[o->boot_cpu];
	struct vm_report r = {
		.ncpus = vm->ncpus,
		.boot_cpu = o->boot_cpu,
		.irqchip = irqchip_mode_name(o->irqchip),
		.stop = stop_name(atomic_load(&vm->stop_reason)),
		.exit_status = vm->exit_status,
		.start_to_vm_ns = vm->t0_ns - process_start_ns,
		.first_run_ns = bsp->first_run_ns,
		.first_exit_ns = bsp->first_exit_ns,
		.run_ns = run_ns,
		.vcpus = v,
	};
	char err[512];
	int ret = 0;

	if (!v) {
		fprintf(stderr, "mpvm: out of memory for the report\n");
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		const struct vcpu *c = &vm->vcpus[i];

		v[i] = (struct vcpu_report){
			.id = c->id, .apic_id = c->apic_id, .bsp = c->bsp,
			.mp_state = mp_history_last(&c->mp, MP_STATE_UNINITIALIZED),
			.exits = c->exits, .history = &c->mp,
		};
	}
	report_print(stderr, &r);
	if (vm->com1 && serial_describe_line(vm->com1, err, sizeof(err)))
		fprintf(stderr, "mpvm: COM1: the guest programmed %s\n", err);
	vm_format_unknown_io(vm, err, sizeof(err));
	if (*err)
		fprintf(stderr, "mpvm: note: %s\n", err);
	if (o->report_path && report_write_json(o->report_path, &r, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --report %s\n", err);
		ret = -1;
	}
	free(v);
	return ret;
}

static int cmd_run(int argc, char **argv, uint64_t process_start_ns)
{
	struct mpvm_options opts;
	struct vm vm;
	sigset_t block;
	char err[512];
	int status;

	if (options_parse_run(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.help) {
		fputs(options_run_usage, stdout);
		return 0;
	}
	if (opts.cpu_features_help) {
		cpu_features_help(stdout);
		return 0;
	}
	/* A bad kernel or initrd is bad input: say so before KVM is touched. */
	if (opts.kernel && kernel_check_files(opts.kernel, opts.initrd, opts.cmdline, opts.memory,
					  err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.bios && bios_image_check(opts.bios, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	/*
	 * Signals: the main thread takes SIGINT/SIGTERM/SIGHUP and the VM's
	 * own wake-up (SIGUSR2) with sigwait; vCPU threads take only the kick.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	signal(SIGPIPE, SIG_IGN);
	vcpu_install_kick_handler();

	if (vm_create(&vm, &opts)) {
		vm_destroy(&vm);
		return MPVM_EXIT_HOST_ERROR;
	}
	status = vm_run(&vm);
	if (report(&vm, process_start_ns, vm_now_ns(&vm)) && status == 0)
		status = MPVM_EXIT_HOST_ERROR;
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t start = monotonic_ns();

	if (argc < 2) {
		fputs(usage, stderr);
		return MPVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2, start);
	fprintf(stderr, "mpvm: unknown command '%s'\n%s", argv[1], usage);
	return MPVM_EXIT_USAGE;
}
