/*
 * `mpvm trace-svg`: a Chrome trace (core/trace.h writes one; others are
 * read as core/trace_read.h says) drawn as one self-contained SVG, no
 * script: a title, one lane per track in sort order (each vCPU, the VM),
 * its spans as rectangles coloured by name (the MP states in fixed
 * colours) on a common time axis with ticks in milliseconds, instants as
 * small diamonds, flows (IPIs) as arrows from the sender's lane to the
 * target's, and a legend of the span colours, arrow kinds and instants.
 * Hovering over a span, instant or arrow shows its <title>.
 *
 * The picture stays readable and bounded whatever the trace: lanes get
 * thinner as there are more (28 px down to 3), lane labels and the names
 * inside spans appear only where they fit; with more than
 * TRACE_SVG_RECTS spans, runs of spans each narrower than a few pixels are
 * merged into one rectangle in the colour of the state that took most of
 * their time, and instants and arrows landing on the same pixels are drawn
 * once, up to TRACE_SVG_MARKS and TRACE_SVG_ARROWS (beyond those, thinned
 * evenly over the time range); past TRACE_SVG_ARROWS_DENSE arrows (an IPI
 * storm) one per pair of lanes every few pixels. A note under the title
 * (and an XML comment) says what was merged or left out, so a 100 MiB
 * trace gives an SVG of a few MiB at most.
 */
#ifndef MPVM_CORE_TRACE_SVG_H
#define MPVM_CORE_TRACE_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "core/trace_read.h"

#define TRACE_SVG_RECTS 40000
#define TRACE_SVG_MARKS 20000
#define TRACE_SVG_ARROWS 10000
#define TRACE_SVG_ARROWS_DENSE 2000

/*
 * Reads the trace in `in` and writes the SVG to `out`, headed by `title`
 * (the file's name, say). 0, or -1 with the reason in err; on a bad trace
 * nothing is written to out.
 */
int trace_svg_render(FILE *in, const char *title, FILE *out, char *err, size_t errlen);

/* The same from a trace already read. -1 only if out of memory. */
int trace_svg_draw(const struct trace_model *m, const char *title, FILE *out, char *err, size_t errlen);

#endif
