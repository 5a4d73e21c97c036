// SPDX-License-Identifier: GPL-2.0
/* agentctl's print layer: see print.h. */
#include <stdio.h>

#include "print.h"

#define PR_MAX_DEPTH	8

static struct {
	int json;
	int depth;
	int first[PR_MAX_DEPTH];	/* nothing printed yet at this level */
	int in_array[PR_MAX_DEPTH];
} pr;

void pr_init(int json)
{
	pr.json = json;
	pr.depth = 0;
}

static void indent(void)
{
	int i;

	for (i = 1; i < pr.depth; i++)
		fputs("  ", stdout);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* JSON: the comma and the key; human: the indented "key: " */
static void key(const char *k)
{
	if (pr.json) {
		if (!pr.first[pr.depth])
			putchar(',');
		pr.first[pr.depth] = 0;
		if (k && !pr.in_array[pr.depth]) {
			json_str(k);
			putchar(':');
		}
		return;
	}
	indent();
	if (k)
		printf("%s: ", k);
}

static void push(int array)
{
	if (pr.depth < PR_MAX_DEPTH - 1)
		pr.depth++;
	pr.first[pr.depth] = 1;
	pr.in_array[pr.depth] = array;
}

void pr_open(const char *k)
{
	if (pr.json) {
		if (pr.depth)
			key(k);
		putchar('{');
	} else if (k && pr.depth) {
		indent();
		printf("%s:\n", k);
	} else if (pr.depth && pr.in_array[pr.depth]) {
		indent();
		printf("-\n");
	}
	push(0);
}

void pr_close(void)
{
	if (pr.depth)
		pr.depth--;
	if (pr.json) {
		putchar('}');
		if (!pr.depth)
			putchar('\n');
	}
}

void pr_array_open(const char *k)
{
	if (pr.json) {
		key(k);
		putchar('[');
	} else {
		indent();
		printf("%s:\n", k);
	}
	push(1);
}

void pr_array_close(void)
{
	if (pr.depth)
		pr.depth--;
	if (pr.json)
		putchar(']');
}

void pr_u64(const char *k, uint64_t v)
{
	key(k);
	printf("%llu", (unsigned long long)v);
	if (!pr.json)
		putchar('\n');
}

void pr_str(const char *k, const char *s)
{
	key(k);
	if (pr.json)
		json_str(s);
	else
		printf("%s\n", s);
}

void pr_float(const char *k, double v, const char *unit)
{
	key(k);
	if (pr.json)
		printf("%.6g", v);
	else
		printf("%.2f%s%s\n", v, unit && *unit ? " " : "",
		       unit ? unit : "");
}

void pr_bool(const char *k, int v)
{
	key(k);
	if (pr.json)
		fputs(v ? "true" : "false", stdout);
	else
		puts(v ? "yes" : "no");
}
