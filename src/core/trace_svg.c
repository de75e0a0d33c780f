#include "core/trace_svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The page: lane labels on the left, the plot, a margin. */
#define SVG_W 1400.0
#define PLOT_X 200.0
#define PLOT_W 1160.0
#define TOP 96.0        /* the plot's top: title, notes and tick labels above */
#define LANES_H 640.0   /* what the lanes share before each shrinks below LANE_H_MAX */
#define LANE_H_MAX 28.0
#define LANE_H_MIN 3.0
#define LEGEND_ROW 20.0

struct arrow {
	double xs, xf;
	uint32_t from, to; /* lane ranks */
	uint32_t name;
};

struct view {
	const struct trace_model *m;
	FILE *out;
	unsigned int *order;  /* rank -> lane */
	unsigned int *rank;   /* lane -> rank */
	double t0, t1, scale; /* microseconds; pixels per microsecond */
	double lane_h;
	bool span_used[TRACE_READ_NAMES_MAX], arrow_used[TRACE_READ_NAMES_MAX], mark_used[TRACE_READ_NAMES_MAX];
	struct arrow *arrows;
	size_t narrows;
	/* What the bounds did, for the note. */
	double merge_px;
	uint64_t spans_merged, merged_rects, rects_skipped, marks_skipped, arrows_skipped;
	uint64_t flows_paired, flows_unpaired;
	double arrow_px;      /* > 0: an IPI storm, one arrow per this many pixels */
};

/* ---- colours --------------------------------------------------------------- */

struct named_colour {
	const char *name, *colour;
};

/* The MP states in the order a CPU goes through them, which the legend keeps. */
static const struct named_colour state_colours[] = {
	{ "UNINITIALIZED", "#d9d9d9" },
	{ "INIT_RECEIVED", "#ffb74d" },
	{ "SIPI_RECEIVED", "#ce93d8" },
	{ "RUNNABLE", "#66bb6a" },
	{ "HALTED", "#90a4ae" },
};

static const struct named_colour kind_colours[] = {
	{ "INIT", "#c62828" },
	{ "INIT de-assert", "#ec407a" },
	{ "SIPI", "#1565c0" },
	{ "NMI", "#6a1b9a" },
	{ "fixed", "#00897b" },
	{ "lowest priority", "#2e7d32" },
	{ "SMI", "#5d4037" },
	{ "ExtINT", "#ef6c00" },
	{ "trace truncated", "#000000" },
};

static const char *const pastel[] = { "#80cbc4", "#fff176", "#f48fb1", "#9fa8da", "#bcaaa4",
				      "#a5d6a7", "#ffcc80", "#81d4fa", "#e6ee9c", "#b39ddb" };
static const char *const ink[] = { "#37474f", "#ad1457", "#283593", "#00695c", "#4e342e",
				   "#558b2f", "#d84315", "#0277bd", "#827717", "#4527a0" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static unsigned int hash_name(const char *s)
{
	unsigned int h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *lookup(const struct named_colour *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].colour;
	return NULL;
}

static const char *span_colour(const char *name)
{
	const char *c = lookup(state_colours, COUNT(state_colours), name);

	return c ? c : pastel[hash_name(name) % COUNT(pastel)];
}

static const char *ink_colour(const char *name)
{
	const char *c = lookup(kind_colours, COUNT(kind_colours), name);

	return c ? c : ink[hash_name(name) % COUNT(ink)];
}

/* ---- text --------------------------------------------------------------- */

/*
 * s as XML character data: markup characters escaped, and what XML 1.0
 * cannot hold (control characters, bytes that are not UTF-8) as '?', so
 * any name a trace carries leaves the file well-formed.
 */
static void put_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned char c = *p;
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t i;

		for (i = 1; i < len && (p[i] & 0xc0) == 0x80; i++)
			;
		if (len == 0 || i < len || (len == 2 && c < 0xc2) ||
		    (len == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
				  (c == 0xef && p[1] == 0xbf && p[2] >= 0xbe))) ||
		    (len == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[1] >= 0x90)))) {
			fputc('?', f); /* not UTF-8, an overlong form, a surrogate, U+FFFE/U+FFFF */
			p += i ? i : 1;
			continue;
		}
		if (len > 1)
			fwrite(p, 1, len, f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c < 0x20 && c != '\t' && c != '\n')
			fputc('?', f);
		else
			fputc(c, f);
		p += len;
	}
}

/* A rough width of text in a sans-serif font: enough to decide whether a label fits. */
static double text_w(const char *s, double font)
{
	return (double)strlen(s) * font * 0.6;
}

static void lane_label(const struct view *v, unsigned int lane, char *buf, size_t len)
{
	const struct trace_lane *l = &v->m->lanes[lane];

	if (l->name)
		snprintf(buf, len, "%s", l->name);
	else if (v->m->nprocs > 1)
		snprintf(buf, len, "pid %lld tid %lld", (long long)l->pid, (long long)l->tid);
	else
		snprintf(buf, len, "tid %lld", (long long)l->tid);
}

/* Milliseconds for a title: "12.345 ms" from microseconds. */
static void put_ms(FILE *f, double us)
{
	fprintf(f, "%.3f ms", us / 1000.0);
}

/* ---- geometry ------------------------------------------------------------- */

static double x_of(const struct view *v, double t)
{
	double x = (t - v->t0) * v->scale;

	if (!(x >= 0)) /* NaN too */
		x = 0;
	if (x > PLOT_W)
		x = PLOT_W;
	return PLOT_X + x;
}

static double y_of(const struct view *v, unsigned int rank)
{
	return TOP + rank * v->lane_h;
}

/* ---- spans ----------------------------------------------------------------- */

struct group {
	size_t n;
	double x0, x1;
	uint32_t lane;
	double time[TRACE_READ_NAMES_MAX]; /* microseconds per name */
	const struct trace_span *only;
};

static void put_rect(struct view *v, unsigned int lane, double x0, double x1, const char *name,
		     const char *cls, double opacity)
{
	double y = y_of(v, v->rank[lane]) + (v->lane_h >= 8 ? 1 : 0);
	double h = v->lane_h - (v->lane_h >= 8 ? 2 : v->lane_h >= 5 ? 1 : 0);
	double w = x1 - x0 < 0.5 ? 0.5 : x1 - x0;

	fprintf(v->out, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"",
		cls, x0, y, w, h, span_colour(name));
	if (opacity < 1)
		fprintf(v->out, " fill-opacity=\"%.1f\"", opacity);
	fputs(">", v->out);
}

static void draw_span(struct view *v, const struct trace_span *s)
{
	const char *name = v->m->names[s->name];
	double x0 = x_of(v, s->ts), x1 = x_of(v, s->ts + s->dur);
	double font = v->lane_h - 6 > 11 ? 11 : v->lane_h - 6;
	char label[TRACE_READ_NAME_CHARS + 16];

	put_rect(v, s->lane, x0, x1, name, "span", 1);
	lane_label(v, s->lane, label, sizeof(label));
	fputs("<title>", v->out);
	put_text(v->out, label);
	fputs(": ", v->out);
	put_text(v->out, name);
	fputs(" at ", v->out);
	put_ms(v->out, s->ts);
	fputs(" for ", v->out);
	put_ms(v->out, s->dur);
	fputs("</title></rect>\n", v->out);
	if (font >= 7 && x1 - x0 >= text_w(name, font) + 6) {
		fprintf(v->out, "<text class=\"span-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\">",
			x0 + 3, y_of(v, v->rank[s->lane]) + v->lane_h / 2 + font * 0.35, font);
		put_text(v->out, name);
		fputs("</text>\n", v->out);
	}
}

static void flush_group(struct view *v, struct group *g, uint64_t *rects)
{
	uint32_t best = 0;

	if (g->n == 0)
		return;
	if (*rects >= TRACE_SVG_RECTS) {
		v->rects_skipped += g->n;
	} else if (g->n == 1) {
		draw_span(v, g->only);
	} else {
		for (uint32_t i = 1; i < v->m->nnames; i++)
			if (g->time[i] > g->time[best])
				best = i;
		put_rect(v, g->lane, g->x0, g->x1, v->m->names[best], "span merged", 0.8);
		fprintf(v->out, "<title>%zu spans merged, mostly ", g->n);
		put_text(v->out, v->m->names[best]);
		fputs("</title></rect>\n", v->out);
		v->span_used[best] = true;
		v->spans_merged += g->n;
		v->merged_rects++;
	}
	(*rects)++;
	memset(g->time, 0, sizeof(g->time));
	g->n = 0;
}

static int span_cmp(const void *a, const void *b, void *ctx)
{
	const struct view *v = ctx;
	const struct trace_span *x = a, *y = b;

	if (v->rank[x->lane] != v->rank[y->lane])
		return v->rank[x->lane] < v->rank[y->lane] ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Per lane in time order. A span at least merge_px wide is drawn as it is;
 * a run of narrower ones becomes one rectangle once it is merge_px wide
 * (or a gap or a wide span ends it), coloured by the name that took most
 * of its time. So a lane has at most about 3 * PLOT_W / merge_px
 * rectangles, and merge_px is chosen to keep the total near TRACE_SVG_RECTS.
 */
static void draw_spans(struct view *v, struct trace_span *spans, size_t n)
{
	struct group *g = calloc(1, sizeof(*g));
	double last_x0 = -1, last_x1 = -1;
	uint32_t last_lane = UINT32_MAX, last_name = UINT32_MAX;
	uint64_t rects = 0;

	if (!g)
		return;
	qsort_r(spans, n, sizeof(*spans), span_cmp, v);
	for (size_t i = 0; i < n; i++) {
		const struct trace_span *s = &spans[i];
		double x0 = x_of(v, s->ts), x1 = x_of(v, s->ts + s->dur);

		if (s->lane != g->lane || (g->n && x0 - g->x1 > v->merge_px))
			flush_group(v, g, &rects);
		v->span_used[s->name] = true;
		if (x1 - x0 >= v->merge_px) {
			flush_group(v, g, &rects);
			/* Spans on top of each other at this scale (nested or repeated): one will do. */
			if (v->merge_px > 0 && s->lane == last_lane && s->name == last_name &&
			    fabs(x0 - last_x0) < 0.5 && fabs(x1 - last_x1) < 0.5) {
				v->spans_merged++;
				continue;
			}
			g->only = s;
			g->n = 1;
			g->lane = s->lane;
			flush_group(v, g, &rects);
			last_lane = s->lane;
			last_name = s->name;
			last_x0 = x0;
			last_x1 = x1;
			continue;
		}
		if (g->n == 0) {
			g->x0 = x0;
			g->x1 = x1;
			g->lane = s->lane;
			g->only = s;
		}
		g->n++;
		g->x1 = x1 > g->x1 ? x1 : g->x1;
		g->time[s->name] += s->dur;
		if (g->x1 - g->x0 >= v->merge_px)
			flush_group(v, g, &rects);
	}
	flush_group(v, g, &rects);
	free(g);
}

/* ---- instants ------------------------------------------------------------ */

/* By lane, name and time, so that marks of one kind on one lane come together. */
static int mark_cmp(const void *a, const void *b, void *ctx)
{
	const struct view *v = ctx;
	const struct trace_mark *x = a, *y = b;

	if (v->rank[x->lane] != v->rank[y->lane])
		return v->rank[x->lane] < v->rank[y->lane] ? -1 : 1;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Keeps, of n items, `budget` spread evenly (every n/budget-th), so that a
 * picture over its bound still shows the whole time range thinned rather
 * than its first part whole. Returns how many were left out.
 */
static size_t thin(void *items, size_t *n, size_t size, size_t budget)
{
	char *p = items;
	size_t was = *n;

	if (was <= budget)
		return 0;
	for (size_t j = 0; j < budget; j++)
		memmove(p + j * size, p + (size_t)((double)j * was / budget) * size, size);
	*n = budget;
	return was - budget;
}

/*
 * A diamond at the top of the lane for each instant; instants of one name
 * less than a pixel apart on one lane are drawn once.
 */
static void draw_marks(struct view *v, struct trace_mark *marks, size_t n)
{
	double r = v->lane_h / 4 > 4 ? 4 : v->lane_h / 4 < 1.5 ? 1.5 : v->lane_h / 4;
	char label[TRACE_READ_NAME_CHARS + 16];
	size_t kept = 0;

	qsort_r(marks, n, sizeof(*marks), mark_cmp, v);
	for (size_t i = 0; i < n; i++) {
		const struct trace_mark *k = &marks[i];

		if (!k->ipi)
			v->mark_used[k->name] = true;
		if (kept) {
			const struct trace_mark *p = &marks[kept - 1];

			if (p->lane == k->lane && p->name == k->name && x_of(v, k->ts) - x_of(v, p->ts) < 1)
				continue;
		}
		marks[kept++] = *k;
	}
	v->marks_skipped = thin(marks, &kept, sizeof(*marks), TRACE_SVG_MARKS);
	for (size_t i = 0; i < kept; i++) {
		const struct trace_mark *k = &marks[i];
		const char *name = v->m->names[k->name];
		double x = x_of(v, k->ts), y = y_of(v, v->rank[k->lane]) + r;

		fprintf(v->out, "<path class=\"instant\" d=\"M%.1f %.1fl%.1f %.1fl%.1f %.1fl%.1f %.1fz\" fill=\"%s\"><title>",
			x, y - r, r, r, -r, r, -r, -r, ink_colour(name));
		lane_label(v, k->lane, label, sizeof(label));
		put_text(v->out, label);
		fputs(": ", v->out);
		put_text(v->out, name);
		fputs(" at ", v->out);
		put_ms(v->out, k->ts);
		fputs("</title></path>\n", v->out);
	}
}

/* ---- flows ------------------------------------------------------------------ */

static int flow_cmp(const void *a, const void *b)
{
	const struct trace_flow_end *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* By sender, target and kind, then time: arrows of one pair and kind come together. */
static int arrow_cmp(const void *a, const void *b)
{
	const struct arrow *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if (x->xs != y->xs)
		return x->xs < y->xs ? -1 : 1;
	return x->xf < y->xf ? -1 : x->xf > y->xf;
}

/* Arrows of one kind between two lanes less than px apart (at both ends) are drawn once. */
static void dedupe_arrows(struct view *v, double px)
{
	size_t kept = 0;

	for (size_t i = 0; i < v->narrows; i++) {
		struct arrow *a = &v->arrows[i];

		if (kept) {
			struct arrow *p = &v->arrows[kept - 1];

			if (p->from == a->from && p->to == a->to && p->name == a->name &&
			    a->xs - p->xs < px && fabs(p->xf - a->xf) < px)
				continue;
		}
		v->arrows[kept++] = *a;
	}
	v->narrows = kept;
}

/* Each "s" with the next "f" of the same cat and id, in file order, as an arrow. */
static int pair_flows(struct view *v, struct trace_flow_end *flows, size_t n)
{
	const struct trace_flow_end *start = NULL;

	v->arrows = malloc((n / 2 + 1) * sizeof(*v->arrows));
	if (!v->arrows)
		return -1;
	qsort(flows, n, sizeof(*flows), flow_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct trace_flow_end *e = &flows[i];

		if (start && start->key != e->key) {
			v->flows_unpaired++;
			start = NULL;
		}
		if (e->start) {
			if (start)
				v->flows_unpaired++;
			start = e;
			continue;
		}
		if (!start) {
			v->flows_unpaired++;
			continue;
		}
		v->flows_paired++;
		v->arrows[v->narrows++] = (struct arrow){ x_of(v, start->ts), x_of(v, e->ts), v->rank[start->lane],
							  v->rank[e->lane], start->name };
		v->arrow_used[start->name] = true;
		start = NULL;
	}
	if (start)
		v->flows_unpaired++;
	qsort(v->arrows, v->narrows, sizeof(*v->arrows), arrow_cmp);
	dedupe_arrows(v, 1);
	/*
	 * An IPI storm would bury the lanes under a solid block of arrows: past
	 * TRACE_SVG_ARROWS_DENSE, one arrow per pair of lanes and kind every
	 * few pixels, so the spans still show between them.
	 */
	if (v->narrows > TRACE_SVG_ARROWS_DENSE) {
		v->arrow_px = (double)v->narrows / TRACE_SVG_ARROWS_DENSE;
		v->arrow_px = v->arrow_px > 50 ? 50 : v->arrow_px;
		dedupe_arrows(v, v->arrow_px);
	}
	v->arrows_skipped = thin(v->arrows, &v->narrows, sizeof(*v->arrows), TRACE_SVG_ARROWS);
	return 0;
}

static void draw_arrows(struct view *v)
{
	for (size_t i = 0; i < v->narrows; i++) {
		const struct arrow *a = &v->arrows[i];
		const char *name = v->m->names[a->name];
		double ys = y_of(v, a->from) + v->lane_h / 2, yf = y_of(v, a->to) + v->lane_h / 2;
		char from[TRACE_READ_NAME_CHARS + 16], to[TRACE_READ_NAME_CHARS + 16];

		if (a->from == a->to) /* an IPI to itself: a short stroke down onto the lane */
			fprintf(v->out, "<path class=\"flow\" d=\"M%.1f %.1fL%.1f %.1f\"", a->xs - 6,
				y_of(v, a->to) - 6, a->xf, y_of(v, a->to) + 1);
		else
			fprintf(v->out, "<path class=\"flow\" d=\"M%.1f %.1fL%.1f %.1f\"", a->xs, ys, a->xf, yf);
		fprintf(v->out, " stroke=\"%s\" marker-end=\"url(#arrow%u)\"><title>", ink_colour(name), a->name);
		lane_label(v, v->order[a->from], from, sizeof(from));
		lane_label(v, v->order[a->to], to, sizeof(to));
		put_text(v->out, name);
		fputs(": ", v->out);
		put_text(v->out, from);
		fputs(" to ", v->out);
		put_text(v->out, to);
		fputs("</title></path>\n", v->out);
	}
}

/* ---- axis, lanes, legend -------------------------------------------------- */

/* ceil() for the tick loop, without libm (mpvm does not link it); past 2^53 every double is whole. */
static double ceil_whole(double q)
{
	double c;

	if (q >= 9e15 || q <= -9e15)
		return q;
	c = (double)(int64_t)q;
	return c < q ? c + 1 : c;
}

static void draw_axis(struct view *v, double bottom)
{
	double raw = (v->t1 - v->t0) / 8, mag = 1, step;
	int exp10 = 0, decimals;

	/* A step of 1, 2 or 5 times a power of ten microseconds, about an eighth of the range. */
	while (mag * 10 <= raw) {
		mag *= 10;
		exp10++;
	}
	while (mag > raw) {
		mag /= 10;
		exp10--;
	}
	step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
	if (step == 10 * mag)
		exp10++;
	/* Labels in ms: as many decimals as the step needs (1e3 us is 1 ms, 0 decimals). */
	decimals = 3 - exp10;
	decimals = decimals < 0 ? 0 : decimals > 6 ? 6 : decimals;
	fputs("<g class=\"axis\" font-size=\"11\" fill=\"#444\" text-anchor=\"middle\">\n", v->out);
	for (int k = 0; k <= 40; k++) {
		double t = (ceil_whole(v->t0 / step) + k) * step, x;

		if (t > v->t1 + step * 1e-6)
			break;
		if (t < v->t0 - step * 1e-6)
			continue;
		x = x_of(v, t);
		fprintf(v->out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\" "
			"stroke-width=\"0.5\"/>\n", x, TOP - 4, x, bottom + 4);
		fprintf(v->out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%.*f</text>"
			"<text x=\"%.1f\" y=\"%.1f\">%.*f</text>\n",
			x, TOP - 8, decimals, t / 1000.0, x, bottom + 16, decimals, t / 1000.0);
	}
	fprintf(v->out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n</g>\n", PLOT_X + PLOT_W / 2, bottom + 32,
		v->m->nprocs && v->m->procs[0].name && !strcmp(v->m->procs[0].name, "mpvm")
			? "ms since the VM was created" : "ms");
}

static void draw_lanes(struct view *v)
{
	double font = v->lane_h - 2 > 12 ? 12 : v->lane_h - 2;
	unsigned int every = 1;
	char label[TRACE_READ_NAME_CHARS + 16];

	/* Thin lanes: a label on every few, at a readable size. */
	if (font < 8) {
		font = 8;
		every = (unsigned int)(10 / v->lane_h);
		every += every * v->lane_h < 10;
	}
	fputs("<g class=\"lanes\">\n", v->out);
	for (unsigned int r = 0; r < v->m->nlanes; r++) {
		double y = y_of(v, r);

		lane_label(v, v->order[r], label, sizeof(label));
		fprintf(v->out, "<rect class=\"lane\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"%s\"><title>", PLOT_X, y, PLOT_W, v->lane_h, r % 2 ? "#f4f4f4" : "#fafafa");
		put_text(v->out, label);
		fputs("</title></rect>\n", v->out);
		if (r % every)
			continue;
		fprintf(v->out, "<text class=\"lane-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" "
			"text-anchor=\"end\">", PLOT_X - 8, y + v->lane_h / 2 + font * 0.35, font);
		put_text(v->out, label);
		fputs("</text>\n", v->out);
	}
	fputs("</g>\n", v->out);
}

enum legend_kind { LEGEND_SPAN, LEGEND_ARROW, LEGEND_MARK };

/* The legend's items in order: MP states first (in lifecycle order), then other names. */
static unsigned int legend_items(const struct view *v, enum legend_kind k, uint32_t *out)
{
	const bool *used = k == LEGEND_SPAN ? v->span_used : k == LEGEND_ARROW ? v->arrow_used : v->mark_used;
	bool taken[TRACE_READ_NAMES_MAX] = { false };
	unsigned int n = 0;

	if (k == LEGEND_SPAN)
		for (size_t s = 0; s < COUNT(state_colours); s++)
			for (uint32_t i = 0; i < v->m->nnames; i++)
				if (used[i] && !strcmp(v->m->names[i], state_colours[s].name)) {
					out[n++] = i;
					taken[i] = true;
				}
	for (uint32_t i = 0; i < v->m->nnames; i++)
		if (used[i] && !taken[i])
			out[n++] = i;
	return n;
}

/* Lays out (draw false: only measures) the legend from y; returns the y below it. */
static double legend(struct view *v, double y, bool draw)
{
	static const char *const heads[] = { "spans (MP states)", "IPIs (arrows)", "instants" };
	uint32_t items[TRACE_READ_NAMES_MAX];

	if (draw)
		fputs("<g class=\"legend\" font-size=\"12\">\n", v->out);
	for (int k = LEGEND_SPAN; k <= LEGEND_MARK; k++) {
		unsigned int n = legend_items(v, (enum legend_kind)k, items);
		double x = PLOT_X;

		if (n == 0)
			continue;
		if (draw)
			fprintf(v->out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-weight=\"bold\">%s</text>\n",
				PLOT_X - 8, y + 10, heads[k]);
		for (unsigned int i = 0; i < n; i++) {
			const char *name = v->m->names[items[i]];
			double w = 24 + text_w(name, 12) + 18;

			if (x + w > SVG_W - 10 && x > PLOT_X) {
				x = PLOT_X;
				y += LEGEND_ROW;
			}
			if (draw) {
				fputs("<g class=\"legend-item\">", v->out);
				if (k == LEGEND_SPAN)
					fprintf(v->out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"12\" fill=\"%s\"/>",
						x, y, span_colour(name));
				else if (k == LEGEND_ARROW)
					fprintf(v->out, "<path d=\"M%.1f %.1fh14\" stroke=\"%s\" marker-end=\"url(#arrow%u)\"/>",
						x, y + 6, ink_colour(name), items[i]);
				else
					fprintf(v->out, "<path d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\" fill=\"%s\"/>", x + 9, y + 2,
						ink_colour(name));
				fprintf(v->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 24, y + 10);
				put_text(v->out, name);
				fputs("</text></g>\n", v->out);
			}
			x += w;
		}
		y += LEGEND_ROW;
	}
	if (draw)
		fputs("</g>\n", v->out);
	return y;
}

/* What the bounds left out or merged, for the reader (and as a comment). */
static void notes(const struct view *v, char *buf, size_t len)
{
	const struct trace_model *m = v->m;
	size_t n = 0;

#define NOTE(...) \
	do { \
		if (n < len) \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); \
	} while (0)
	buf[0] = '\0';
	if (m->writer_dropped)
		NOTE("the trace was truncated: mpvm dropped %llu events past its bound. ",
		     (unsigned long long)m->writer_dropped);
	if (m->cut)
		NOTE("the trace ends mid-event (its writer was stopped). ");
	if (v->spans_merged)
		NOTE("%llu spans narrower than %.1f px merged or drawn once. ",
		     (unsigned long long)v->spans_merged, v->merge_px);
	if (v->arrow_px)
		NOTE("dense IPIs: one arrow per pair of lanes and kind every %.0f px. ", v->arrow_px);
	if (v->rects_skipped || v->marks_skipped || v->arrows_skipped || m->skipped)
		NOTE("left out (renderer limits): %llu spans, %llu instants, %llu arrows, %llu events read. ",
		     (unsigned long long)v->rects_skipped, (unsigned long long)v->marks_skipped,
		     (unsigned long long)v->arrows_skipped, (unsigned long long)m->skipped);
#undef NOTE
}

int trace_svg_draw(const struct trace_model *m, const char *title, FILE *out, char *err, size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));
	struct trace_span *spans = NULL;
	struct trace_mark *marks = NULL;
	struct trace_flow_end *flows = NULL;
	double bottom, height, range;
	char note[512];
	int ret = -1;

	if (!v)
		goto oom;
	v->m = m;
	v->out = out;
	v->order = trace_lane_order(m);
	v->rank = malloc((m->nlanes + 1) * sizeof(*v->rank));
	spans = malloc((m->nspans + 1) * sizeof(*spans));
	marks = malloc((m->nmarks + 1) * sizeof(*marks));
	flows = malloc((m->nflows + 1) * sizeof(*flows));
	if (!v->order || !v->rank || !spans || !marks || !flows)
		goto oom;
	/* Copies, sorted here: the caller's model stays as it was. */
	if (m->nspans) /* (an empty vector is NULL, which memcpy() may not take) */
		memcpy(spans, m->spans, m->nspans * sizeof(*spans));
	if (m->nmarks)
		memcpy(marks, m->marks, m->nmarks * sizeof(*marks));
	if (m->nflows)
		memcpy(flows, m->flows, m->nflows * sizeof(*flows));
	for (unsigned int r = 0; r < m->nlanes; r++)
		v->rank[v->order[r]] = r;

	v->t0 = m->t_min <= m->t_max ? m->t_min : 0;
	v->t1 = m->t_min <= m->t_max ? m->t_max : 1000;
	range = v->t1 - v->t0;
	if (!(range >= 0.001)) { /* one instant, or all at one time: 1 ns at least */
		v->t1 = v->t0 + 0.001;
		range = 0.001;
	}
	v->scale = PLOT_W / range;
	v->lane_h = (double)(unsigned int)(LANES_H / m->nlanes);
	v->lane_h = v->lane_h > LANE_H_MAX ? LANE_H_MAX : v->lane_h < LANE_H_MIN ? LANE_H_MIN : v->lane_h;
	/* Few spans: each drawn exactly. Many: merge tiny ones so the lanes share TRACE_SVG_RECTS. */
	v->merge_px = m->nspans <= TRACE_SVG_RECTS ? 0 : 3.0 * PLOT_W * m->nlanes / TRACE_SVG_RECTS;
	if (v->merge_px > 0 && v->merge_px < 1)
		v->merge_px = 1;
	if (pair_flows(v, flows, m->nflows))
		goto oom;
	for (size_t i = 0; i < m->nspans; i++)
		v->span_used[spans[i].name] = true;
	for (size_t i = 0; i < m->nmarks; i++)
		if (!marks[i].ipi)
			v->mark_used[marks[i].name] = true;

	bottom = y_of(v, m->nlanes);
	height = legend(v, bottom + 48, false) + 10;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"sans-serif\">\n", SVG_W, height, SVG_W, height);
	fprintf(out, "<!-- mpvm trace-svg: %u lanes, %zu spans, %zu instants, %zu arrows; %.3f to %.3f ms -->\n",
		m->nlanes, m->nspans, m->nmarks, v->narrows, v->t0 / 1000, v->t1 / 1000);
	fputs("<title>", out);
	put_text(out, title);
	fputs("</title>\n<defs>\n", out);
	for (uint32_t i = 0; i < m->nnames; i++)
		if (v->arrow_used[i])
			fprintf(out, "<marker id=\"arrow%u\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
				"markerWidth=\"7\" markerHeight=\"7\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">"
				"<path d=\"M0 0L10 5L0 10z\" fill=\"%s\"/></marker>\n", i, ink_colour(m->names[i]));
	fputs("</defs>\n", out);
	fprintf(out, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", SVG_W, height);
	fprintf(out, "<text class=\"title\" x=\"%.1f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", PLOT_X);
	put_text(out, title);
	fprintf(out, "</text>\n<text class=\"summary\" x=\"%.1f\" y=\"44\" font-size=\"12\" fill=\"#444\">"
		"%u tracks, %zu spans, %llu IPIs, %zu instants, ", PLOT_X, m->nlanes, m->nspans,
		(unsigned long long)v->flows_paired, m->nmarks);
	put_ms(out, v->t0);
	fputs(" to ", out);
	put_ms(out, v->t1);
	fputs("</text>\n", out);

	draw_lanes(v);
	draw_axis(v, bottom);
	fputs("<g class=\"spans\" font-family=\"sans-serif\">\n", out);
	draw_spans(v, spans, m->nspans);
	fputs("</g>\n<g class=\"instants\">\n", out);
	draw_marks(v, marks, m->nmarks);
	fputs("</g>\n<g class=\"flows\" fill=\"none\" stroke-width=\"1\" stroke-opacity=\"0.85\">\n", out);
	draw_arrows(v);
	fputs("</g>\n", out);
	legend(v, bottom + 48, true);
	/* The notes come last because drawing decides them; they sit under the summary line. */
	notes(v, note, sizeof(note));
	if (note[0]) {
		fprintf(out, "<text class=\"note\" x=\"%.1f\" y=\"62\" font-size=\"12\" fill=\"#b71c1c\">", PLOT_X);
		put_text(out, note);
		fputs("</text>\n<!-- ", out);
		put_text(out, note);
		fputs(" -->\n", out);
	}
	fputs("</svg>\n", out);
	ret = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (v) {
		free(v->order);
		free(v->rank);
		free(v->arrows);
	}
	free(v);
	free(spans);
	free(marks);
	free(flows);
	return ret;
}

int trace_svg_render(FILE *in, const char *title, FILE *out, char *err, size_t errlen)
{
	struct trace_model m;
	int ret;

	if (trace_read(&m, in, err, errlen))
		return -1;
	ret = trace_svg_draw(&m, title, out, err, errlen);
	trace_model_free(&m);
	return ret;
}
