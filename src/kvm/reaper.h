/*
 * Tearing the VM down after mpvm has exited, in a small process of its own.
 *
 * KVM destroys a VM when the last reference to it goes, and that can take
 * longer than everything a short run does: with KVM's in-kernel PIT
 * (--irqchip kernel) the final close of the VM file descriptor waits for
 * SRCU grace periods and the PIT's worker thread (about 15 ms measured
 * with `strace -T` on close(), against 0.5 ms without the PIT). The
 * user waits for mpvm's exit status, not for KVM's bookkeeping, so a
 * reaper started right after KVM_CREATE_VM holds a second reference to the
 * VM, and to mpvm's address space (reaper.c says why), and drops them once
 * mpvm has exited: the destruction runs there, after mpvm's exit status
 * and every byte of output are out.
 */
#ifndef MPVM_KVM_REAPER_H
#define MPVM_KVM_REAPER_H

#include <sys/types.h>

/*
 * Right after KVM_CREATE_VM, before any other thread exists: starts the
 * reaper, which keeps only `vm_fd` and waits for this process to exit
 * (a process that makes several VMs keeps one reaper per VM until then).
 * 0, or -1 if there is no reaper: then mpvm's exit tears the VM down, as
 * before; nothing else changes.
 */
int reaper_start(int vm_fd);

#endif
