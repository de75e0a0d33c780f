/*
 * --trace with KVM's local APICs (--irqchip kernel, split): KVM's own
 * tracepoints for this VM's vCPU threads, from a tracefs instance of
 * mpvm's own ("mpvm-PID"), merged into the trace and into --report's
 * MP-state sequences (core/ktrace_merge.c) once the vCPUs have stopped.
 */
#ifndef MPVM_KVM_KVM_TRACE_H
#define MPVM_KVM_KVM_TRACE_H

#include <stdint.h>

struct vm;
struct kvm_trace;

/*
 * After the vCPU threads exist (their thread ids filter the events) and
 * before the main thread's seccomp filter (which forbids mkdir): makes
 * the instance and starts it. NULL, with one message on stderr, where
 * tracefs is missing or not permitted; the trace then holds what mpvm
 * sees itself.
 */
struct kvm_trace *kvm_trace_start(struct vm *vm);

/*
 * After every vCPU thread is joined and before vm->trace is closed: stops
 * the instance, reads it, merges what it read into vm->trace and each
 * vCPU's MP-state history, removes the instance and frees kt. end_ns: the
 * run's end on vm_now_ns()'s clock, where the trace's note goes.
 */
void kvm_trace_finish(struct kvm_trace *kt, struct vm *vm, uint64_t end_ns);

/* Removes the instance and frees kt without reading it (a VM that stopped on an error). */
void kvm_trace_discard(struct kvm_trace *kt);

#endif
