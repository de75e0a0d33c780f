/*
 * x86 multiprocessor (MP) states of a vCPU, with KVM's numbering so the
 * values can travel through KVM_GET_MP_STATE/KVM_SET_MP_STATE unchanged
 * (Documentation/virt/kvm/api.rst, 4.38 KVM_GET_MP_STATE).
 *
 * SDM vol. 3A §8.4 (MP initialization): after reset the BSP runs and every
 * AP waits for INIT (UNINITIALIZED); INIT moves a processor to
 * wait-for-SIPI (INIT_RECEIVED); a STARTUP IPI starts it (SIPI_RECEIVED,
 * then RUNNABLE); HLT parks it until an interrupt (HALTED).
 *
 * This file is KVM-free: it only names states and records what was seen.
 */
#ifndef MPVM_CORE_MPSTATE_H
#define MPVM_CORE_MPSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mp_state {
	MP_STATE_RUNNABLE = 0,
	MP_STATE_UNINITIALIZED = 1,
	MP_STATE_INIT_RECEIVED = 2,
	MP_STATE_HALTED = 3,
	MP_STATE_SIPI_RECEIVED = 4,
};
#define MP_STATE_COUNT 5
/* mp_history's on_change `from` for the first observation: no state before it. */
#define MP_STATE_NONE UINT32_MAX

/* "RUNNABLE", ..., or NULL for a value that is no x86 MP state. */
const char *mp_state_name(uint32_t state);

/*
 * The observed sequence of one vCPU's MP states: a new entry only when the
 * state differs from the last one recorded. Bounded, so a guest that halts
 * and wakes, or INITs and SIPIs an AP, millions of times cannot make mpvm
 * grow without limit: the history keeps the first MP_HISTORY_HEAD changes
 * and the last MP_HISTORY_TAIL (a ring), and counts those in between in
 * `dropped`. Walk it with mp_history_count()/mp_history_at(): in order, the
 * gap (if dropped > 0) after the first MP_HISTORY_HEAD entries.
 */
#define MP_HISTORY_HEAD 2048
#define MP_HISTORY_TAIL 2048
#define MP_HISTORY_MAX (MP_HISTORY_HEAD + MP_HISTORY_TAIL)

struct mp_observation {
	uint32_t state;
	uint64_t t_ns; /* since the VM was created */
};

struct mp_history {
	struct mp_observation *obs;  /* the first changes: up to MP_HISTORY_HEAD */
	size_t len, cap;
	struct mp_observation *tail; /* then a ring of the last MP_HISTORY_TAIL */
	size_t tail_len, tail_next;  /* entries in the ring; where the next one goes */
	uint64_t dropped;   /* changes between the head and the tail, no longer kept */
	uint32_t last;      /* last state seen, recorded or not */
	bool seen;
	/*
	 * Optional: called by the observing thread on each change, recorded
	 * or not, the first observation included (from = MP_STATE_NONE), so
	 * no one has to poll the history (the control socket's
	 * MP_STATE_CHANGE event, the --trace spans).
	 */
	void (*on_change)(void *ctx, uint32_t from, uint32_t to, uint64_t t_ns);
	void *on_change_ctx;
};

/* Records `state` at `t_ns` if it differs from the last one. Returns true if recorded. */
bool mp_history_observe(struct mp_history *h, uint32_t state, uint64_t t_ns);
/* Last state seen, or `fallback` if none. */
uint32_t mp_history_last(const struct mp_history *h, uint32_t fallback);
/* Entries kept (at most MP_HISTORY_MAX), and the i-th of them in order. */
size_t mp_history_count(const struct mp_history *h);
struct mp_observation mp_history_at(const struct mp_history *h, size_t i);
void mp_history_free(struct mp_history *h);

#endif
