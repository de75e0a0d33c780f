/* What the VM tells at its end (vm_report(), vm.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/report.h"
#include "devices/serial.h"
#include "kvm/irqchip.h"
#include "kvm/vcpu.h"
#include "core/clock.h"
#include "kvm/vm.h"

const char *vm_stop_name(int reason)
{
	switch (reason) {
	case VM_STOP_GUEST_EXIT: return "guest-exit";
	case VM_STOP_GUEST_RESET: return "guest-reset";
	case VM_STOP_GUEST_FAULT: return "guest-fault";
	case VM_STOP_HOST_ERROR: return "host-error";
	case VM_STOP_TIMEOUT: return "timeout";
	case VM_STOP_CONSOLE_TEXT: return "stop-on";
	case VM_STOP_SIGNAL: return "signal";
	case VM_STOP_QMP_QUIT: return "qmp-quit";
	case VM_STOP_SNAPSHOT: return "snapshot";
	default: return "running";
	}
}

/* After the thread is joined: its MP state, exits and the time in each thread state. */
static void vcpu_report_fill(struct vcpu *c, struct vcpu_report *r)
{
	*r = (struct vcpu_report){
		.id = c->id, .apic_id = c->apic_id, .bsp = c->bsp,
		.absent = !atomic_load(&c->present),
		.mp_state = c->run ? c->vm->irqchip->mp_state(c) : MP_STATE_UNINITIALIZED,
		.exits = c->exits, .history = &c->mp,
		.thread_state = vcpu_state_name(c->state_at_stop),
	};
	for (uint32_t k = 0; k < VCPU_EXIT_REASONS && r->nexit_reasons < REPORT_EXIT_REASONS_MAX - 1; k++)
		if (c->exits_by_reason[k])
			r->exit_reasons[r->nexit_reasons++] = (struct report_count){
				.name = k == VCPU_EXIT_REASONS - 1 ? "other" : vcpu_exit_reason_name(k),
				.n = c->exits_by_reason[k],
			};
	if (c->interrupted)
		r->exit_reasons[r->nexit_reasons++] = (struct report_count){ .name = "interrupted", .n = c->interrupted };
	for (unsigned int s = 0; s < VCPU_STATE_COUNT && s < REPORT_THREAD_STATES_MAX; s++) {
		if (s == VCPU_STATE_EXITED)
			continue;
		r->thread_time[r->nthread_time++] = (struct report_state_time){
			.state = vcpu_state_name((enum vcpu_thread_state)s), .ns = c->state_ns[s],
		};
	}
}

int vm_report(struct vm *vm, uint64_t process_start_ns)
{
	const struct mpvm_options *o = vm->opts;
	struct vcpu_report *v = calloc(vm->ncpus, sizeof(*v));
	const struct vcpu *bsp = &vm->vcpus[o->boot_cpu];
	struct vm_report r = {
		.ncpus = vm->ncpus,
		.boot_cpu = o->boot_cpu,
		.irqchip = irqchip_mode_name(o->irqchip),
		.stop = vm_stop_name(atomic_load(&vm->stop_reason)),
		.exit_status = vm->exit_status,
		/* From the VM's creation: after --restore VM time started earlier (snapshot.c). */
		.start_to_vm_ns = vm->created_ns - process_start_ns,
		.first_run_ns = bsp->first_run_ns ? bsp->first_run_ns + vm->t0_ns - vm->created_ns : 0,
		.first_exit_ns = bsp->first_exit_ns ? bsp->first_exit_ns + vm->t0_ns - vm->created_ns : 0,
		.run_ns = monotonic_ns() - vm->created_ns,
		.vcpus = v,
	};
	char err[512];
	int ret = 0;

	if (!v) {
		fprintf(stderr, "mpvm: out of memory for the report\n");
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_report_fill(&vm->vcpus[i], &v[i]);
	report_print(stderr, &r);
	if (vm->com1 && serial_describe_line(vm->com1, err, sizeof(err)))
		fprintf(stderr, "mpvm: COM1: the guest programmed %s\n", err);
	if (vm->com1 && serial_output_dropped(vm->com1))
		fprintf(stderr, "mpvm: COM1: stdout did not take %llu bytes of the guest's output by the stop: dropped\n",
			(unsigned long long)serial_output_dropped(vm->com1));
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
