/*
 * QMP's system_reset (README, "The control socket"): the machine back in
 * its power-on state, in place, in the same process, and booting again.
 *
 * The power-on state is a snapshot (kvm/snapshot.c) taken in memory at the
 * end of vm_create(), before any vCPU thread exists and so before the
 * first KVM_RUN: every vCPU's registers, MSRs, local APIC, events and
 * XSAVE, the interrupt controllers, the device models and the RAM pages
 * booting wrote. A reset restores it in the snapshot's restore order.
 *
 * Threads: the control thread asks (reset_request()) and waits, or a
 * vCPU thread (reset_guest(), --reboot) asks without waiting; the main
 * thread does it between two waits in vm_run() (reset_serve(), as it
 * serves snapshots, so the two never overlap): it pauses every vCPU, puts
 * RAM back, has each vCPU thread restore its own registers
 * (VCPU_CMD_RESET: no other thread touches them), loads the interrupt
 * controllers and devices, then resumes the vCPUs that were not paused
 * before and posts the RESET event.
 */
#ifndef MPVM_KVM_RESET_H
#define MPVM_KVM_RESET_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct vcpu;

/*
 * In vm_create(), after the boot code and the devices, before --restore
 * overwrites anything: with --control or --reboot, captures the power-on
 * state. -1 after printing why.
 */
int reset_prepare(struct vm *vm);
void reset_destroy(struct vm *vm);

/*
 * The control thread: resets the VM and waits until it is done. A vCPU
 * paused before (stop, mpvm-vcpu-pause) is still paused after it, so a
 * stopped VM stays stopped. 0, or -1 with the reason in err: refused with
 * nothing changed, or failed half-way, and then the VM stops (status 125).
 */
int reset_request(struct vm *vm, char *err, size_t errlen);

/*
 * A vCPU thread, when the guest resets the machine (i8042, 0xcf9, port
 * 0x92, KVM's reset event): with --reboot a reset as system_reset's (the
 * event RESET with "guest": true, "reason": "guest-reset"), asked for and
 * not waited for, and 0: the vCPU goes on (the reset pauses it); without,
 * the VM stops (status 0) and -1: the vCPU stops here.
 */
int reset_guest(struct vm *vm);

/* The main thread, after each wake-up in vm_run(): does a requested reset. */
void reset_serve(struct vm *vm);

/* The vCPU thread, paused, on VCPU_CMD_RESET: its registers and state back to the power-on ones. */
int reset_vcpu(struct vcpu *v);

#endif
