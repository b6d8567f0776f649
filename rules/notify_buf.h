/* A growable text buffer for the notification formatters. Allocation
 * failure is sticky: every later append is a no-op and nbuf_ok() is false,
 * so a formatter checks once at the end. */
#ifndef WT_RULES_NOTIFY_BUF_H
#define WT_RULES_NOTIFY_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct nbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void nbuf_add(struct nbuf *b, const char *s, size_t n);
void nbuf_puts(struct nbuf *b, const char *s);
void nbuf_putc(struct nbuf *b, char c);
void nbuf_printf(struct nbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when no allocation failed; the text is NUL-terminated. */
bool nbuf_ok(const struct nbuf *b);
void nbuf_free(struct nbuf *b);

#endif
