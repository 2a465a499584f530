// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench contended, uncontended, scale and kernel-faults: what a
 * faulting thread does in a round (threads.c runs the rounds). It writes
 * one byte per page of its region and zaps the pages with MADV_DONTNEED
 * (with --latency, each write timed into a reservoir of samples); under
 * kernel-faults it pread()s a file into the zapped region instead, so that
 * copy_to_user takes the faults. churn's round is in churn.c. The path
 * bench's user and kernel cases use the same loops.
 */
#include "bench.h"

int data_fd = -1;

static unsigned char pattern(long page)
{
	return (unsigned char)(page % 251 + 1);	/* never 0: the zero page must not pass */
}

/* kernel-faults: an unlinked temp file of cfg.pages pages of pattern(). */
int make_data_file(void)
{
	char path[] = "/tmp/vmashadow_bench.XXXXXX";
	char *buf;
	int fd;

	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return -1;
	}
	if (unlink(path)) {
		perror("unlink");
		close(fd);
		return -1;
	}
	buf = malloc(page_size);
	if (!buf) {
		perror("malloc");
		close(fd);
		return -1;
	}
	for (long i = 0; i < cfg.pages; i++) {
		memset(buf, pattern(i), page_size);
		if (pwrite(fd, buf, page_size, i * page_size) != page_size) {
			perror("pwrite(data file)");
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	return fd;
}

static uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Reservoir sampling: every fault has the same chance to be kept. */
static void record_latency(struct worker *w, uint64_t ns)
{
	uint64_t j;

	if (ns > w->lat_max)
		w->lat_max = ns;
	if (w->nsamples < w->cap) {
		w->samples[w->nsamples++] = ns;
	} else {
		j = xorshift64(&w->rng) % (w->seen + 1);
		if (j < w->cap)
			w->samples[j] = ns;
	}
	w->seen++;
}

/* Write a byte to each of the first @np pages of the thread's region. */
void touch_pages(struct worker *w, long np)
{
	volatile char *p = w->region;

	for (long i = 0; i < np; i++)
		p[i * page_size] = 1;
}

static void touch_pages_timed(struct worker *w)
{
	volatile char *p = w->region;
	uint64_t t0;

	for (long i = 0; i < cfg.pages; i++) {
		t0 = now_ns();
		p[i * page_size] = 1;
		record_latency(w, now_ns() - t0);
	}
}

/*
 * Fill the first @np pages of the zapped buffer from the file:
 * copy_to_user takes the faults.
 */
int read_pages(struct worker *w, long np)
{
	size_t len = np * page_size, done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(data_fd, w->region + done, len - done, done);
		if (n < 0)
			return fail(&w->err, &w->errnum, "pread");
		if (n == 0) {
			errno = EIO;
			return fail(&w->err, &w->errnum, "pread: short file");
		}
		done += n;
	}
	for (long i = 0; i < np; i++) {
		if ((unsigned char)w->region[i * page_size] != pattern(i)) {
			errno = EIO;
			return fail(&w->err, &w->errnum, "pread: wrong data");
		}
	}
	return 0;
}

/* One round over the thread's pages; @measured counts it and times it. */
int fault_round(struct worker *w, bool measured)
{
	size_t len = cfg.pages * page_size;

	if (cfg.scenario == SC_CHURN) {
		if (churn_pages(w))
			return -1;
	} else if (cfg.scenario == SC_KERNEL_FAULTS) {
		if (madvise(w->region, len, MADV_DONTNEED))
			return fail(&w->err, &w->errnum, "madvise(MADV_DONTNEED)");
		if (read_pages(w, cfg.pages))
			return -1;
	} else {
		if (measured && cfg.latency)
			touch_pages_timed(w);
		else
			touch_pages(w, cfg.pages);
		if (madvise(w->region, len, MADV_DONTNEED))
			return fail(&w->err, &w->errnum, "madvise(MADV_DONTNEED)");
	}
	if (measured)
		w->touched += cfg.pages;
	return 0;
}

/*
 * Sample buffers are allocated and written before the run: a first write
 * to one of their pages during the measured window would be a fault too.
 */
int alloc_samples(struct worker *w)
{
	long cap = LAT_SAMPLES / cfg.threads;

	if (cap < MIN_LAT_SAMPLES)
		cap = MIN_LAT_SAMPLES;
	for (int i = 0; i < cfg.threads; i++) {
		w[i].samples = malloc(cap * sizeof(*w[i].samples));
		if (!w[i].samples) {
			perror("malloc(samples)");
			return -1;
		}
		memset(w[i].samples, 0, cap * sizeof(*w[i].samples));
		w[i].cap = cap;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
	}
	return 0;
}
