/*
 * The control socket's mpvm-fault (README.md, "The control socket"): the
 * next K INIT or SIPI messages to one vCPU dropped, delayed or duplicated,
 * where mpvm delivers them. That is --irqchip user only: with KVM's local
 * APICs (kernel, split) a guest's IPI goes from one local APIC to another
 * inside KVM, and mpvm never sees it, so the command is refused there.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "core/ipi_fault.h"
#include "kvm/control_internal.h"
#include "kvm/irqchip.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* Bounds: a fault is a test's tool; a delay of 10 minutes or a million messages is a typo. */
#define FAULT_MAX_COUNT 1000000
#define FAULT_MAX_DELAY_MS 600000

void control_fault(struct control *c, const struct qmp_call *call, struct json_object **ret, char *err,
		   size_t errlen)
{
	const struct irqchip_ops *chip = c->vm->irqchip;
	int64_t cpu = qmp_arg_int(call, "cpu-index", -1), count = qmp_arg_int(call, "count", 1);
	int64_t delay_ms = qmp_arg_int(call, "delay-ms", -1), seed = qmp_arg_int(call, "seed", 0);
	const char *type = qmp_arg_string(call, "type"), *action_word = qmp_arg_string(call, "action");
	enum ipi_fault_action action = ipi_fault_action_of(action_word);
	unsigned int kinds = !strcmp(type, "init") ? IPI_FAULT_INIT : !strcmp(type, "sipi") ? IPI_FAULT_SIPI
			   : !strcmp(type, "any") ? IPI_FAULT_INIT | IPI_FAULT_SIPI : 0;
	struct json_object *r;
	uint64_t before;

	if (!chip->set_ipi_fault) {
		snprintf(err, errlen, "mpvm-fault needs --irqchip user: with --irqchip %s KVM's local APICs "
			 "deliver the guest's INIT and SIPI messages inside KVM, where mpvm cannot touch them",
			 irqchip_mode_name(c->vm->opts->irqchip));
		return;
	}
	if (cpu < 0 || cpu >= (int64_t)c->vm->ncpus) {
		snprintf(err, errlen, "Parameter 'cpu-index' is out of range: %lld (this VM has vCPUs 0 to %u)",
			 (long long)cpu, c->vm->ncpus - 1);
		return;
	}
	if (!kinds) {
		snprintf(err, errlen, "Parameter 'type' must be init, sipi or any, not '%.32s'", type);
		return;
	}
	if (action == IPI_FAULT_PASS) {
		snprintf(err, errlen, "Parameter 'action' must be drop, delay or duplicate, not '%.32s'", action_word);
		return;
	}
	if (count < 0 || count > FAULT_MAX_COUNT) {
		snprintf(err, errlen, "Parameter 'count' is out of range: %lld (0 to %d; 0 clears the fault)",
			 (long long)count, FAULT_MAX_COUNT);
		return;
	}
	if (action == IPI_FAULT_DROP && qmp_arg_has(call, "delay-ms")) {
		snprintf(err, errlen, "Parameter 'delay-ms' is only for actions delay and duplicate");
		return;
	}
	if (action != IPI_FAULT_DROP && !qmp_arg_has(call, "delay-ms")) {
		snprintf(err, errlen, "Parameter 'delay-ms' is missing (action %s needs it)", action_word);
		return;
	}
	if (action != IPI_FAULT_DROP && (delay_ms < 1 || delay_ms > FAULT_MAX_DELAY_MS)) {
		snprintf(err, errlen, "Parameter 'delay-ms' is out of range: %lld (1 to %d)", (long long)delay_ms,
			 FAULT_MAX_DELAY_MS);
		return;
	}
	if (qmp_arg_has(call, "seed") && (seed < 1 || action == IPI_FAULT_DROP)) {
		snprintf(err, errlen, action == IPI_FAULT_DROP ? "Parameter 'seed' is only for actions delay and duplicate"
			 : "Parameter 'seed' must be a positive integer");
		return;
	}
	before = chip->set_ipi_fault(&c->vm->vcpus[cpu], action, kinds, (uint32_t)count,
				     action == IPI_FAULT_DROP ? 0 : (uint64_t)delay_ms * 1000000u,
				     qmp_arg_has(call, "seed"), (uint64_t)seed);
	r = json_object_new_object();
	json_object_object_add(r, "faulted-before", json_object_new_int64((int64_t)before));
	*ret = r;
}
