#include "spool.h"

#include "log.h"
#include "pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "WTSPOOL1"
#define HDR 60 /* magic 8, crc 4, fixed fields 48 */

struct entry {
	uint64_t seq;
	uint64_t size;
};

struct wt_spool {
	char *dir;
	int dirfd;
	uint64_t max_bytes, bytes, next_seq;
	struct entry *e; /* ring-less array; head index moves, compacted on growth */
	size_t head, n, cap;
};

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	static int done;
	if (done)
		return;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	done = 1;
}

uint32_t wt_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	crc_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		      crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int push(struct wt_spool *s, uint64_t seq, uint64_t size)
{
	if (s->head + s->n == s->cap) {
		if (s->head > 0) {
			memmove(s->e, s->e + s->head, s->n * sizeof(*s->e));
			s->head = 0;
		} else {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct entry *e = realloc(s->e, cap * sizeof(*e));
			if (!e)
				return -ENOMEM;
			s->e = e;
			s->cap = cap;
		}
	}
	s->e[s->head + s->n++] = (struct entry){seq, size};
	s->bytes += size;
	return 0;
}

static void name_of(uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64 ".batch", seq);
}

int wt_spool_open(struct wt_spool **out, const char *dir, uint64_t max_bytes)
{
	struct wt_spool *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir);
	s->max_bytes = max_bytes;
	s->dirfd = -1;
	if (!s->dir)
		goto nomem;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		int e = errno;
		wt_error("spool: cannot create %s: %s", dir, strerror(e));
		wt_spool_close(s);
		return -e;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = s->dirfd >= 0 ? fdopendir(dup(s->dirfd)) : NULL;
	if (!d) {
		int e = errno;
		wt_error("spool: cannot open %s: %s", dir, strerror(e));
		wt_spool_close(s);
		return -e;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t seq;
		char check[64];
		struct stat st;
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			/* A write interrupted by a crash: never acknowledged. */
			(void)unlinkat(s->dirfd, de->d_name, 0);
			continue;
		}
		if (sscanf(de->d_name, "%16" SCNx64, &seq) != 1)
			continue;
		name_of(seq, check, sizeof(check));
		if (strcmp(check, de->d_name) != 0 || fstatat(s->dirfd, de->d_name, &st, 0) < 0)
			continue;
		if (push(s, seq, (uint64_t)st.st_size) < 0) {
			closedir(d);
			goto nomem;
		}
		if (seq >= s->next_seq)
			s->next_seq = seq + 1;
	}
	closedir(d);
	if (s->n)
		qsort(s->e, s->n, sizeof(*s->e), cmp_entry);
	if (s->n)
		wt_notice("spool: %zu batches (%" PRIu64 " bytes) waiting in %s", s->n, s->bytes,
			  dir);
	*out = s;
	return 0;
nomem:
	wt_spool_close(s);
	return -ENOMEM;
}

void wt_spool_close(struct wt_spool *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->e);
	free(s->dir);
	free(s);
}

void wt_spool_set_max(struct wt_spool *s, uint64_t max_bytes)
{
	s->max_bytes = max_bytes;
}

uint64_t wt_spool_bytes(const struct wt_spool *s)
{
	return s->bytes;
}

size_t wt_spool_count(const struct wt_spool *s)
{
	return s->n;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int wt_spool_put(struct wt_spool *s, const struct wt_batch *b, bool force)
{
	uint64_t size = HDR + b->copy_len;
	if (!force && s->max_bytes && s->bytes + size > s->max_bytes)
		return -ENOSPC;

	unsigned char *buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	unsigned char *p = buf;
	memcpy(p, MAGIC, 8);
	p += 12; /* crc filled below */
	wt_be64(p, b->id);
	p[8] = b->level;
	p[9] = p[10] = p[11] = 0;
	wt_be32(p + 12, b->rows);
	wt_be32(p + 16, b->samples);
	wt_be32(p + 20, 0); /* reserved */
	wt_be64(p + 24, (uint64_t)b->min_ts);
	wt_be64(p + 32, (uint64_t)b->max_ts);
	wt_be64(p + 40, b->copy_len);
	p += 48;
	memcpy(p, b->copy, b->copy_len);
	wt_be32(buf + 8, wt_crc32c(0, buf + 12, size - 12));

	char name[64], tmp[80];
	uint64_t seq = s->next_seq;
	name_of(seq, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	int rc = 0;
	int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, buf, size);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(s->dirfd, tmp, s->dirfd, name) < 0)
		rc = -errno;
	if (rc == 0 && fsync(s->dirfd) < 0)
		rc = -errno;
	free(buf);
	if (rc < 0) {
		(void)unlinkat(s->dirfd, tmp, 0);
		wt_error("spool: cannot write %s/%s: %s", s->dir, name, strerror(-rc));
		return rc;
	}
	s->next_seq++;
	return push(s, seq, size);
}

static void quarantine(struct wt_spool *s, const char *name, const char *why)
{
	char bad[80];
	snprintf(bad, sizeof(bad), "%s.bad", name);
	wt_error("spool: %s/%s is %s; moved aside as %s, its data is not replayed", s->dir, name,
		 why, bad);
	(void)renameat(s->dirfd, name, s->dirfd, bad);
	(void)fsync(s->dirfd);
}

static int drop_head(struct wt_spool *s)
{
	s->bytes -= s->e[s->head].size;
	s->head++;
	s->n--;
	return 0;
}

int wt_spool_peek(struct wt_spool *s, struct wt_batch **out)
{
	*out = NULL;
	while (s->n) {
		char name[64];
		name_of(s->e[s->head].seq, name, sizeof(name));
		int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			wt_error("spool: cannot read %s/%s: %s", s->dir, name, strerror(e));
			return -e;
		}
		size_t size = (size_t)st.st_size;
		unsigned char *buf = size >= HDR ? malloc(size) : NULL;
		ssize_t got = buf ? pread(fd, buf, size, 0) : -1;
		close(fd);
		const char *why = NULL;
		if (size < HDR)
			why = "truncated";
		else if (!buf)
			return -ENOMEM;
		else if (got != (ssize_t)size)
			why = "unreadable";
		else if (memcmp(buf, MAGIC, 8) != 0)
			why = "not a spool file";
		else if (wt_rd32(buf + 8) != wt_crc32c(0, buf + 12, size - 12))
			why = "corrupt (checksum mismatch)";
		struct wt_batch *b = NULL;
		if (!why) {
			const unsigned char *p = buf + 12;
			uint64_t clen = wt_rd64(p + 40);
			if (p[8] > WT_LEVEL_DAY || clen != size - HDR)
				why = "inconsistent";
			else if (!(b = calloc(1, sizeof(*b))))
				goto nomem;
			else {
				b->id = wt_rd64(p);
				b->level = p[8];
				b->rows = wt_rd32(p + 12);
				b->samples = wt_rd32(p + 16);
				b->min_ts = (int64_t)wt_rd64(p + 24);
				b->max_ts = (int64_t)wt_rd64(p + 32);
				b->copy_len = b->copy_cap = clen;
				b->copy = malloc(clen ? clen : 1);
				if (!b->copy)
					goto nomem;
				memcpy(b->copy, buf + HDR, clen);
			}
		}
		free(buf);
		if (why) {
			quarantine(s, name, why);
			drop_head(s);
			continue;
		}
		*out = b;
		return 0;
	nomem:
		free(buf);
		wt_batch_free(b);
		return -ENOMEM;
	}
	return -ENOENT;
}

int wt_spool_pop(struct wt_spool *s)
{
	char name[64];
	if (!s->n)
		return -ENOENT;
	name_of(s->e[s->head].seq, name, sizeof(name));
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
		int e = errno;
		wt_error("spool: cannot remove %s/%s: %s", s->dir, name, strerror(e));
		return -e;
	}
	/* Without this a crash could resurrect the file: harmless (the batch
	 * id is in storage_batches) but wasteful. */
	(void)fsync(s->dirfd);
	return drop_head(s);
}
