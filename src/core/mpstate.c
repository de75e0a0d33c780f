#include "core/mpstate.h"

#include <stdlib.h>

const char *mp_state_name(uint32_t state)
{
	static const char *const names[MP_STATE_COUNT] = {
		[MP_STATE_RUNNABLE] = "RUNNABLE",
		[MP_STATE_UNINITIALIZED] = "UNINITIALIZED",
		[MP_STATE_INIT_RECEIVED] = "INIT_RECEIVED",
		[MP_STATE_HALTED] = "HALTED",
		[MP_STATE_SIPI_RECEIVED] = "SIPI_RECEIVED",
	};
	return state < MP_STATE_COUNT ? names[state] : NULL;
}

/* Into the ring of the last MP_HISTORY_TAIL; the oldest there leaves it (dropped). */
static bool observe_tail(struct mp_history *h, struct mp_observation o)
{
	if (!h->tail) {
		h->tail = malloc(MP_HISTORY_TAIL * sizeof(*h->tail));
		if (!h->tail) {
			h->dropped++;
			return false;
		}
	}
	if (h->tail_len == MP_HISTORY_TAIL)
		h->dropped++;
	else
		h->tail_len++;
	h->tail[h->tail_next] = o;
	h->tail_next = (h->tail_next + 1) % MP_HISTORY_TAIL;
	return true;
}

bool mp_history_observe(struct mp_history *h, uint32_t state, uint64_t t_ns)
{
	struct mp_observation o = { .state = state, .t_ns = t_ns };

	if (h->seen && h->last == state)
		return false;
	if (h->on_change)
		h->on_change(h->on_change_ctx, h->seen ? h->last : MP_STATE_NONE, state, t_ns);
	h->seen = true;
	h->last = state;
	if (h->len == MP_HISTORY_HEAD)
		return observe_tail(h, o);
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct mp_observation *obs;

		if (cap > MP_HISTORY_HEAD)
			cap = MP_HISTORY_HEAD;
		obs = realloc(h->obs, cap * sizeof(*obs));
		if (!obs) {
			h->dropped++;
			return false;
		}
		h->obs = obs;
		h->cap = cap;
	}
	h->obs[h->len++] = o;
	return true;
}

size_t mp_history_count(const struct mp_history *h)
{
	return h->len + h->tail_len;
}

struct mp_observation mp_history_at(const struct mp_history *h, size_t i)
{
	if (i < h->len)
		return h->obs[i];
	i -= h->len;
	if (i >= h->tail_len)
		return (struct mp_observation){ 0 };
	/* The oldest in the ring sits at tail_next once it is full, at 0 before. */
	return h->tail[(h->tail_next + MP_HISTORY_TAIL - h->tail_len + i) % MP_HISTORY_TAIL];
}

uint32_t mp_history_last(const struct mp_history *h, uint32_t fallback)
{
	return h->seen ? h->last : fallback;
}

void mp_history_free(struct mp_history *h)
{
	free(h->obs);
	free(h->tail);
	*h = (struct mp_history){ 0 };
}
