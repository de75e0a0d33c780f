/*
 * Snapshot and restore of the whole VM (README, "Snapshots"): the file
 * format is core/snapshot_file.h's; this file decides what goes in it, in
 * which order it is taken from KVM and given back, and who does it.
 *
 * Threads: a snapshot is taken on the main thread (vm_run() serves the
 * request between two waits), which pauses every vCPU and has each vCPU
 * thread read its own registers (VCPU_CMD_SAVE: no other thread touches
 * them); the control socket's mpvm-snapshot and --snapshot-on only ask
 * for one. A restore runs in vm_create(), on the main thread, before any
 * vCPU thread exists.
 */
#ifndef MPVM_KVM_SNAPSHOT_H
#define MPVM_KVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct vcpu;

/*
 * In vm_create(), once the devices exist: what a snapshot needs from
 * /dev/kvm before the filters (the MSR list). -1 after printing why.
 */
int snapshot_prepare(struct vm *vm);
/* --restore, after snapshot_prepare(): the whole state from the file. -1 after printing why. */
int snapshot_restore(struct vm *vm);
void snapshot_destroy(struct vm *vm);

/*
 * Any thread but the main one: asks for a snapshot to `path`, then the VM
 * goes on (`quit` false) or ends with status 0. With `wait`, returns once
 * it is written: 0, or -1 with the reason in err. Without (a vCPU thread,
 * which the snapshot will pause), returns at once.
 */
int snapshot_request(struct vm *vm, const char *path, bool quit, bool wait, char *err, size_t errlen);

/* The main thread, after each wake-up in vm_run(): takes a requested snapshot. */
void snapshot_serve(struct vm *vm);

/*
 * Before KVM is touched (cli/main.c): the file whole, and its machine and
 * vCPUs against the options a restore will use (vCPU count, RAM, irqchip
 * mode, APIC IDs, MP states, the BSP not waiting for a SIPI). 0, or -1
 * with "PATH: reason" or the reason in err.
 */
struct mpvm_options;
int snapshot_check(const char *path, const struct mpvm_options *o, char *err, size_t errlen);

/* The vCPU thread, paused, on VCPU_CMD_SAVE: reads its state from KVM. */
int snapshot_vcpu_save(struct vcpu *v);

/*
 * What system_reset (kvm/reset.c) takes from here, so that a reset is a
 * restore in the same order. snapshot_capture(): in vm_create(), before
 * any vCPU thread exists, the whole VM as a snapshot container in memory
 * (*data malloc'd). The others put parts of a parsed container back, in
 * restore order: RAM, then each vCPU (on its own thread, paused), then
 * the interrupt controllers; the devices are machine_load()'s. Each 0,
 * or -1 with the reason in err.
 */
struct snap_file;
int snapshot_capture(struct vm *vm, void **data, size_t *len, char *err, size_t errlen);
int snapshot_load_ram(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);
int snapshot_restore_vcpu(struct vcpu *v, const struct snap_file *f, char *err, size_t errlen);
int snapshot_load_chip(struct vm *vm, const struct snap_file *f, char *err, size_t errlen);

#endif
