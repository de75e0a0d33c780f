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

bool mp_history_observe(struct mp_history *h, uint32_t state, uint64_t t_ns)
{
	if (h->seen && h->last == state)
		return false;
	h->seen = true;
	h->last = state;
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct mp_observation *obs;

		if (cap > MP_HISTORY_MAX)
			cap = MP_HISTORY_MAX;
		if (h->len == cap) {
			h->dropped++;
			return false;
		}
		obs = realloc(h->obs, cap * sizeof(*obs));
		if (!obs) {
			h->dropped++;
			return false;
		}
		h->obs = obs;
		h->cap = cap;
	}
	h->obs[h->len++] = (struct mp_observation){ .state = state, .t_ns = t_ns };
	return true;
}

uint32_t mp_history_last(const struct mp_history *h, uint32_t fallback)
{
	return h->seen ? h->last : fallback;
}

void mp_history_free(struct mp_history *h)
{
	free(h->obs);
	*h = (struct mp_history){ 0 };
}
