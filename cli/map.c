/* SPDX-License-Identifier: MIT */
/*
 * map.c - `contigctl map`: a picture of the pool's physical memory, the one
 * an operator looks at to understand fragmentation.
 *
 * The PAGES table comes in physical order. Each line shows consecutive
 * pages of one run (physically adjacent, one node), labelled with the
 * physical address of its first page; a marker line separates runs that
 * are not adjacent (with the size of the hole) or change node. A line has
 * a power of two of cells, as many as the width allows. One cell is
 * one page, or on pools too large for MAP_MAX_LINES lines a group of
 * 2^k pages of one run, drawn as their common state or '+' when they
 * differ. Placeholder pages (reclaiming, no frame yet) are drawn on a line
 * of their own, so the cells always add up to the pool.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmds.h"

#define MAP_MAX_LINES 64
#define MAP_MIN_CELLS 8
#define STATE_MIXED   0xfe

struct cell_style {
	char ch;
	const char *color;
	const char *meaning;
};

static const struct cell_style styles[] = {
	[PROTO_PAGE_FREE] = { '.', "\033[32m", "free (zeroed)" },
	[PROTO_PAGE_USED] = { '#', "\033[1;31m", "used" },
	[PROTO_PAGE_RECLAIMING] = { 'r', "\033[33m", "reclaiming" },
	[PROTO_PAGE_QUARANTINED] = { 'q', "\033[35m", "quarantined" },
	[PROTO_PAGE_LOST] = { 'X', "\033[1;37;41m", "lost" },
};
#define NSTYLES (sizeof(styles) / sizeof(styles[0]))
static const struct cell_style mixed_style = { '+', "\033[36m", "mixed (group)" };
static const struct cell_style unknown_style = { '?', "\033[7m", "unknown" };

static const struct cell_style *style_of(uint8_t state)
{
	if (state == STATE_MIXED)
		return &mixed_style;
	return state < NSTYLES ? &styles[state] : &unknown_style;
}

struct map {
	const struct proto_page_item *pages;
	size_t nreal;            /* pages[0..nreal) have real addresses */
	size_t npages;           /* the rest are placeholders */
	uint64_t ps;
	unsigned label_w;        /* "0x" and hex digits */
	unsigned width;          /* columns of a line */
	unsigned cols;           /* cells per line */
	unsigned group;          /* pages per cell */
	bool color;
	const char *cur_color;   /* colour in effect on this line */
};

static int terminal_width(void)
{
	struct winsize ws;
	const char *env;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	env = getenv("COLUMNS");
	if (env && atoi(env) > 0)
		return atoi(env);
	return 80;
}

/* Does page k+1 continue the run page k is in? */
static bool same_run(const struct map *m, size_t k)
{
	return m->pages[k + 1].phys - m->pages[k].phys == m->ps &&
	       m->pages[k + 1].node == m->pages[k].node;
}

/* End (exclusive) of the run of real pages that starts at k. */
static size_t run_end(const struct map *m, size_t k)
{
	while (k + 1 < m->nreal && same_run(m, k))
		k++;
	return k + 1;
}

static size_t lines_of(size_t pages, unsigned group, unsigned cols)
{
	size_t cells = (pages + group - 1) / group;

	return (cells + cols - 1) / cols;
}

/* Lines the whole map takes with group pages per cell. */
static size_t map_lines(const struct map *m, unsigned group)
{
	size_t lines = lines_of(m->npages - m->nreal, group, m->cols);

	for (size_t k = 0, e; k < m->nreal; k = e) {
		e = run_end(m, k);
		lines += lines_of(e - k, group, m->cols);
	}
	return lines;
}

static size_t longest_run(const struct map *m)
{
	size_t longest = m->npages - m->nreal;

	for (size_t k = 0, e; k < m->nreal; k = e) {
		e = run_end(m, k);
		if (e - k > longest)
			longest = e - k;
	}
	return longest;
}

static void layout(struct map *m, int width)
{
	uint64_t top = m->nreal ? m->pages[m->nreal - 1].phys : 0;
	unsigned digits = 8, room;

	while (digits < 16 && (top >> (4 * digits)))
		digits++;
	m->label_w = 2 + digits;
	m->width = (unsigned)width;
	room = width > (int)m->label_w + 1 ? (unsigned)width - m->label_w - 1 : 0;
	/* A power of two: line labels then fall on round addresses. */
	m->cols = MAP_MIN_CELLS;
	while (m->cols * 2 <= room)
		m->cols *= 2;
	/* Grow cells until the map fits, or until a line holds the longest
	 * run: then every run has one line, and bigger cells would only hide
	 * detail (a pool fragmented into many short runs stays long). */
	m->group = 1;
	while (map_lines(m, m->group) > MAP_MAX_LINES &&
	       (size_t)m->group * m->cols < longest_run(m))
		m->group *= 2;
}

/* The state that pages[k..e) share, or STATE_MIXED. */
static uint8_t group_state(const struct map *m, size_t k, size_t e)
{
	uint8_t s = m->pages[k].state;

	for (size_t i = k + 1; i < e; i++)
		if (m->pages[i].state != s)
			return STATE_MIXED;
	return s;
}

static void put_cell(struct map *m, uint8_t state)
{
	const struct cell_style *st = style_of(state);

	if (m->color && m->cur_color != st->color) {
		fputs(st->color, stdout);
		m->cur_color = st->color;
	}
	putchar(st->ch);
}

static void end_line(struct map *m)
{
	if (m->color && m->cur_color)
		fputs("\033[0m", stdout);
	m->cur_color = NULL;
	putchar('\n');
}

/* Draw pages[k..e) (one run, or the placeholders) with its labels. */
static void draw_stretch(struct map *m, size_t k, size_t e, bool placeholders)
{
	unsigned col = 0;

	for (size_t i = k; i < e; i += m->group) {
		size_t ge = i + m->group < e ? i + m->group : e;

		if (col == 0) {
			if (placeholders)
				printf("%-*s ", (int)m->label_w, "(no frame)");
			else
				printf("0x%0*" PRIx64 " ", (int)m->label_w - 2, m->pages[i].phys);
		}
		put_cell(m, group_state(m, i, ge));
		if (++col == m->cols) {
			end_line(m);
			col = 0;
		}
	}
	if (col)
		end_line(m);
}

/* The marker between the run that ended at page k-1 and the one at k. */
static void draw_gap(const struct map *m, size_t k)
{
	const struct proto_page_item *a = &m->pages[k - 1], *b = &m->pages[k];
	uint64_t end = a->phys + m->ps;
	char buf[32];

	if (b->phys > end)
		printf("%*s ~~ gap of %s ~~\n", (int)m->label_w, "",
		       fmt_bytes(b->phys - end, buf, sizeof(buf)));
	else
		printf("%*s ~~ node %d | node %d ~~\n", (int)m->label_w, "", (int)a->node,
		       (int)b->node);
}

/* One legend entry, wrapped to the map's width. */
static void legend_item(struct map *m, const struct cell_style *st, const char *text,
			unsigned *col)
{
	unsigned len = 4 + (unsigned)strlen(text);

	if (*col + len > m->width && *col > 0) {
		printf("\n       ");
		*col = 7;
	}
	printf("  %s%c%s %s", m->color ? st->color : "", st->ch, m->color ? "\033[0m" : "", text);
	*col += len;
}

static void draw_legend(struct map *m, const size_t *count)
{
	unsigned col = 7;
	char a[32], b[32], text[64];

	printf("legend:");
	for (size_t s = 0; s < NSTYLES; s++) {
		snprintf(text, sizeof(text), "%s %zu", styles[s].meaning, count[s]);
		legend_item(m, &styles[s], text, &col);
	}
	if (m->group > 1)
		legend_item(m, &mixed_style, mixed_style.meaning, &col);
	printf("\n1 cell = %u page%s of %s (%s)\nlabel: physical address of first page\n",
	       m->group, m->group > 1 ? "s" : "", fmt_bytes(m->ps, a, sizeof(a)),
	       fmt_bytes(m->ps * m->group, b, sizeof(b)));
}

static void map_text(struct map *m, int width)
{
	size_t count[NSTYLES] = { 0 }, runs = 0;
	char a[32];

	for (size_t i = 0; i < m->npages; i++)
		if (m->pages[i].state < NSTYLES)
			count[m->pages[i].state]++;
	layout(m, width);
	for (size_t k = 0, e; k < m->nreal; k = e, runs++)
		e = run_end(m, k);
	printf("pool %s: %zu pages, %zu run%s\n", fmt_bytes(m->npages * m->ps, a, sizeof(a)),
	       m->npages, runs, runs == 1 ? "" : "s");
	for (size_t k = 0, e; k < m->nreal; k = e) {
		if (k)
			draw_gap(m, k);
		e = run_end(m, k);
		draw_stretch(m, k, e, false);
	}
	if (m->npages > m->nreal) {
		printf("%zu page%s reclaiming, no frame yet:\n", m->npages - m->nreal,
		       m->npages - m->nreal == 1 ? "" : "s");
		draw_stretch(m, m->nreal, m->npages, true);
	}
	draw_legend(m, count);
}

static void map_json(const struct map *m)
{
	printf("{\"page_size\":%" PRIu64 ",\"pages\":[", m->ps);
	for (size_t i = 0; i < m->npages; i++) {
		const struct proto_page_item *p = &m->pages[i];
		printf("%s{\"phys\":%" PRIu64 ",\"state\":\"%s\",\"node\":%d,\"placeholder\":%s}",
		       i ? "," : "", p->phys, page_state_name(p->state), (int)p->node,
		       i >= m->nreal ? "true" : "false");
	}
	printf("]}\n");
}

int cmd_map(struct conn *c, const struct cmd_opts *o)
{
	struct proto_page_item *pages;
	struct map m = { .ps = c->hello.page_size, .color = o->color };
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_PAGES, sizeof(*pages), (void **)&pages, &n);
	if (r < 0)
		return r;
	m.pages = pages;
	m.npages = n;
	/* Physical order puts the placeholders last. */
	while (m.nreal < n && pages[m.nreal].phys < CLI_PLACEHOLDER_PHYS)
		m.nreal++;
	if (o->json)
		map_json(&m);
	else
		map_text(&m, o->width ? o->width : terminal_width());
	free(pages);
	return 0;
}
