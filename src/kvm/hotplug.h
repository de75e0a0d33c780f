/*
 * CPU hotplug and unplug through ACPI (README, "CPU hotplug"): with
 * `--cpus N,maxcpus=M`, vCPUs N .. M-1 are possible but absent. The DSDT
 * has QEMU's CPU hotplug interface (core/acpi_cpu_hotplug.c), its
 * register block is devices/cpu_hotplug.c at ACPI_CPU_HOTPLUG_BASE, and
 * GPE 2 raises the SCI (devices/acpi_pm.c).
 *
 * Adding (mpvm-cpu-add): the absent vCPU's thread, which has waited since
 * the start (unconfined: it has made no KVM vCPU yet, and only sleeps),
 * makes its KVM vCPU with KVM_CREATE_VCPU on the running VM, sets its
 * CPUID and MSRs as vcpu_create() does for the others, enters the same
 * seccomp filter, and the register block then tells the guest (insert
 * event, GPE 2). The vCPU starts UNINITIALIZED, waiting for INIT-SIPI-SIPI.
 *
 * Removing (mpvm-cpu-del): a remove event asks the guest to eject the CPU;
 * the guest parks it (INIT) and calls _EJ0; mpvm then parks the vCPU's
 * thread (ABSENT: it stops calling KVM_RUN; KVM cannot destroy a vCPU)
 * and sends DEVICE_DELETED. A later mpvm-cpu-add plugs the same KVM vCPU
 * back in, in the MP state the guest left it in. The boot CPU cannot be
 * removed.
 */
#ifndef MPVM_KVM_HOTPLUG_H
#define MPVM_KVM_HOTPLUG_H

#include <stddef.h>

#include "kvm/vcpu.h"

struct vm;

/* With maxcpus above the CPUs present: the register block on the port bus. -1 after printing why. */
int hotplug_create(struct vm *vm);
void hotplug_destroy(struct vm *vm);

/* The control thread: mpvm-cpu-add and mpvm-cpu-del. 0, or -1 with the reason in err. */
int hotplug_cpu_add(struct vm *vm, unsigned int cpu, char *err, size_t errlen);
int hotplug_cpu_del(struct vm *vm, unsigned int cpu, char *err, size_t errlen);

/* The vCPU thread's ABSENT state (vcpu.h): waits to be added, or for a command. */
enum vcpu_thread_state hotplug_state_absent(struct vcpu *v);

#endif
