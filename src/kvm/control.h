/*
 * --control PATH: a Unix socket that speaks QMP, QEMU's machine protocol
 * (core/qmp.c parses and formats it), so QEMU's clients drive mpvm
 * unchanged: query and steer the VM and each vCPU's MP state while it runs.
 *
 * One thread serves every client. It sleeps in poll() on the listening
 * socket, its clients and an eventfd that other threads write when they
 * have an event for it (an MP-state change seen by a vCPU thread, the VM
 * stopping): an idle VM with a control socket costs no wake-ups. It talks
 * to vCPU threads only as everyone does, by vcpu_command() and kicks, and
 * reads what they publish atomically (MP state, thread state, exits).
 *
 * Bounded: at most CONTROL_MAX_CLIENTS clients (one more is told so and
 * closed), requests of at most QMP_MAX_REQUEST bytes, and at most
 * CONTROL_MAX_OUTPUT bytes waiting for a client that does not read (it is
 * then disconnected). The socket is created mode 0600, and a peer whose
 * uid (SO_PEERCRED) is neither mpvm's nor root's is refused.
 */
#ifndef MPVM_KVM_CONTROL_H
#define MPVM_KVM_CONTROL_H

#include <stdint.h>

struct vm;
struct control;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_OUTPUT (1u << 20)

/*
 * Creates the socket at vm->opts->control_path and starts the control
 * thread, which serves once the VM's threads run (vm_wait_started()).
 * From vm_run(), before it starts any other thread: the vCPU filter then
 * has the eventfd, and the MP-state hooks are in place. -1 after printing
 * why.
 */
int control_start(struct vm *vm);

/*
 * Once the VM has stopped and its vCPU threads have left their loops:
 * sends the SHUTDOWN event, ends the thread and removes the socket. Does
 * nothing without --control.
 */
void control_stop(struct vm *vm);

/*
 * A vCPU's MP state changed (vcpu.c's history hook, on the observing
 * thread): the MP_STATE_CHANGE event and mpvm-query-mp-state's "since".
 */
void control_mp_changed(struct control *c, unsigned int cpu, uint32_t from, uint32_t to, uint64_t t_ns);

/*
 * Any other event from any thread (CPU hotplug's ACPI_DEVICE_OST and
 * DEVICE_DELETED: kvm/hotplug.c), in order with the MP-state changes;
 * `data` is taken. Does nothing with c NULL.
 */
struct json_object;
void control_post_event(struct control *c, const char *name, struct json_object *data);

#endif
