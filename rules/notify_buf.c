#include "notify_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(struct nbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->oom = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void nbuf_add(struct nbuf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void nbuf_puts(struct nbuf *b, const char *s)
{
	if (s)
		nbuf_add(b, s, strlen(s));
}

void nbuf_putc(struct nbuf *b, char c)
{
	nbuf_add(b, &c, 1);
}

void nbuf_printf(struct nbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

bool nbuf_ok(const struct nbuf *b)
{
	return !b->oom && b->s;
}

void nbuf_free(struct nbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}
