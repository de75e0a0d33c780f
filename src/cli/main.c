/*
 * mpvm's command line: parse, create the VM, run it, report. Everything
 * else lives in core/ (KVM-free), kvm/ and devices/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/bios_image.h"
#include "core/cpu_features.h"
#include "core/linux_boot.h"
#include "core/clock.h"
#include "core/options.h"
#include "kvm/vm.h"

static const char usage[] =
	"usage: mpvm run [options]     run a VM (mpvm run --help lists the options)\n"
	"       mpvm --help            this text\n";

static int cmd_run(int argc, char **argv, uint64_t process_start_ns)
{
	struct mpvm_options opts;
	struct vm vm;
	char err[512];
	int status;

	if (options_parse_run(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.help) {
		options_print_usage(stdout);
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
	/* The report is written after the run: a path it cannot be written to would lose the run. */
	if (opts.report_path && atomic_file_check(opts.report_path, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --report %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	vm_setup_signals();

	if (vm_create(&vm, &opts)) {
		vm_destroy(&vm);
		return MPVM_EXIT_HOST_ERROR;
	}
	vm.confine_main = true; /* from here on the main thread only waits, reports and ends */
	status = vm_run(&vm);
	if (vm_report(&vm, process_start_ns) && status == 0)
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
