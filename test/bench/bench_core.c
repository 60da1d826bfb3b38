/*
 * bench_core.c - benchmarks of the PostgreSQL-free DES core.
 *
 * Every figure is printed next to a baseline measured in the same run, so the
 * ratio means something on any machine:
 *
 *   1. writer, 64 KiB entries, BLAKE2b on, LZ4 off        vs plain blake2b()
 *   2. writer, 256-byte entries, no hashing                vs raw write() of
 *      the same number of bytes through a 1 MiB buffer
 *   3. reader open of a large archive                      vs open + pread of
 *      the footer and the index region
 *      random des_reader_find by name                      vs direct indexing
 *      with the answer known (and, for information, binary search)
 *
 * Archives are written through des_local_sink_open into a temporary directory
 * on local disk and removed afterwards. Runs of pg_des and of its baseline are
 * interleaved; the median of the repetitions is reported.
 *
 * stdout: one tab-separated "ROW" line per table row (test/bench/run.sh
 * formats them): ROW metric pg_des baseline ratio goal met
 * stderr: progress and the individual measurements.
 *
 * Environment (defaults in brackets; BENCH_QUICK=1 or --quick shrinks them):
 *   BENCH_DIR            parent of the temporary directory [/tmp]
 *   BENCH_W64_MIB        MiB written in benchmark 1 [1024; quick 64]
 *   BENCH_W256_ENTRIES   entries in benchmark 2 [1000000; quick 100000]
 *   BENCH_READ_ENTRIES   entries of the reader archive [1000000; quick 100000]
 *   BENCH_LOOKUPS        random lookups per repetition [1000000; quick 200000]
 *   BENCH_WRITE_REPS     repetitions of writer benchmarks [3; quick 1]
 *   BENCH_READ_REPS      repetitions of reader benchmarks [5; quick 2]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "des/des_local.h"
#include "des/des_reader.h"
#include "des/des_writer.h"

#include <blake2.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define IO_BUFFER (1024 * 1024)

/* Reference figure from the format notes (Python writer, one core): not measured here. */
#define PYTHON_REF_256B_ENTRIES_PER_S 150000.0

static bool quick;
static char workdir[4096];
static volatile uint64_t sink_value;	/* keeps results observable */

/* ---------------------------------------------------------------- helpers */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_core: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
die_des(const char *what, const des_error *err)
{
	die("%s: %s (%s)", what, err->message, des_error_code_name(err->code));
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

static uint64_t
env_u64(const char *name, uint64_t def, uint64_t quick_def)
{
	const char *v = getenv(name);
	char	   *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return quick ? quick_def : def;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0)
		die("%s must be a positive integer, not \"%s\"", name, v);
	return (uint64_t) n;
}

/* splitmix64: deterministic data and choices, so runs are comparable */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
fill_random(unsigned char *p, size_t n)
{
	while (n >= 8)
	{
		uint64_t	v = rng_next();

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n > 0)
	{
		*p++ = (unsigned char) rng_next();
		n--;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

typedef struct stats
{
	double		median;
	double		min;
	double		max;
} stats;

static stats
summarize(const double *v, int n)
{
	double	   *s = xmalloc(sizeof(double) * n);
	stats		st;

	memcpy(s, v, sizeof(double) * n);
	qsort(s, n, sizeof(double), cmp_double);
	st.min = s[0];
	st.max = s[n - 1];
	st.median = (n % 2) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return st;
}

/* Table row on stdout; run.sh aligns the columns. */
static void
row(const char *metric, const char *pg, const char *base, double ratio,
	const char *goal, const char *met)
{
	printf("ROW\t%s\t%s\t%s\t%.2fx\t%s\t%s%s\n", metric, pg, base, ratio, goal, met,
		   (quick && strcmp(met, "-") != 0) ? " (quick)" : "");
	fflush(stdout);
}

static const char *
yes_no(bool ok)
{
	return ok ? "yes" : "NO";
}

static void
path_in_workdir(char *out, size_t outlen, const char *name)
{
	if ((size_t) snprintf(out, outlen, "%s/%s", workdir, name) >= outlen)
		die("path too long");
}

/* Remove everything in the work directory (writer temp files included). */
static void
cleanup_workdir(void)
{
	DIR		   *d;
	struct dirent *de;
	char		p[8192];

	if (workdir[0] == '\0')
		return;
	d = opendir(workdir);
	if (d != NULL)
	{
		while ((de = readdir(d)) != NULL)
		{
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", workdir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(workdir);
	workdir[0] = '\0';
}

/*
 * Baseline file writer: memcpy into a 1 MiB buffer, write() when full, fsync
 * at the end; the plain I/O a writer cannot avoid.
 */
typedef struct raw_file
{
	int			fd;
	unsigned char *buf;
	size_t		len;
	char		path[4200];
} raw_file;

static void
raw_flush(raw_file *f)
{
	const unsigned char *p = f->buf;
	size_t		n = f->len;

	while (n > 0)
	{
		ssize_t		w = write(f->fd, p, n);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			die("write %s: %s", f->path, strerror(errno));
		}
		p += w;
		n -= w;
	}
	f->len = 0;
}

static void
raw_open(raw_file *f, const char *name)
{
	path_in_workdir(f->path, sizeof(f->path), name);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		die("open %s: %s", f->path, strerror(errno));
	f->buf = xmalloc(IO_BUFFER);
	f->len = 0;
}

static inline void
raw_put(raw_file *f, const void *p, size_t n)
{
	if (f->len + n > IO_BUFFER)
		raw_flush(f);
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static void
raw_close(raw_file *f, bool do_fsync)
{
	raw_flush(f);
	if (do_fsync && fsync(f->fd) != 0)
		die("fsync %s: %s", f->path, strerror(errno));
	close(f->fd);
	free(f->buf);
}

/*
 * Remove a finished file outside the timed region and let the filesystem
 * settle (journal commit, discard of freed blocks), so the next timed run does
 * not pay for this one.
 */
static void
remove_and_settle(const char *path)
{
	int			fd;

	unlink(path);
	fd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
	{
		syncfs(fd);
		close(fd);
	}
}

/* Names "prefix%0*u" packed in one buffer; name i is names + off[i], len[i]. */
typedef struct name_set
{
	char	   *buf;
	uint64_t   *off;
	uint16_t   *len;
	uint64_t	n;
} name_set;

static void
make_names(name_set *s, uint64_t n, const char *fmt)
{
	size_t		cap = n * 48 + 64;
	size_t		pos = 0;

	s->buf = xmalloc(cap);
	s->off = xmalloc(sizeof(uint64_t) * n);
	s->len = xmalloc(sizeof(uint16_t) * n);
	s->n = n;
	for (uint64_t i = 0; i < n; i++)
	{
		int			k = snprintf(s->buf + pos, cap - pos, fmt, (unsigned) (i / 1000), (unsigned) i);

		if (k < 0 || (size_t) k >= cap - pos || k > 40)
			die("name buffer too small");
		s->off[i] = pos;
		s->len[i] = (uint16_t) k;
		pos += k;
	}
}

static void
free_names(name_set *s)
{
	free(s->buf);
	free(s->off);
	free(s->len);
}

static void
open_writer(const char *path, bool blake2b, des_sink *sink, des_writer **w)
{
	des_writer_options opt;
	des_error	err;

	des_writer_options_init(&opt);
	opt.blake2b = blake2b;
	opt.lz4 = false;
	if (!des_local_sink_open(path, workdir, sink, &err))
		die_des("des_local_sink_open", &err);
	if (!des_writer_open(sink, &opt, w, &err))
		die_des("des_writer_open", &err);
}

static void
check_archive(const char *path, uint64_t entries, const name_set *names,
			  const unsigned char *expect0, size_t len0, bool verify_hash)
{
	des_source	src;
	des_reader *r;
	des_error	err;
	des_buf		out = {0};
	des_read_options ro = {0};
	int64_t		idx;

	if (!des_local_source_open(path, &src, &err))
		die_des("des_local_source_open", &err);
	if (!des_reader_open(&src, NULL, &r, &err))
		die_des("des_reader_open", &err);
	if (des_reader_count(r) != entries)
		die("%s: %llu entries, expected %llu", path,
			(unsigned long long) des_reader_count(r), (unsigned long long) entries);
	idx = des_reader_find(r, names->buf + names->off[0], names->len[0]);
	ro.verify_hash = verify_hash;
	if (idx != 0 || !des_reader_get(r, 0, &ro, &out, &err))
		die("%s: entry 0 cannot be read back: %s", path, idx != 0 ? "not found" : err.message);
	if (out.len != len0 || memcmp(out.data, expect0, len0) != 0)
		die("%s: entry 0 reads back wrong bytes", path);
	des_buf_free(&out);
	des_reader_close(r);
	des_local_source_close(&src);
}

/* ------------------------------------------- 1. writer, 64 KiB, BLAKE2b */

static void
bench_writer_64k(void)
{
	const size_t esize = 64 * KIB;
	uint64_t	mib = env_u64("BENCH_W64_MIB", 1024, 64);
	int			reps = (int) env_u64("BENCH_WRITE_REPS", 3, 1);
	uint64_t	entries = mib * MIB / esize;
	size_t		npool = entries < 1024 ? entries : 1024;	/* 64 MiB: larger than any cache */
	unsigned char *pool = xmalloc(npool * esize);
	double	   *t_b2 = xmalloc(sizeof(double) * reps);
	double	   *t_fadd = xmalloc(sizeof(double) * reps);
	double	   *t_fall = xmalloc(sizeof(double) * reps);
	double	   *t_add = xmalloc(sizeof(double) * reps);
	double	   *t_all = xmalloc(sizeof(double) * reps);
	double		bytes = (double) entries * esize;
	name_set	names;
	char		path[4200];
	char		a[64], b[64], metric[128];
	stats		s_b2, s_fadd, s_fall, s_add, s_all;

	if (entries == 0)
		die("BENCH_W64_MIB too small");
	fprintf(stderr, "[1] writer: %llu entries of 64 KiB (%llu MiB), BLAKE2b on, LZ4 off, %d rep(s)\n",
			(unsigned long long) entries, (unsigned long long) mib, reps);
	fill_random(pool, npool * esize);
	make_names(&names, entries, "blob/%03u/%08u");
	path_in_workdir(path, sizeof(path), "w64k.des");

	for (int rep = 0; rep < reps; rep++)
	{
		unsigned char digest[DES_BLAKE2B_BYTES];
		uint64_t	acc = 0;
		des_sink	sink;
		des_writer *w;
		des_writer_summary sum;
		des_error	err;
		raw_file	rf;
		double		t0,
					t1,
					t2;

		/* baseline: blake2b() over the same buffers, in the same order */
		t0 = now_s();
		for (uint64_t i = 0; i < entries; i++)
		{
			blake2b(digest, pool + (i % npool) * esize, NULL, DES_BLAKE2B_BYTES, esize, 0);
			acc += digest[0];
		}
		t_b2[rep] = now_s() - t0;
		sink_value += acc;

		/* writer and I/O floor alternate which goes first */
		for (int turn = 0; turn < 2; turn++)
		{
			if ((turn + rep) % 2 == 0)
			{
				/* I/O floor: blake2b + buffered write() + fsync of the same bytes */
				t0 = now_s();
				raw_open(&rf, "w64k.raw");
				for (uint64_t i = 0; i < entries; i++)
				{
					const unsigned char *p = pool + (i % npool) * esize;

					blake2b(digest, p, NULL, DES_BLAKE2B_BYTES, esize, 0);
					acc += digest[0];
					raw_put(&rf, p, esize);
				}
				raw_flush(&rf);
				t1 = now_s();
				raw_close(&rf, true);
				t2 = now_s();
				remove_and_settle(rf.path);
				t_fadd[rep] = t1 - t0;
				t_fall[rep] = t2 - t0;
				sink_value += acc;
			}
			else
			{
				/* pg_des writer */
				t0 = now_s();
				open_writer(path, true, &sink, &w);
				for (uint64_t i = 0; i < entries; i++)
				{
					if (!des_writer_add(w, names.buf + names.off[i], names.len[i],
										pool + (i % npool) * esize, esize, NULL, 0, false, &err))
						die_des("des_writer_add", &err);
				}
				t1 = now_s();
				if (!des_writer_finish(w, &sum, &err))
					die_des("des_writer_finish", &err);
				t2 = now_s();
				des_local_sink_free(&sink);
				t_add[rep] = t1 - t0;
				t_all[rep] = t2 - t0;
				if (sum.entries != entries)
					die("writer summary has %llu entries", (unsigned long long) sum.entries);
				if (rep == reps - 1)
					check_archive(path, entries, &names, pool, esize, true);
				remove_and_settle(path);
			}
		}
		fprintf(stderr, "    rep %d: blake2b %.0f MB/s | writer add phase %.0f MB/s, incl. finish %.0f MB/s"
				" | b2+write() %.0f MB/s, incl. fsync %.0f MB/s\n",
				rep + 1, bytes / t_b2[rep] / 1e6, bytes / t_add[rep] / 1e6, bytes / t_all[rep] / 1e6,
				bytes / t_fadd[rep] / 1e6, bytes / t_fall[rep] / 1e6);
	}
	s_b2 = summarize(t_b2, reps);
	s_fadd = summarize(t_fadd, reps);
	s_fall = summarize(t_fall, reps);
	s_add = summarize(t_add, reps);
	s_all = summarize(t_all, reps);

	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_add.median / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / s_b2.median / 1e6);
	snprintf(metric, sizeof(metric), "1a writer 64KiB+blake2b, %llu MiB, add phase", (unsigned long long) mib);
	row(metric, a, b, s_b2.median / s_add.median, ">= 0.80x blake2b()",
		yes_no(s_b2.median / s_add.median >= 0.80));
	snprintf(b, sizeof(b), "%.0f MB/s b2+write()", bytes / s_fadd.median / 1e6);
	snprintf(metric, sizeof(metric), "1b writer 64KiB+blake2b, add phase");
	row(metric, a, b, s_fadd.median / s_add.median, "(info: vs I/O floor)", "-");

	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_all.median / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / s_b2.median / 1e6);
	snprintf(metric, sizeof(metric), "1c writer 64KiB+blake2b, incl. finish+fsync");
	row(metric, a, b, s_b2.median / s_all.median, ">= 0.80x blake2b()",
		yes_no(s_b2.median / s_all.median >= 0.80));
	snprintf(b, sizeof(b), "%.0f MB/s b2+write()+fsync", bytes / s_fall.median / 1e6);
	snprintf(metric, sizeof(metric), "1d writer 64KiB+blake2b, incl. finish+fsync");
	row(metric, a, b, s_fall.median / s_all.median, "(info: vs I/O floor)", "-");

	free_names(&names);
	free(pool);
	free(t_b2);
	free(t_fadd);
	free(t_fall);
	free(t_add);
	free(t_all);
}

/* ------------------------------------------ 2. writer, 256 B, no hashing */

static void
bench_writer_256(void)
{
	const size_t esize = 256;
	uint64_t	entries = env_u64("BENCH_W256_ENTRIES", 1000000, 100000);
	int			reps = (int) env_u64("BENCH_WRITE_REPS", 3, 1);
	size_t		npool = 4096;
	unsigned char *pool = xmalloc(npool * esize);
	double	   *t_radd = xmalloc(sizeof(double) * reps);
	double	   *t_rall = xmalloc(sizeof(double) * reps);
	double	   *t_add = xmalloc(sizeof(double) * reps);
	double	   *t_all = xmalloc(sizeof(double) * reps);
	unsigned char *filler = xmalloc(IO_BUFFER);
	uint64_t	archive_bytes = 0;
	name_set	names;
	char		path[4200];
	char		a[64], b[64], metric[128];
	stats		s_radd, s_rall, s_add, s_all;
	double		n = (double) entries;

	fprintf(stderr, "[2] writer: %llu entries of 256 B, hashing off, %d rep(s)\n",
			(unsigned long long) entries, reps);
	fill_random(pool, npool * esize);
	memset(filler, 0x5a, IO_BUFFER);
	make_names(&names, entries, "obj/%04u/%08u");
	path_in_workdir(path, sizeof(path), "w256.des");

	for (int rep = 0; rep < reps; rep++)
	{
		des_sink	sink;
		des_writer *w;
		des_writer_summary sum;
		des_error	err;
		raw_file	rf;
		uint64_t	rest;
		double		t0,
					t1,
					t2;

		/* the writer goes first in rep 1 (the baseline needs its size), then they alternate */
		for (int turn = 0; turn < 2; turn++)
		{
			if ((turn + rep) % 2 == 0)
			{
				/* pg_des writer */
				t0 = now_s();
				open_writer(path, false, &sink, &w);
				for (uint64_t i = 0; i < entries; i++)
				{
					if (!des_writer_add(w, names.buf + names.off[i], names.len[i],
										pool + (i % npool) * esize, esize, NULL, 0, false, &err))
						die_des("des_writer_add", &err);
				}
				t1 = now_s();
				if (!des_writer_finish(w, &sum, &err))
					die_des("des_writer_finish", &err);
				t2 = now_s();
				des_local_sink_free(&sink);
				t_add[rep] = t1 - t0;
				t_all[rep] = t2 - t0;
				archive_bytes = sum.archive_bytes;
				if (rep == reps - 1)
					check_archive(path, entries, &names, pool, esize, false);
				remove_and_settle(path);
			}
			else
			{
				/*
				 * baseline: the same payloads memcpy'd into a 1 MiB buffer and
				 * write()n, then filler up to the archive's total size (its meta,
				 * index and footer), so both write the same number of bytes.
				 */
				t0 = now_s();
				raw_open(&rf, "w256.raw");
				for (uint64_t i = 0; i < entries; i++)
					raw_put(&rf, pool + (i % npool) * esize, esize);
				rest = archive_bytes - entries * esize;
				while (rest > 0)
				{
					size_t		k = rest > IO_BUFFER ? IO_BUFFER : rest;

					raw_put(&rf, filler, k);
					rest -= k;
				}
				raw_flush(&rf);
				t1 = now_s();
				raw_close(&rf, true);
				t2 = now_s();
				remove_and_settle(rf.path);
				t_radd[rep] = t1 - t0;
				t_rall[rep] = t2 - t0;
			}
		}
		fprintf(stderr, "    rep %d: writer add phase %.2f M entries/s, incl. finish %.2f M/s | raw write() %.2f M/s, incl. fsync %.2f M/s (archive %.1f MB)\n",
				rep + 1, n / t_add[rep] / 1e6, n / t_all[rep] / 1e6,
				n / t_radd[rep] / 1e6, n / t_rall[rep] / 1e6, archive_bytes / 1e6);
	}
	s_radd = summarize(t_radd, reps);
	s_rall = summarize(t_rall, reps);
	s_add = summarize(t_add, reps);
	s_all = summarize(t_all, reps);

	snprintf(metric, sizeof(metric), "2a writer 256B no hash, %llu entries, add phase",
			 (unsigned long long) entries);
	snprintf(a, sizeof(a), "%.2f M entries/s", n / s_add.median / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s raw write()", n / s_radd.median / 1e6);
	row(metric, a, b, s_radd.median / s_add.median, ">= 1.00 M entries/s",
		yes_no(n / s_add.median >= 1e6));

	snprintf(metric, sizeof(metric), "2b writer 256B no hash, incl. finish+fsync");
	snprintf(a, sizeof(a), "%.2f M entries/s", n / s_all.median / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s write()+fsync", n / s_rall.median / 1e6);
	row(metric, a, b, s_rall.median / s_all.median, ">= 1.00 M entries/s",
		yes_no(n / s_all.median >= 1e6));

	snprintf(metric, sizeof(metric), "2c writer 256B no hash, incl. finish+fsync");
	snprintf(b, sizeof(b), "0.15 M/s Python (doc)");
	row(metric, a, b, n / s_all.median / PYTHON_REF_256B_ENTRIES_PER_S,
		"(info: reference constant)", "-");

	free_names(&names);
	free(pool);
	free(filler);
	free(t_radd);
	free(t_rall);
	free(t_add);
	free(t_all);
}

/* ----------------------------------------------------- 3. reader */

typedef struct sorted_name
{
	const char *p;
	uint32_t	len;
	uint32_t	idx;
} sorted_name;

static int
cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int
cmp_sorted(const void *x, const void *y)
{
	const sorted_name *a = x;
	const sorted_name *b = y;

	return cmp_name(a->p, a->len, b->p, b->len);
}

static int64_t
bsearch_name(const sorted_name *s, uint64_t n, const char *name, size_t len)
{
	uint64_t	lo = 0,
				hi = n;

	while (lo < hi)
	{
		uint64_t	mid = lo + (hi - lo) / 2;
		int			c = cmp_name(s[mid].p, s[mid].len, name, len);

		if (c == 0)
			return s[mid].idx;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* What a reader cannot avoid: open, stat, read the footer, read the index. */
static double
raw_open_index(const char *path)
{
	double		t0 = now_s();
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char foot[DES_FOOTER_SIZE];
	uint64_t	istart,
				ilen;
	unsigned char *buf;
	size_t		done = 0;
	double		t;

	if (fd < 0 || fstat(fd, &st) != 0)
		die("open %s: %s", path, strerror(errno));
	if (pread(fd, foot, sizeof(foot), st.st_size - DES_FOOTER_SIZE) != DES_FOOTER_SIZE)
		die("pread footer of %s", path);
	istart = des_get_u64(foot + 48);
	ilen = des_get_u64(foot + 56);
	buf = xmalloc(ilen);
	while (done < ilen)
	{
		ssize_t		k = pread(fd, buf + done, ilen - done, istart + done);

		if (k <= 0)
			die("pread index of %s", path);
		done += k;
	}
	t = now_s() - t0;
	sink_value += buf[ilen / 2];
	free(buf);
	close(fd);
	return t;
}

static void
bench_reader(void)
{
	uint64_t	entries = env_u64("BENCH_READ_ENTRIES", 1000000, 100000);
	uint64_t	lookups = env_u64("BENCH_LOOKUPS", 1000000, 200000);
	int			reps = (int) env_u64("BENCH_READ_REPS", 5, 2);
	const size_t esize = 100;
	unsigned char payload[100];
	name_set	names;
	char		path[4200];
	des_sink	sink;
	des_writer *w;
	des_writer_summary sum;
	des_error	err;
	des_source	src;
	des_reader *r;
	double	   *t_open = xmalloc(sizeof(double) * reps);
	double	   *t_raw = xmalloc(sizeof(double) * reps);
	double	   *t_find = xmalloc(sizeof(double) * reps);
	double	   *t_direct = xmalloc(sizeof(double) * reps);
	double	   *t_bs = xmalloc(sizeof(double) * reps);
	uint32_t   *qidx;
	char	   *qbuf;
	uint64_t   *qoff;
	uint16_t   *qlen;
	sorted_name *sorted;
	size_t		qpos = 0;
	char		a[64], b[64], metric[128];
	stats		s_open, s_raw, s_find, s_direct, s_bs;
	double		nl = (double) lookups;

	fprintf(stderr, "[3] reader: archive of %llu entries (100 B payloads), %llu random lookups, %d rep(s)\n",
			(unsigned long long) entries, (unsigned long long) lookups, reps);
	fill_random(payload, sizeof(payload));
	make_names(&names, entries, "photos/%04u/img_%08u.jpg");
	path_in_workdir(path, sizeof(path), "read.des");
	open_writer(path, false, &sink, &w);
	for (uint64_t i = 0; i < entries; i++)
	{
		if (!des_writer_add(w, names.buf + names.off[i], names.len[i], payload, esize,
							NULL, 0, false, &err))
			die_des("des_writer_add", &err);
	}
	if (!des_writer_finish(w, &sum, &err))
		die_des("des_writer_finish", &err);
	des_local_sink_free(&sink);
	fprintf(stderr, "    archive %.1f MB, index region %.1f MB (page cache warm: just written)\n",
			sum.archive_bytes / 1e6,
			(double) (sum.archive_bytes - DES_HEADER_SIZE - DES_FOOTER_SIZE - sum.stored_bytes) / 1e6);

	/* open: des_local_source_open + des_reader_open vs open + pread index */
	raw_open_index(path);		/* warm-up */
	for (int rep = 0; rep < reps; rep++)
	{
		double		t0;

		t_raw[rep] = raw_open_index(path);
		t0 = now_s();
		if (!des_local_source_open(path, &src, &err))
			die_des("des_local_source_open", &err);
		if (!des_reader_open(&src, NULL, &r, &err))
			die_des("des_reader_open", &err);
		t_open[rep] = now_s() - t0;
		if (des_reader_count(r) != entries)
			die("reader sees %llu entries", (unsigned long long) des_reader_count(r));
		des_reader_close(r);
		des_local_source_close(&src);
		fprintf(stderr, "    rep %d: open %.1f ms | open+pread index %.1f ms\n",
				rep + 1, t_open[rep] * 1e3, t_raw[rep] * 1e3);
	}

	/* lookups: random existing names, drawn before timing */
	if (!des_local_source_open(path, &src, &err))
		die_des("des_local_source_open", &err);
	if (!des_reader_open(&src, NULL, &r, &err))
		die_des("des_reader_open", &err);
	qidx = xmalloc(sizeof(uint32_t) * lookups);
	qoff = xmalloc(sizeof(uint64_t) * lookups);
	qlen = xmalloc(sizeof(uint16_t) * lookups);
	qbuf = xmalloc(lookups * 48);
	for (uint64_t i = 0; i < lookups; i++)
	{
		uint32_t	k = (uint32_t) (rng_next() % entries);

		qidx[i] = k;
		qoff[i] = qpos;
		qlen[i] = names.len[k];
		memcpy(qbuf + qpos, names.buf + names.off[k], names.len[k]);
		qpos += names.len[k];
	}
	sorted = xmalloc(sizeof(sorted_name) * entries);
	for (uint64_t i = 0; i < entries; i++)
	{
		const des_entry *e = des_reader_entry(r, i);

		sorted[i].p = e->name;
		sorted[i].len = e->name_len;
		sorted[i].idx = (uint32_t) i;
	}
	qsort(sorted, entries, sizeof(sorted_name), cmp_sorted);

	for (int rep = 0; rep < reps; rep++)
	{
		uint64_t	acc = 0;
		double		t0;

		/*
		 * Oracle floor: the answer is known; fetch that entry and touch its
		 * name, as find must at least do once per lookup.
		 */
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
		{
			const des_entry *e = des_reader_entry(r, qidx[i]);

			acc += (uint64_t) e->name[e->name_len - 1] + qbuf[qoff[i]];
		}
		t_direct[rep] = now_s() - t0;
		sink_value += acc;

		/* pg_des: des_reader_find */
		acc = 0;
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
			acc += (uint64_t) des_reader_find(r, qbuf + qoff[i], qlen[i]);
		t_find[rep] = now_s() - t0;
		sink_value += acc;

		/* information: binary search over the names sorted beforehand */
		acc = 0;
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
			acc += (uint64_t) bsearch_name(sorted, entries, qbuf + qoff[i], qlen[i]);
		t_bs[rep] = now_s() - t0;
		sink_value += acc;
		fprintf(stderr, "    rep %d: des_reader_find %.2f M/s | direct indexing %.2f M/s | binary search %.2f M/s\n",
				rep + 1, nl / t_find[rep] / 1e6, nl / t_direct[rep] / 1e6, nl / t_bs[rep] / 1e6);
	}
	/* correctness of what was timed */
	for (uint64_t i = 0; i < lookups; i++)
	{
		if (des_reader_find(r, qbuf + qoff[i], qlen[i]) != (int64_t) qidx[i])
			die("des_reader_find returned a wrong entry for lookup %llu", (unsigned long long) i);
	}
	des_reader_close(r);
	des_local_source_close(&src);
	unlink(path);

	s_open = summarize(t_open, reps);
	s_raw = summarize(t_raw, reps);
	s_find = summarize(t_find, reps);
	s_direct = summarize(t_direct, reps);
	s_bs = summarize(t_bs, reps);

	snprintf(metric, sizeof(metric), "3a reader open, %llu entries (warm cache)", (unsigned long long) entries);
	snprintf(a, sizeof(a), "%.1f ms", s_open.median * 1e3);
	snprintf(b, sizeof(b), "%.1f ms open+pread index", s_raw.median * 1e3);
	row(metric, a, b, s_open.median / s_raw.median, "< 300 ms", yes_no(s_open.median < 0.300));

	snprintf(metric, sizeof(metric), "3b reader find, %llu random names", (unsigned long long) lookups);
	snprintf(a, sizeof(a), "%.2f M lookups/s", nl / s_find.median / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s direct index", nl / s_direct.median / 1e6);
	row(metric, a, b, s_direct.median / s_find.median, ">= 1.00 M lookups/s",
		yes_no(nl / s_find.median >= 1e6));

	snprintf(metric, sizeof(metric), "3c reader find, %llu random names", (unsigned long long) lookups);
	snprintf(b, sizeof(b), "%.2f M/s binary search", nl / s_bs.median / 1e6);
	row(metric, a, b, s_bs.median / s_find.median, "(info: vs sorted array)", "-");

	free(sorted);
	free(qidx);
	free(qoff);
	free(qlen);
	free(qbuf);
	free_names(&names);
	free(t_open);
	free(t_raw);
	free(t_find);
	free(t_direct);
	free(t_bs);
}

int
main(int argc, char **argv)
{
	const char *parent;
	const char *q = getenv("BENCH_QUICK");
	const char *only = getenv("BENCH_ONLY");

	quick = q != NULL && *q != '\0' && strcmp(q, "0") != 0;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else
			die("usage: %s [--quick]  (sizes: see the environment variables in bench_core.c)", argv[0]);
	}
	parent = getenv("BENCH_DIR");
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	if ((size_t) snprintf(workdir, sizeof(workdir), "%s/pg_des_bench.XXXXXX", parent) >= sizeof(workdir))
		die("BENCH_DIR too long");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp %s: %s", workdir, strerror(errno));
	atexit(cleanup_workdir);
	fprintf(stderr, "bench_core: %s mode, files in %s\n", quick ? "QUICK" : "full", workdir);

	if (only == NULL || strchr(only, '1'))
		bench_writer_64k();
	if (only == NULL || strchr(only, '2'))
		bench_writer_256();
	if (only == NULL || strchr(only, '3'))
		bench_reader();
	return 0;
}
