/*
 * The control socket's commands (README.md, "The control socket"): QEMU's
 * with QEMU's shapes, and mpvm's own with an mpvm- prefix. core/qmp.c has
 * already checked each call's arguments against its table, so a handler
 * checks only values (ranges, words). They run on the control thread and
 * reach vCPU threads only by vcpu_command(), kicks and interrupt messages.
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/icr.h"
#include "core/topology.h"
#include "kvm/control_internal.h"
#include "kvm/hotplug.h"
#include "kvm/irqchip.h"
#include "kvm/reset.h"
#include "kvm/snapshot.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* A handler's outcome: a result (taken) or an error message. */
struct outcome {
	struct json_object *ret;
	char err[256];
};

static __attribute__((format(printf, 2, 3))) void fail(struct outcome *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
	va_end(ap);
}

static struct json_object *jint(int64_t v)
{
	return json_object_new_int64(v);
}

/* The vCPU a "cpu-index" names, or NULL after saying what is wrong. */
static struct vcpu *cpu_arg(struct control *c, const struct qmp_call *call, struct outcome *o)
{
	int64_t i = qmp_arg_int(call, "cpu-index", -1);

	if (i < 0 || i >= (int64_t)c->vm->ncpus) {
		fail(o, "Parameter 'cpu-index' is out of range: %lld (this VM has vCPUs 0 to %u)",
		     (long long)i, c->vm->ncpus - 1);
		return NULL;
	}
	return &c->vm->vcpus[i];
}

/*
 * Pause or resume, only when that changes something: a PAUSE to a vCPU
 * that is already paused would resume it (vcpu.c's paused state leaves on
 * any command). The control thread is the only sender, so its own record
 * is the truth; the thread's published state lags an answered resume.
 */
static int set_paused(struct control *c, struct vcpu *v, bool pause)
{
	struct control_cpu *cpu = &c->cpus[v->id];

	if (cpu->paused == pause)
		return 0;
	if (vcpu_command(v, pause ? VCPU_CMD_PAUSE : VCPU_CMD_RESUME))
		return -1;
	cpu->paused = pause;
	return 0;
}

/* ---- QEMU's commands ------------------------------------------------------------------ */

static void query_status(struct control *c, struct outcome *o)
{
	bool down = vm_stopping(c->vm);

	o->ret = json_object_new_object();
	json_object_object_add(o->ret, "running", json_object_new_boolean(!down && !c->vm_paused));
	/* QEMU's StatusInfo has it (deprecated in 8.1); mpvm has no single-step mode. */
	json_object_object_add(o->ret, "singlestep", json_object_new_boolean(false));
	json_object_object_add(o->ret, "status",
			       json_object_new_string(down ? "shutdown" : c->vm_paused ? "paused" : "running"));
}

/* stop and cont: every vCPU, as QEMU's; the event only when the state changes, as QEMU's. */
static void stop_or_cont(struct control *c, bool stop, struct outcome *o)
{
	bool changed = stop != c->vm_paused;

	for (unsigned int i = 0; i < c->vm->ncpus; i++) {
		struct vcpu *v = &c->vm->vcpus[i];

		changed |= !stop && c->cpus[i].paused;
		if (set_paused(c, v, stop) && !vm_stopping(c->vm)) {
			fail(o, "vCPU %u has exited: it can be neither paused nor resumed", i);
			return;
		}
	}
	c->vm_paused = stop;
	o->ret = json_object_new_object();
	if (changed)
		control_broadcast(c, stop ? "STOP" : "RESUME", NULL);
}

static void query_cpus_fast(struct control *c, struct outcome *o)
{
	struct vm *vm = c->vm;

	o->ret = json_object_new_array();
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct json_object *e, *props;
		unsigned int socket, core, thread;
		char qom[64];

		if (!atomic_load(&v->present))
			continue; /* as QEMU: the CPUs plugged in (mpvm-cpu-add) */
		e = json_object_new_object();
		props = json_object_new_object();
		/* Where --cpus N,sockets=,cores=,threads= puts it (core/topology.c), as QEMU's props. */
		topology_locate(&vm->opts->topology, i, &socket, &core, &thread);
		json_object_object_add(props, "core-id", jint(core));
		json_object_object_add(props, "socket-id", jint(socket));
		json_object_object_add(props, "thread-id", jint(thread));
		snprintf(qom, sizeof(qom), "/machine/unattached/device[%u]", i);
		json_object_object_add(e, "cpu-index", jint(i));
		json_object_object_add(e, "qom-path", json_object_new_string(qom));
		json_object_object_add(e, "thread-id", jint(atomic_load(&v->tid)));
		json_object_object_add(e, "props", props);
		json_object_object_add(e, "target", json_object_new_string("x86_64"));
		json_object_object_add(e, "apic-id", jint(v->apic_id));
		json_object_object_add(e, "bsp", json_object_new_boolean(v->bsp));
		json_object_object_add(e, "mp-state", json_object_new_string(
					       mp_state_name(vm->irqchip->mp_state(v)) ?: "?"));
		json_object_object_add(e, "paused", json_object_new_boolean(c->cpus[i].paused));
		json_object_array_add(o->ret, e);
	}
}

/* ---- interrupt messages to one vCPU ---------------------------------------------------- */

/*
 * With KVM's local APICs: an MSI with the message's delivery mode, edge
 * triggered, physical destination (KVM API 4.71 KVM_SIGNAL_MSI; the
 * address and data layout of SDM vol. 3A §10.11). KVM passes the delivery
 * mode on to the local APIC as an IPI's (lapic.c's __apic_accept_irq), so
 * INIT, STARTUP and NMI all arrive. IDs above 255 go in address_hi, which
 * KVM reads with KVM_CAP_X2APIC_API (enabled above 255 vCPUs).
 */
static int send_msi(struct vcpu *v, enum irqchip_ipi type, uint8_t vector)
{
	static const unsigned int mode[] = {
		[IRQCHIP_IPI_INIT] = ICR_INIT, [IRQCHIP_IPI_SIPI] = ICR_STARTUP, [IRQCHIP_IPI_NMI] = ICR_NMI,
	};
	struct kvm_msi msi = {
		.address_lo = 0xfee00000u | (v->apic_id & 0xff) << 12,
		.address_hi = v->apic_id & ~0xffu,
		.data = vector | mode[type] << 8 | 1u << 14, /* level: assert */
	};
	int r = ioctl(v->vm->vm_fd, KVM_SIGNAL_MSI, &msi);

	/* KVM answers how many APICs took it: 0 means none did. */
	if (r == 0)
		errno = ENODEV;
	return r > 0 ? 0 : -1;
}

static int send_one(struct vcpu *v, enum irqchip_ipi type, uint8_t vector)
{
	const struct irqchip_ops *chip = v->vm->irqchip;

	if (chip->send_ipi)
		return chip->send_ipi(v, type, vector);
	if (send_msi(v, type, vector))
		return -1;
	if (type == IRQCHIP_IPI_SIPI)
		atomic_store(&v->last_sipi, VCPU_SIPI_SEEN | vector);
	/*
	 * KVM takes INIT and SIPI inside KVM_RUN, where mpvm does not see
	 * them: a kick makes the thread come out and read the new MP state
	 * (an MP_STATE_CHANGE event follows).
	 */
	if (type != IRQCHIP_IPI_NMI)
		vcpu_interrupt_run(v);
	return 0;
}

static void inject_nmi(struct control *c, struct outcome *o)
{
	for (unsigned int i = 0; i < c->vm->ncpus; i++)
		if (atomic_load(&c->vm->vcpus[i].present) && send_one(&c->vm->vcpus[i], IRQCHIP_IPI_NMI, 0)) {
			fail(o, "NMI to vCPU %u: %s", i, strerror(errno));
			return;
		}
	o->ret = json_object_new_object();
}

static struct vcpu *send_target(struct control *c, const struct qmp_call *call, struct outcome *o)
{
	bool by_index = qmp_arg_has(call, "cpu-index"), by_id = qmp_arg_has(call, "apic-id");
	int64_t id;

	if (by_index == by_id) {
		fail(o, "mpvm-send needs exactly one of 'cpu-index' and 'apic-id'");
		return NULL;
	}
	if (by_index)
		return cpu_arg(c, call, o);
	id = qmp_arg_int(call, "apic-id", -1);
	for (unsigned int i = 0; i < c->vm->ncpus; i++)
		if (c->vm->vcpus[i].apic_id == id)
			return &c->vm->vcpus[i];
	fail(o, "Parameter 'apic-id': no vCPU has APIC ID %lld", (long long)id);
	return NULL;
}

static void mpvm_send(struct control *c, const struct qmp_call *call, struct outcome *o)
{
	static const char *const types[] = { [IRQCHIP_IPI_INIT] = "init", [IRQCHIP_IPI_SIPI] = "sipi",
					     [IRQCHIP_IPI_NMI] = "nmi" };
	const char *type = qmp_arg_string(call, "type");
	struct vcpu *v = send_target(c, call, o);
	int64_t vector = qmp_arg_int(call, "vector", -1);
	int t = -1;

	if (!v)
		return;
	if (!atomic_load(&v->present)) {
		fail(o, "vCPU %u is not present (CPU hotplug: mpvm-cpu-add first)", v->id);
		return;
	}
	for (int i = 0; i < 3; i++)
		if (!strcmp(type, types[i]))
			t = i;
	if (t < 0) {
		fail(o, "Parameter 'type' must be init, sipi or nmi, not '%.32s'", type);
		return;
	}
	if (t == IRQCHIP_IPI_SIPI && !qmp_arg_has(call, "vector")) {
		fail(o, "Parameter 'vector' is missing (type sipi needs it)");
		return;
	}
	if (t == IRQCHIP_IPI_SIPI && (vector < 0 || vector > 255)) {
		fail(o, "Parameter 'vector' is out of range: %lld (0 to 255)", (long long)vector);
		return;
	}
	if (t != IRQCHIP_IPI_SIPI && qmp_arg_has(call, "vector")) {
		fail(o, "Parameter 'vector' is only for type sipi");
		return;
	}
	if (send_one(v, (enum irqchip_ipi)t, (uint8_t)(t == IRQCHIP_IPI_SIPI ? vector : 0))) {
		fail(o, "%s to vCPU %u (APIC ID %u) was not delivered: %s", types[t], v->id, v->apic_id,
		     strerror(errno));
		return;
	}
	o->ret = json_object_new_object();
}

/* ---- mpvm's queries and one-vCPU commands ------------------------------------------------ */

/*
 * refresh: with KVM's local APICs the state is what the vCPU's thread read
 * when it last came out of KVM_RUN; a pause and resume makes it come out
 * and read it now (KVM_GET_MP_STATE), at the cost of one interruption.
 * With --irqchip user mpvm's own state is always current.
 */
static void refresh(struct control *c)
{
	if (c->vm->irqchip->send_ipi) /* user mode: mpvm runs the MP-state machine */
		return;
	for (unsigned int i = 0; i < c->vm->ncpus; i++)
		if (!c->cpus[i].paused && !set_paused(c, &c->vm->vcpus[i], true))
			set_paused(c, &c->vm->vcpus[i], false);
}

static void query_mp_state(struct control *c, const struct qmp_call *call, struct outcome *o)
{
	struct vm *vm = c->vm;
	struct json_object *list;
	uint64_t dropped;

	if (qmp_arg_bool(call, "refresh", false))
		refresh(c);
	list = json_object_new_array();

	pthread_mutex_lock(&c->ev_lock);
	dropped = c->ev_dropped;
	pthread_mutex_unlock(&c->ev_lock);
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct control_cpu *cpu = &c->cpus[i];
		struct json_object *e = json_object_new_object();
		unsigned int sipi = atomic_load(&v->last_sipi);
		/* a vCPU not made yet (CPU hotplug) has no MP state in KVM to read */
		unsigned int mp = atomic_load(&v->made) ? vm->irqchip->mp_state(v) : MP_STATE_UNINITIALIZED;

		json_object_object_add(e, "cpu-index", jint(i));
		json_object_object_add(e, "apic-id", jint(v->apic_id));
		json_object_object_add(e, "bsp", json_object_new_boolean(v->bsp));
		json_object_object_add(e, "mp-state", json_object_new_string(mp_state_name(mp) ?: "?"));
		/* Since when: known when the last change the history saw is this state. */
		if (atomic_load(&cpu->state) == mp)
			json_object_object_add(e, "since-ns", jint((int64_t)atomic_load(&cpu->since_ns)));
		json_object_object_add(e, "thread-state", json_object_new_string(
					       vcpu_state_name((enum vcpu_thread_state)atomic_load(&v->state))));
		json_object_object_add(e, "paused", json_object_new_boolean(cpu->paused));
		if (!atomic_load(&v->present))
			json_object_object_add(e, "present", json_object_new_boolean(false)); /* CPU hotplug */
		json_object_object_add(e, "exits", jint((int64_t)__atomic_load_n(&v->exits, __ATOMIC_RELAXED)));
		if (sipi & VCPU_SIPI_SEEN)
			json_object_object_add(e, "last-sipi-vector", jint(sipi & 0xff));
		json_object_array_add(list, e);
	}
	o->ret = json_object_new_object();
	json_object_object_add(o->ret, "irqchip", json_object_new_string(irqchip_mode_name(vm->opts->irqchip)));
	json_object_object_add(o->ret, "now-ns", jint((int64_t)vm_now_ns(vm)));
	json_object_object_add(o->ret, "events-dropped", jint((int64_t)dropped));
	json_object_object_add(o->ret, "vcpus", list);
}

static void vcpu_pause_resume(struct control *c, const struct qmp_call *call, bool pause, struct outcome *o)
{
	struct vcpu *v = cpu_arg(c, call, o);

	if (!v)
		return;
	if (set_paused(c, v, pause)) {
		fail(o, "vCPU %u has exited (the VM is stopping)", v->id);
		return;
	}
	o->ret = json_object_new_object();
}

static void query_commands(struct outcome *o)
{
	o->ret = json_object_new_array();
	for (unsigned int i = 0; i < QMP_CMD_COUNT; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(qmp_commands[i].name));
		json_object_array_add(o->ret, e);
	}
}

static void query_version(struct outcome *o)
{
	struct json_object *q = json_object_new_object();

	json_object_object_add(q, "major", jint(0));
	json_object_object_add(q, "minor", jint(1));
	json_object_object_add(q, "micro", jint(0));
	o->ret = json_object_new_object();
	json_object_object_add(o->ret, "qemu", q);
	json_object_object_add(o->ret, "package", json_object_new_string("mpvm"));
}

/*
 * mpvm-snapshot {"path": FILE, "quit": false}: the whole VM to FILE
 * (kvm/snapshot.c, on the main thread); answered once it is written. Then
 * the VM goes on as it was, or ends (status 0) with "quit": true.
 */
static void mpvm_snapshot(struct control *c, const struct qmp_call *call, struct outcome *o)
{
	const char *path = qmp_arg_string(call, "path");

	if (!path || !*path) {
		fail(o, "Parameter 'path' is empty");
		return;
	}
	if (snapshot_request(c->vm, path, qmp_arg_bool(call, "quit", false), true, o->err, sizeof(o->err)))
		return;
	o->ret = json_object_new_object();
}

/*
 * system_reset, as QEMU's: the machine back in its power-on state and
 * booting again (kvm/reset.c, on the main thread); answered once done,
 * the RESET event after the answer. A paused vCPU stays paused, so a
 * stopped VM stays stopped (QEMU's too).
 */
static void system_reset(struct control *c, struct outcome *o)
{
	if (reset_request(c->vm, o->err, sizeof(o->err)) == 0)
		o->ret = json_object_new_object();
}

char *control_run(struct control *c, struct qmp_call *call)
{
	struct outcome o = { 0 };

	switch (call->cmd) {
	case QMP_CMD_CAPABILITIES: /* the session answers it */
		o.ret = json_object_new_object();
		break;
	case QMP_CMD_QUERY_VERSION: query_version(&o); break;
	case QMP_CMD_QUERY_COMMANDS: query_commands(&o); break;
	case QMP_CMD_QUERY_STATUS: query_status(c, &o); break;
	case QMP_CMD_STOP: stop_or_cont(c, true, &o); break;
	case QMP_CMD_CONT: stop_or_cont(c, false, &o); break;
	case QMP_CMD_QUIT:
		/* The answer goes first; the SHUTDOWN event when the VM is down (control_stop()). */
		vm_request_stop(c->vm, VM_STOP_QMP_QUIT, 0);
		o.ret = json_object_new_object();
		break;
	case QMP_CMD_SYSTEM_RESET: system_reset(c, &o); break;
	case QMP_CMD_QUERY_CPUS_FAST: query_cpus_fast(c, &o); break;
	case QMP_CMD_INJECT_NMI: inject_nmi(c, &o); break;
	case QMP_CMD_MP_STATE: query_mp_state(c, call, &o); break;
	case QMP_CMD_VCPU_PAUSE: vcpu_pause_resume(c, call, true, &o); break;
	case QMP_CMD_VCPU_RESUME: vcpu_pause_resume(c, call, false, &o); break;
	case QMP_CMD_SEND: mpvm_send(c, call, &o); break;
	case QMP_CMD_SNAPSHOT: mpvm_snapshot(c, call, &o); break;
	case QMP_CMD_FAULT: control_fault(c, call, &o.ret, o.err, sizeof(o.err)); break;
	case QMP_CMD_CPU_ADD:
	case QMP_CMD_CPU_DEL: {
		struct vcpu *v = cpu_arg(c, call, &o);

		if (v && (call->cmd == QMP_CMD_CPU_ADD ? hotplug_cpu_add : hotplug_cpu_del)(c->vm, v->id, o.err, sizeof(o.err)) == 0)
			o.ret = json_object_new_object();
		break;
	}
	case QMP_CMD_COUNT: break;
	}
	if (o.err[0]) {
		json_object_put(o.ret);
		return qmp_format_error(QMP_ERR_GENERIC, o.err, call->id);
	}
	return qmp_format_return(o.ret, call->id);
}
