/*
 * --ap-watchdog MS: the event VCPU_STUCK when a vCPU has taken an INIT and
 * is still waiting for its SIPI (INIT_RECEIVED, or SIPI_RECEIVED) MS
 * milliseconds later: an AP that firmware or a kernel tried to start and
 * that never ran. It watches the MP-state changes mpvm observes (the
 * history's hook), so it sees what --report sees in each mode: with
 * --irqchip user every INIT; with KVM's local APICs the INITs that reach
 * mpvm (mpvm-send, after which the vCPU is kicked) and any state a vCPU's
 * thread reads when it leaves KVM_RUN, but not a guest's INIT to an AP
 * that stays inside KVM_RUN. The control thread keeps the time: poll()
 * waits at most until the next vCPU could be stuck, and not at all longer
 * when none waits (no wake-ups when idle).
 */
#include <json-c/json.h>
#include <stdio.h>

#include "core/mpstate.h"
#include "kvm/control_internal.h"
#include "kvm/irqchip.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define NS_PER_MS 1000000ull

void control_watchdog_observe(struct control *c, struct control_cpu *cpu, uint32_t to, uint64_t t_ns)
{
	if (!c->vm->opts->ap_watchdog_ms)
		return;
	if (to == MP_STATE_INIT_RECEIVED) {
		atomic_store(&cpu->init_ns, t_ns + 1);
		control_wake(c); /* a new deadline for poll() */
	} else if (to != MP_STATE_SIPI_RECEIVED) {
		atomic_store(&cpu->init_ns, 0); /* it runs, or halts: it left wait-for-SIPI */
	}
}

/* When vCPU `cpu` counts as stuck (VM time), or 0 if it is not waiting or was reported. */
static uint64_t deadline(struct control *c, struct control_cpu *cpu)
{
	uint64_t init = atomic_load(&cpu->init_ns);

	if (!init || init == cpu->stuck_reported)
		return 0;
	return init - 1 + c->vm->opts->ap_watchdog_ms * NS_PER_MS;
}

int control_watchdog_timeout_ms(struct control *c)
{
	uint64_t now = vm_now_ns(c->vm), first = 0;

	if (!c->vm->opts->ap_watchdog_ms)
		return -1;
	for (unsigned int i = 0; i < c->vm->ncpus; i++) {
		uint64_t d = deadline(c, &c->cpus[i]);

		if (d && (!first || d < first))
			first = d;
	}
	if (!first)
		return -1;
	return first <= now ? 0 : (int)((first - now + NS_PER_MS - 1) / NS_PER_MS);
}

void control_watchdog_check(struct control *c)
{
	uint64_t now = vm_now_ns(c->vm);

	if (!c->vm->opts->ap_watchdog_ms)
		return;
	for (unsigned int i = 0; i < c->vm->ncpus; i++) {
		struct control_cpu *cpu = &c->cpus[i];
		struct vcpu *v = &c->vm->vcpus[i];
		uint64_t d = deadline(c, cpu), init = atomic_load(&cpu->init_ns);
		const char *state;
		struct json_object *e;

		if (!d || d > now)
			continue;
		cpu->stuck_reported = init;
		state = mp_state_name(c->vm->irqchip->mp_state(v)) ?: "?";
		fprintf(stderr, "mpvm: --ap-watchdog: vCPU %u (APIC ID %u) is still %s %llu ms after its INIT\n",
			i, v->apic_id, state, (unsigned long long)((now - (init - 1)) / NS_PER_MS));
		e = json_object_new_object();
		json_object_object_add(e, "cpu-index", json_object_new_int((int)i));
		json_object_object_add(e, "apic-id", json_object_new_int64(v->apic_id));
		json_object_object_add(e, "mp-state", json_object_new_string(state));
		json_object_object_add(e, "init-time", json_object_new_int64((int64_t)(init - 1)));
		json_object_object_add(e, "waited-ms", json_object_new_int64((int64_t)((now - (init - 1)) / NS_PER_MS)));
		control_broadcast(c, "VCPU_STUCK", e);
	}
}
