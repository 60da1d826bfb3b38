/*
 * bench_core.c - benchmarks of the PostgreSQL-free DES core.
 *
 * Every figure is printed next to a baseline measured in the same run, so the
 * ratio means something on any machine:
 *
 *   1. writer, 64 KiB entries, BLAKE2b on, LZ4 off      vs plain blake2b() over
 *      the same buffers; for information also vs blake2b + write() (+ fsync)
 *      of the same bytes, and the writer into a null sink (no I/O)
 *   2. writer, 256-byte entries, hashing off             vs raw write() of as
 *      many bytes through a 1 MiB buffer (+ fsync); for information the
 *      Python reference constant and the writer into a null sink
 *   3. reader open of a 1,000,000-entry archive          vs open + pread of the
 *      footer and the index region
 *      random des_reader_find by name                    vs direct indexing
 *      with the answer known (and, for information, binary search)
 *   9. content-defined chunking (FastCDC, default 16/64/256 KiB) of a
 *      buffer in memory                                  vs plain blake2b()
 *      of the same buffer (chunking alone; chunking + BLAKE2b-256 of each
 *      chunk, one shot and streamed in 1 MiB pieces)
 *      bytes shared after a 100-byte insertion mid-file  vs fixed positional
 *      2 MiB blocks (Datamon's leaves)
 *  10. (BENCH_ONLY letter c) the CSV record reader over a generated CSV in
 *      memory (numbers, quoted text with commas and "", dates, embedded
 *      line breaks), one shot and streamed in 1 MiB pieces
 *                                                        vs a plain memchr()
 *      scan for '\n' over the same bytes (a lower bound for any line reader)
 *
 * Archives are written through des_local_sink_open into a temporary directory
 * on local disk and removed afterwards. pg_des and its baseline alternate
 * within each repetition, each timed file write preceded by the same
 * page-cache warm-up (see warm_up); one extra "cold" run shows the case
 * without it. The table reports the best repetition of each (least disturbed
 * by other load); stderr shows every repetition and best / median / worst.
 *
 * stdout: one tab-separated line per table row, formatted by test/bench/run.sh:
 *   ROW <metric> <pg_des> <baseline> <ratio pg_des/baseline> <goal> <met>
 * stderr: progress and every individual measurement.
 *
 * Environment (default; BENCH_QUICK=1 or --quick for a smoke test):
 *   BENCH_DIR            parent of the temporary directory      [/tmp]
 *   BENCH_ONLY           which benchmarks, e.g. "13"            [1239c]
 *   BENCH_W64_MIB        MiB written by benchmark 1             [1024; quick 64]
 *   BENCH_W256_ENTRIES   entries written by benchmark 2         [1000000; quick 100000]
 *   BENCH_READ_ENTRIES   entries of the reader's archive        [1000000; quick 100000]
 *   BENCH_LOOKUPS        random lookups per repetition          [1000000; quick 200000]
 *   BENCH_WRITE_REPS     repetitions of benchmarks 1 and 2      [5; quick 1]
 *   BENCH_READ_REPS      repetitions of benchmark 3             [5; quick 2]
 *   BENCH_CHUNK_MIB      MiB chunked by benchmark 9             [256; quick 32]
 *   BENCH_DEDUP_MIB      MiB of the edited file of benchmark 9  [64; quick 16]
 *   BENCH_CHUNK_REPS     repetitions of benchmark 9             [5; quick 1]
 *   BENCH_CSV_MIB        MiB of CSV read by benchmark 10        [256; quick 32]
 *   BENCH_CSV_REPS       repetitions of benchmark 10            [3; quick 1]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "des/chunk/des_chunker.h"
#include "des/io/des_local.h"
#include "des/profile/des_csv.h"
#include "des/format/des_reader.h"
#include "des/format/des_writer.h"

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

/*
 * Reference figure from the format notes (the Python writer, one core, this
 * machine kind): a constant, not measured here.
 */
#define PYTHON_REF_256B_ENTRIES_PER_S 150000.0

static bool quick;
static char workdir[4096];
static volatile uint64_t sink_value;	/* keeps timed results observable */

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
static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

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

/* ------------------------------------------------------------ statistics */

/* Durations (seconds) of one measured series, one per repetition. */
typedef struct series
{
	const char *label;
	double	   *t;
	int			n;
	double		best;			/* filled by finish_series */
	double		median;
	double		worst;
} series;

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
init_series(series *s, const char *label, int reps)
{
	s->label = label;
	s->t = xmalloc(sizeof(double) * reps);
	s->n = 0;
}

static void
add_sample(series *s, double t)
{
	s->t[s->n++] = t;
}

/*
 * Sort the samples and print best / median / worst, as a rate of work units
 * per second (unit "MB/s" counts 1e6 units) or, if work is 0, as a time in ms.
 */
static void
finish_series(series *s, double work, double scale, const char *unit)
{
	qsort(s->t, s->n, sizeof(double), cmp_double);
	s->best = s->t[0];
	s->worst = s->t[s->n - 1];
	s->median = (s->n % 2) ? s->t[s->n / 2] : (s->t[s->n / 2 - 1] + s->t[s->n / 2]) / 2;
	if (work > 0)
		fprintf(stderr, "    %-44s best %9.2f  median %9.2f  worst %9.2f %s\n", s->label,
				work / s->best / scale, work / s->median / scale, work / s->worst / scale, unit);
	else
		fprintf(stderr, "    %-44s best %9.1f  median %9.1f  worst %9.1f ms\n", s->label,
				s->best * 1e3, s->median * 1e3, s->worst * 1e3);
	free(s->t);
	s->t = NULL;
}

/* Table row on stdout; run.sh aligns the columns. ratio = pg_des / baseline. */
static void
row(const char *metric, const char *pg, const char *base, double ratio,
	const char *goal, const char *met)
{
	printf("ROW\t%s\t%s\t%s\t%.3gx\t%s\t%s%s\n", metric, pg, base, ratio, goal, met,
		   (quick && strcmp(met, "-") != 0) ? " (quick mode)" : "");
	fflush(stdout);
}

static const char *
yes_no(bool ok)
{
	return ok ? "yes" : "NO";
}

/* ------------------------------------------------------------ files */

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
 * Remove a finished file outside the timed region and let the filesystem
 * settle (journal commit, discard of freed blocks), so the next timed run
 * does not pay for this one.
 */
static void
remove_and_settle(const char *path)
{
	int			fd;

	unlink(path);
	fd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
	{
		if (syncfs(fd) != 0)
			die("syncfs %s: %s", workdir, strerror(errno));
		close(fd);
	}
}

/*
 * Baseline file writer: memcpy into a 1 MiB buffer, write() when full, fsync
 * at the end: the plain I/O any writer of these bytes has to do. With
 * fd = -1 it only copies (the CPU floor of a buffered writer).
 */
typedef struct raw_file
{
	int			fd;
	unsigned char *buf;
	size_t		len;
	char		path[4200];
} raw_file;

static void
raw_open(raw_file *f, const char *name)
{
	f->buf = xmalloc(IO_BUFFER);
	f->len = 0;
	f->fd = -1;
	f->path[0] = '\0';
	if (name == NULL)
		return;
	path_in_workdir(f->path, sizeof(f->path), name);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		die("open %s: %s", f->path, strerror(errno));
}

static void
raw_flush(raw_file *f)
{
	const unsigned char *p = f->buf;
	size_t		n = f->len;

	while (f->fd >= 0 && n > 0)
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
	if (f->fd < 0 && f->len > 0)
		sink_value += f->buf[f->len - 1];
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
	if (f->fd >= 0)
	{
		if (do_fsync && fsync(f->fd) != 0)
			die("fsync %s: %s", f->path, strerror(errno));
		close(f->fd);
	}
	free(f->buf);
}

/*
 * Page-cache warm-up. In this kind of VM, guest memory left free for a second
 * or two is handed back to the host, and the next write() into the page cache
 * runs about 10x slower while the host faults it back in (perf: all the time
 * in copy_folio_from_iter_atomic). Writing and deleting (without fsync, so no
 * disk I/O) a scratch file of the same size right before a timed file write
 * puts every contender in the same, steady state. The cold case is measured
 * separately (cold_pause).
 */
static void
warm_up(uint64_t bytes)
{
	raw_file	f;

	raw_open(&f, "warmup.tmp");
	memset(f.buf, 0xa5, IO_BUFFER);
	while (bytes > 0)
	{
		size_t		k = bytes > IO_BUFFER ? IO_BUFFER : bytes;

		f.len = k;
		raw_flush(&f);
		bytes -= k;
	}
	raw_close(&f, false);
	unlink(f.path);
}

#define COLD_PAUSE_S 3

static void
cold_pause(void)
{
	sleep(COLD_PAUSE_S);
}

/* ------------------------------------------------------------ archives */

/* Entry names packed in one buffer; name i is buf + off[i], len[i] bytes. */
typedef struct name_set
{
	char	   *buf;
	uint64_t   *off;
	uint16_t   *len;
	uint64_t	n;
} name_set;

/* fmt takes two unsigned: a "directory" (i / 1000) and the entry number. */
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

		if (k <= 0 || k > 47)
			die("entry name too long");
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

/* A sink that discards everything: the writer's own CPU cost, no I/O. */
static bool
null_write(void *ctx, const void *buf, size_t len, des_error *err)
{
	return true;
}

static bool
null_commit(void *ctx, des_error *err)
{
	return true;
}

static void
null_abort(void *ctx)
{
}

static bool
null_put_external(void *ctx, const char *key, const void *data, size_t len, des_error *err)
{
	return true;
}

static const des_sink null_sink = {null_write, null_commit, null_abort, null_put_external, NULL};

/* path NULL: the null sink */
static void
open_writer(const char *path, bool blake2b, des_sink *sink, des_writer **w)
{
	des_writer_options opt;
	des_error	err;

	des_writer_options_init(&opt);
	opt.blake2b = blake2b;
	opt.lz4 = false;
	if (path == NULL)
		*sink = null_sink;
	else if (!des_local_sink_open(path, sink, &err))
		die_des("des_local_sink_open", &err);
	if (!des_writer_open(sink, &opt, w, &err))
		die_des("des_writer_open", &err);
}

/* Sanity check of what was timed: count, lookup, bytes and hash of entry 0. */
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
	if (idx != 0)
		die("%s: entry 0 not found by name", path);
	if (!des_reader_get(r, 0, &ro, &out, &err))
		die_des("des_reader_get", &err);
	if (out.len != len0 || memcmp(out.data, expect0, len0) != 0)
		die("%s: entry 0 reads back wrong bytes", path);
	des_buf_free(&out);
	des_reader_close(r);
	des_local_source_close(&src);
}

/*
 * One writing workload: entries of esize bytes cycled from a pool, named from
 * a name set, with or without BLAKE2b.
 */
typedef struct workload
{
	const unsigned char *pool;
	size_t		npool;
	size_t		esize;
	uint64_t	entries;
	const name_set *names;
	bool		blake2b;
	char		path[4200];		/* the archive */
	uint64_t	archive_bytes;	/* set by run_writer */
} workload;

/*
 * pg_des writer into the archive file (to_file) or the null sink. *t_add:
 * open + every des_writer_add; *t_all: also des_writer_finish (meta, index,
 * footer, fsync, rename, directory fsync).
 */
static void
run_writer(workload *wl, bool to_file, bool check, double *t_add, double *t_all)
{
	des_sink	sink;
	des_writer *w;
	des_writer_summary sum;
	des_error	err;
	double		t0,
				t1,
				t2;

	t0 = now_s();
	open_writer(to_file ? wl->path : NULL, wl->blake2b, &sink, &w);
	for (uint64_t i = 0; i < wl->entries; i++)
	{
		if (!des_writer_add(w, wl->names->buf + wl->names->off[i], wl->names->len[i],
							wl->pool + (i % wl->npool) * wl->esize, wl->esize, NULL, 0, false, &err))
			die_des("des_writer_add", &err);
	}
	t1 = now_s();
	if (!des_writer_finish(w, &sum, &err))
		die_des("des_writer_finish", &err);
	t2 = now_s();
	*t_add = t1 - t0;
	*t_all = t2 - t0;
	if (sum.entries != wl->entries)
		die("writer summary has %llu entries", (unsigned long long) sum.entries);
	wl->archive_bytes = sum.archive_bytes;
	if (to_file)
	{
		des_local_sink_free(&sink);
		if (check)
			check_archive(wl->path, wl->entries, wl->names, wl->pool, wl->esize, wl->blake2b);
		remove_and_settle(wl->path);
	}
}

/*
 * Baseline: the same payloads (hashed with blake2b() if the workload hashes)
 * memcpy'd into a 1 MiB buffer and write()n, then filler up to the archive's
 * size (its meta, index and footer), then fsync. to_file false: copy only.
 */
static void
run_raw(const workload *wl, bool to_file, double *t_add, double *t_all)
{
	raw_file	rf;
	unsigned char digest[DES_BLAKE2B_BYTES];
	uint64_t	acc = 0;
	uint64_t	rest = wl->archive_bytes > wl->entries * wl->esize ?
		wl->archive_bytes - wl->entries * wl->esize : 0;
	double		t0,
				t1,
				t2;

	t0 = now_s();
	raw_open(&rf, to_file ? "raw.tmp" : NULL);
	for (uint64_t i = 0; i < wl->entries; i++)
	{
		const unsigned char *p = wl->pool + (i % wl->npool) * wl->esize;

		if (wl->blake2b)
		{
			blake2b(digest, p, NULL, DES_BLAKE2B_BYTES, wl->esize, 0);
			acc += digest[0];
		}
		raw_put(&rf, p, wl->esize);
	}
	while (rest > 0)
	{
		size_t		room = IO_BUFFER - rf.len;
		size_t		k = rest < room ? rest : room;

		memset(rf.buf + rf.len, 0x5a, k);
		rf.len += k;
		rest -= k;
		if (rf.len == IO_BUFFER)
			raw_flush(&rf);
	}
	raw_flush(&rf);
	t1 = now_s();
	raw_close(&rf, true);
	t2 = now_s();
	sink_value += acc;
	*t_add = t1 - t0;
	*t_all = t2 - t0;
	if (to_file)
		remove_and_settle(rf.path);
}

/* plain blake2b() over the workload's buffers, in the same order */
static double
run_blake2b(const workload *wl)
{
	unsigned char digest[DES_BLAKE2B_BYTES];
	uint64_t	acc = 0;
	double		t0 = now_s();

	for (uint64_t i = 0; i < wl->entries; i++)
	{
		blake2b(digest, wl->pool + (i % wl->npool) * wl->esize, NULL, DES_BLAKE2B_BYTES, wl->esize, 0);
		acc += digest[0];
	}
	sink_value += acc;
	return now_s() - t0;
}

/* ------------------------------------------- 1. writer, 64 KiB, BLAKE2b */

static void
bench_writer_64k(void)
{
	uint64_t	mib = env_u64("BENCH_W64_MIB", 1024, 64);
	int			reps = (int) env_u64("BENCH_WRITE_REPS", 5, 1);
	workload	wl = {0};
	name_set	names;
	unsigned char *pool;
	double		bytes;
	double		ta,
				tf;
	double		cold_w = 0,
				cold_b2 = 0;
	char		a[64], b[64], metric[128];
	series		s_b2, s_null, s_fadd, s_fall, s_add, s_all, s_pc;

	wl.esize = 64 * KIB;
	wl.entries = mib * MIB / wl.esize;
	wl.npool = wl.entries < 1024 ? wl.entries : 1024;	/* 64 MiB: beyond any cache */
	wl.blake2b = true;
	if (wl.entries == 0)
		die("BENCH_W64_MIB too small");
	bytes = (double) wl.entries * wl.esize;
	fprintf(stderr, "[1] writer: %llu entries of 64 KiB (%llu MiB), BLAKE2b on, LZ4 off, %d rep(s)\n",
			(unsigned long long) wl.entries, (unsigned long long) mib, reps);
	pool = xmalloc(wl.npool * wl.esize);
	fill_random(pool, wl.npool * wl.esize);
	wl.pool = pool;
	make_names(&names, wl.entries, "blob/%03u/%08u");
	wl.names = &names;
	path_in_workdir(wl.path, sizeof(wl.path), "w64k.des");
	init_series(&s_b2, "blake2b() only", reps);
	init_series(&s_null, "pg_des writer, null sink (no I/O)", reps);
	init_series(&s_fadd, "blake2b + write()", reps);
	init_series(&s_fall, "blake2b + write() + fsync", reps);
	init_series(&s_add, "pg_des writer, add phase", reps);
	init_series(&s_all, "pg_des writer, incl. finish (fsync, rename)", reps);
	init_series(&s_pc, "pg_des writer, page cache (direct_io off), incl. finish", reps);

	for (int rep = 0; rep < reps; rep++)
	{
		add_sample(&s_b2, run_blake2b(&wl));
		/* the writer as before O_DIRECT: every byte through the page cache */
		warm_up(wl.entries * wl.esize);
		des_local_direct_io = false;
		run_writer(&wl, true, false, &ta, &tf);
		des_local_direct_io = true;
		add_sample(&s_pc, tf);
		run_writer(&wl, false, false, &ta, &tf);
		add_sample(&s_null, tf);
		/* the file writers take turns going first; each after a warm-up */
		for (int turn = 0; turn < 2; turn++)
		{
			warm_up(wl.entries * wl.esize);
			if ((turn + rep) % 2 == 0)
			{
				run_raw(&wl, true, &ta, &tf);
				add_sample(&s_fadd, ta);
				add_sample(&s_fall, tf);
			}
			else
			{
				run_writer(&wl, true, rep == reps - 1, &ta, &tf);
				add_sample(&s_add, ta);
				add_sample(&s_all, tf);
			}
		}
		fprintf(stderr, "    rep %d: blake2b %.0f | null sink %.0f | writer add %.0f, +finish %.0f"
				" | b2+write() %.0f, +fsync %.0f MB/s\n", rep + 1,
				bytes / s_b2.t[rep] / 1e6, bytes / s_null.t[rep] / 1e6,
				bytes / s_add.t[rep] / 1e6, bytes / s_all.t[rep] / 1e6,
				bytes / s_fadd.t[rep] / 1e6, bytes / s_fall.t[rep] / 1e6);
	}
	if (!quick)
	{
		/* one cold run: no warm-up, after an idle pause */
		cold_pause();
		run_writer(&wl, true, false, &cold_w, &tf);
		cold_b2 = run_blake2b(&wl);
		fprintf(stderr, "    cold (after %d s idle, no warm-up): writer add phase %.0f MB/s, blake2b %.0f MB/s\n",
				COLD_PAUSE_S, bytes / cold_w / 1e6, bytes / cold_b2 / 1e6);
	}
	finish_series(&s_b2, bytes, 1e6, "MB/s");
	finish_series(&s_null, bytes, 1e6, "MB/s");
	finish_series(&s_fadd, bytes, 1e6, "MB/s");
	finish_series(&s_fall, bytes, 1e6, "MB/s");
	finish_series(&s_add, bytes, 1e6, "MB/s");
	finish_series(&s_all, bytes, 1e6, "MB/s");
	finish_series(&s_pc, bytes, 1e6, "MB/s");

	snprintf(metric, sizeof(metric), "1a writer 64KiB+blake2b, %llu MiB, add phase", (unsigned long long) mib);
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_add.best / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / s_b2.best / 1e6);
	row(metric, a, b, s_b2.best / s_add.best, ">= 0.80x blake2b()",
		yes_no(s_b2.best / s_add.best >= 0.80));
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_all.best / 1e6);
	row("1b   same, incl. finish+fsync", a, b, s_b2.best / s_all.best,
		">= 0.80x blake2b()", yes_no(s_b2.best / s_all.best >= 0.80));
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_null.best / 1e6);
	row("1c   same, null sink (writer CPU only)", a, b, s_b2.best / s_null.best,
		"(info: no I/O)", "-");
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_add.best / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s b2+write()", bytes / s_fadd.best / 1e6);
	row("1d   add phase vs hashing + write()", a, b, s_fadd.best / s_add.best,
		"(info: I/O floor)", "-");
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_all.best / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s b2+write()+fsync", bytes / s_fall.best / 1e6);
	row("1e   incl. finish vs hashing + write() + fsync", a, b, s_fall.best / s_all.best,
		"(info: I/O floor)", "-");
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_pc.best / 1e6);
	snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / s_b2.best / 1e6);
	row("1i   incl. finish, page cache (des.direct_io off)", a, b, s_b2.best / s_pc.best,
		"(info: before O_DIRECT)", "-");
	if (!quick)
	{
		snprintf(metric, sizeof(metric), "1f   add phase, cold (after %d s idle)", COLD_PAUSE_S);
		snprintf(a, sizeof(a), "%.0f MB/s", bytes / cold_w / 1e6);
		snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / cold_b2 / 1e6);
		row(metric, a, b, cold_b2 / cold_w, "(info: one run)", "-");
	}
	free_names(&names);
	free(pool);
}

/* ------------------------------------------ 2. writer, 256 B, no hashing */

static void
bench_writer_256(void)
{
	int			reps = (int) env_u64("BENCH_WRITE_REPS", 5, 1);
	workload	wl = {0};
	name_set	names;
	unsigned char *pool;
	double		n;
	double		ta,
				tf;
	double		cold_w = 0,
				cold_r = 0;
	char		a[64], b[64], metric[128];
	series		s_copy, s_null, s_radd, s_rall, s_add, s_all;

	wl.esize = 256;
	wl.entries = env_u64("BENCH_W256_ENTRIES", 1000000, 100000);
	wl.npool = 4096;
	wl.blake2b = false;
	n = (double) wl.entries;
	fprintf(stderr, "[2] writer: %llu entries of 256 B, hashing off, %d rep(s)\n",
			(unsigned long long) wl.entries, reps);
	pool = xmalloc(wl.npool * wl.esize);
	fill_random(pool, wl.npool * wl.esize);
	wl.pool = pool;
	make_names(&names, wl.entries, "obj/%04u/%08u");
	wl.names = &names;
	path_in_workdir(wl.path, sizeof(wl.path), "w256.des");
	init_series(&s_copy, "memcpy into a 1 MiB buffer (no I/O)", reps);
	init_series(&s_null, "pg_des writer, null sink (no I/O)", reps);
	init_series(&s_radd, "raw write()", reps);
	init_series(&s_rall, "raw write() + fsync", reps);
	init_series(&s_add, "pg_des writer, add phase", reps);
	init_series(&s_all, "pg_des writer, incl. finish (fsync, rename)", reps);

	/* archive_bytes (for the baseline's byte count) comes from this run */
	run_writer(&wl, false, false, &ta, &tf);
	for (int rep = 0; rep < reps; rep++)
	{
		run_raw(&wl, false, &ta, &tf);
		add_sample(&s_copy, tf);
		run_writer(&wl, false, false, &ta, &tf);
		add_sample(&s_null, tf);
		for (int turn = 0; turn < 2; turn++)
		{
			warm_up(wl.archive_bytes);
			if ((turn + rep) % 2 == 0)
			{
				run_writer(&wl, true, rep == reps - 1, &ta, &tf);
				add_sample(&s_add, ta);
				add_sample(&s_all, tf);
			}
			else
			{
				run_raw(&wl, true, &ta, &tf);
				add_sample(&s_radd, ta);
				add_sample(&s_rall, tf);
			}
		}
		fprintf(stderr, "    rep %d: null sink %.2f | writer add %.2f, +finish %.2f | memcpy %.2f"
				" | raw write() %.2f, +fsync %.2f M entries/s\n", rep + 1,
				n / s_null.t[rep] / 1e6, n / s_add.t[rep] / 1e6, n / s_all.t[rep] / 1e6,
				n / s_copy.t[rep] / 1e6, n / s_radd.t[rep] / 1e6, n / s_rall.t[rep] / 1e6);
	}
	fprintf(stderr, "    archive %.1f MB\n", wl.archive_bytes / 1e6);
	if (!quick)
	{
		cold_pause();
		run_writer(&wl, true, false, &cold_w, &tf);
		cold_pause();
		run_raw(&wl, true, &cold_r, &tf);
		fprintf(stderr, "    cold (after %d s idle, no warm-up): writer add phase %.2f, raw write() %.2f M entries/s\n",
				COLD_PAUSE_S, n / cold_w / 1e6, n / cold_r / 1e6);
	}
	finish_series(&s_copy, n, 1e6, "M entries/s");
	finish_series(&s_null, n, 1e6, "M entries/s");
	finish_series(&s_radd, n, 1e6, "M entries/s");
	finish_series(&s_rall, n, 1e6, "M entries/s");
	finish_series(&s_add, n, 1e6, "M entries/s");
	finish_series(&s_all, n, 1e6, "M entries/s");

	snprintf(metric, sizeof(metric), "2a writer 256B no hash, %llu entries, add phase",
			 (unsigned long long) wl.entries);
	snprintf(a, sizeof(a), "%.2f M entries/s", n / s_add.best / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s raw write()", n / s_radd.best / 1e6);
	row(metric, a, b, s_radd.best / s_add.best, ">= 1.00 M entries/s",
		yes_no(n / s_add.best >= 1e6));
	snprintf(a, sizeof(a), "%.2f M entries/s", n / s_all.best / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s write()+fsync", n / s_rall.best / 1e6);
	row("2b   same, incl. finish+fsync", a, b, s_rall.best / s_all.best,
		">= 1.00 M entries/s", yes_no(n / s_all.best >= 1e6));
	snprintf(b, sizeof(b), "0.15 M/s Python (doc)");
	row("2c   same, against the Python reference", a, b,
		n / s_all.best / PYTHON_REF_256B_ENTRIES_PER_S, "(info: constant)", "-");
	snprintf(a, sizeof(a), "%.2f M entries/s", n / s_null.best / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s memcpy", n / s_copy.best / 1e6);
	row("2d   null sink (writer CPU only)", a, b, s_copy.best / s_null.best,
		"(info: no I/O)", "-");
	if (!quick)
	{
		snprintf(metric, sizeof(metric), "2e   add phase, cold (after %d s idle)", COLD_PAUSE_S);
		snprintf(a, sizeof(a), "%.2f M entries/s", n / cold_w / 1e6);
		snprintf(b, sizeof(b), "%.2f M/s raw write()", n / cold_r / 1e6);
		row(metric, a, b, cold_r / cold_w, "(info: one run)", "-");
	}
	free_names(&names);
	free(pool);
}

/* ----------------------------------------------------------- 3. reader */

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

/* What any reader has to do: open, fstat, read the footer, read the index. */
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
	unsigned char payload[100];
	name_set	names;
	char		path[4200];
	des_sink	sink;
	des_writer *w;
	des_writer_summary sum;
	des_error	err;
	des_source	src;
	des_reader *r;
	uint32_t   *qidx;
	char	   *qbuf;
	uint64_t   *qoff;
	uint16_t   *qlen;
	sorted_name *sorted;
	size_t		qpos = 0;
	char		a[64], b[64], metric[128];
	series		s_open, s_raw, s_find, s_direct, s_bs;
	double		nl = (double) lookups;

	if (entries > UINT32_MAX - 2)
		die("BENCH_READ_ENTRIES too large");
	fprintf(stderr, "[3] reader: archive of %llu entries (100 B payloads), %llu random lookups, %d rep(s)\n",
			(unsigned long long) entries, (unsigned long long) lookups, reps);
	fill_random(payload, sizeof(payload));
	make_names(&names, entries, "photos/%04u/img_%08u.jpg");
	path_in_workdir(path, sizeof(path), "read.des");
	open_writer(path, false, &sink, &w);
	for (uint64_t i = 0; i < entries; i++)
	{
		if (!des_writer_add(w, names.buf + names.off[i], names.len[i], payload, sizeof(payload),
							NULL, 0, false, &err))
			die_des("des_writer_add", &err);
	}
	if (!des_writer_finish(w, &sum, &err))
		die_des("des_writer_finish", &err);
	des_local_sink_free(&sink);
	check_archive(path, entries, &names, payload, sizeof(payload), false);
	fprintf(stderr, "    archive %.1f MB, names %u..%u bytes (page cache warm: just written)\n",
			sum.archive_bytes / 1e6, names.len[0], names.len[entries - 1]);

	/* open: des_local_source_open + des_reader_open vs open + pread index */
	init_series(&s_open, "des_local_source_open + des_reader_open", reps);
	init_series(&s_raw, "open + pread footer and index", reps);
	raw_open_index(path);		/* warm-up */
	for (int rep = 0; rep < reps; rep++)
	{
		double		t0;

		add_sample(&s_raw, raw_open_index(path));
		t0 = now_s();
		if (!des_local_source_open(path, &src, &err))
			die_des("des_local_source_open", &err);
		if (!des_reader_open(&src, NULL, &r, &err))
			die_des("des_reader_open", &err);
		add_sample(&s_open, now_s() - t0);
		if (des_reader_count(r) != entries)
			die("reader sees %llu entries", (unsigned long long) des_reader_count(r));
		des_reader_close(r);
		des_local_source_close(&src);
	}
	finish_series(&s_open, 0, 0, NULL);
	finish_series(&s_raw, 0, 0, NULL);

	/* lookups: existing names drawn uniformly at random, before timing */
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

	init_series(&s_find, "des_reader_find", reps);
	init_series(&s_direct, "direct indexing, answer known", reps);
	init_series(&s_bs, "binary search over sorted names", reps);
	for (int rep = 0; rep < reps; rep++)
	{
		uint64_t	acc = 0;
		double		t0;

		/*
		 * Floor: the answer is known; fetch that entry and touch its name and
		 * the query, the memory traffic a lookup cannot avoid.
		 */
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
		{
			const des_entry *e = des_reader_entry(r, qidx[i]);

			acc += (uint64_t) (unsigned char) e->name[e->name_len - 1] + (unsigned char) qbuf[qoff[i]];
		}
		add_sample(&s_direct, now_s() - t0);
		sink_value += acc;

		acc = 0;
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
			acc += (uint64_t) des_reader_find(r, qbuf + qoff[i], qlen[i]);
		add_sample(&s_find, now_s() - t0);
		sink_value += acc;

		acc = 0;
		t0 = now_s();
		for (uint64_t i = 0; i < lookups; i++)
			acc += (uint64_t) bsearch_name(sorted, entries, qbuf + qoff[i], qlen[i]);
		add_sample(&s_bs, now_s() - t0);
		sink_value += acc;
	}
	finish_series(&s_find, nl, 1e6, "M lookups/s");
	finish_series(&s_direct, nl, 1e6, "M lookups/s");
	finish_series(&s_bs, nl, 1e6, "M lookups/s");

	/* correctness of what was timed */
	for (uint64_t i = 0; i < lookups; i++)
	{
		if (des_reader_find(r, qbuf + qoff[i], qlen[i]) != (int64_t) qidx[i] ||
			bsearch_name(sorted, entries, qbuf + qoff[i], qlen[i]) != (int64_t) qidx[i])
			die("lookup %llu found the wrong entry", (unsigned long long) i);
	}
	des_reader_close(r);
	des_local_source_close(&src);
	remove_and_settle(path);

	snprintf(metric, sizeof(metric), "3a reader open, %llu entries (warm cache)", (unsigned long long) entries);
	snprintf(a, sizeof(a), "%.1f ms", s_open.best * 1e3);
	snprintf(b, sizeof(b), "%.1f ms open+pread index", s_raw.best * 1e3);
	row(metric, a, b, s_open.best / s_raw.best, "< 300 ms", yes_no(s_open.best < 0.300));

	snprintf(metric, sizeof(metric), "3b reader find, %llu random names", (unsigned long long) lookups);
	snprintf(a, sizeof(a), "%.2f M lookups/s", nl / s_find.best / 1e6);
	snprintf(b, sizeof(b), "%.2f M/s direct index", nl / s_direct.best / 1e6);
	row(metric, a, b, s_direct.best / s_find.best, ">= 1.00 M lookups/s",
		yes_no(nl / s_find.best >= 1e6));

	snprintf(b, sizeof(b), "%.2f M/s binary search", nl / s_bs.best / 1e6);
	row("3c   same, against a sorted array", a, b, s_bs.best / s_find.best,
		"(info: other method)", "-");

	free(sorted);
	free(qidx);
	free(qoff);
	free(qlen);
	free(qbuf);
	free_names(&names);
}

/* ------------------------------------------------- 9. content-defined chunking */

typedef struct chunk_tally
{
	uint64_t	n;
	uint64_t	bytes;
	uint64_t	acc;			/* one byte of each id: keeps the hashing observable */
	des_chunk  *keep;			/* if not NULL, chunks are stored here (room for cap) */
	size_t		cap;
} chunk_tally;

static bool
tally_chunk(void *ctx, const des_chunk *chunk, des_error *err)
{
	chunk_tally *t = ctx;

	if (t->keep != NULL)
	{
		if (t->n == t->cap)
			return des_fail(err, DES_E_TOO_LARGE, "more than %zu chunks", t->cap);
		t->keep[t->n] = *chunk;
	}
	t->n++;
	t->bytes += chunk->length;
	t->acc += chunk->id[0];
	return true;
}

static double
run_chunk(const des_chunk_params *p, const unsigned char *buf, size_t len, bool ids, chunk_tally *t)
{
	des_error	err;
	double		t0 = now_s();

	if (!des_chunk_buffer(p, buf, len, ids, tally_chunk, t, &err))
		die_des("des_chunk_buffer", &err);
	t0 = now_s() - t0;
	if (t->bytes != len)
		die("chunks sum to %llu bytes, not %zu", (unsigned long long) t->bytes, len);
	sink_value += t->acc;
	return t0;
}

/* the streaming hasher fed 1 MiB pieces, as a file read would */
static double
run_chunk_stream(const des_chunk_params *p, const unsigned char *buf, size_t len, chunk_tally *t)
{
	des_chunk_hasher h;
	des_error	err;
	double		t0 = now_s();

	if (!des_chunk_hasher_init(&h, p, tally_chunk, t, &err))
		die_des("des_chunk_hasher_init", &err);
	for (size_t off = 0; off < len; off += IO_BUFFER)
		if (!des_chunk_hasher_update(&h, buf + off, len - off < IO_BUFFER ? len - off : IO_BUFFER, &err))
			die_des("des_chunk_hasher_update", &err);
	if (!des_chunk_hasher_finish(&h, &err))
		die_des("des_chunk_hasher_finish", &err);
	t0 = now_s() - t0;
	if (t->bytes != len)
		die("streamed chunks sum to %llu bytes, not %zu", (unsigned long long) t->bytes, len);
	sink_value += t->acc;
	return t0;
}

static double
run_blake2b_buffer(const unsigned char *buf, size_t len)
{
	unsigned char digest[DES_BLAKE2B_BYTES];
	double		t0 = now_s();

	blake2b(digest, buf, NULL, DES_BLAKE2B_BYTES, len, 0);
	t0 = now_s() - t0;
	sink_value += digest[0];
	return t0;
}

static int
cmp_chunk_id(const void *a, const void *b)
{
	return memcmp(((const des_chunk *) a)->id, ((const des_chunk *) b)->id, DES_CHUNK_ID_BYTES);
}

static void
bench_chunker(void)
{
	uint64_t	mib = env_u64("BENCH_CHUNK_MIB", 256, 32);
	uint64_t	dmib = env_u64("BENCH_DEDUP_MIB", 64, 16);
	int			reps = (int) env_u64("BENCH_CHUNK_REPS", 5, 1);
	des_chunk_params p = des_chunk_params_default();
	size_t		len = mib * MIB;
	unsigned char *buf;
	double		bytes = (double) len;
	char		a[96], b[96], metric[128];
	series		s_b2, s_cut, s_ids, s_stream;
	uint64_t	nchunks = 0;

	fprintf(stderr, "[9] chunker: %llu MiB of random bytes in memory, params %u/%u/%u, %d rep(s)\n",
			(unsigned long long) mib, p.min_size, p.avg_size, p.max_size, reps);
	buf = xmalloc(len);
	fill_random(buf, len);
	init_series(&s_b2, "blake2b() of the buffer", reps);
	init_series(&s_cut, "chunking only", reps);
	init_series(&s_ids, "chunking + blake2b-256 per chunk", reps);
	init_series(&s_stream, "same, streamed in 1 MiB pieces", reps);
	for (int rep = 0; rep < reps; rep++)
	{
		chunk_tally t1 = {0}, t2 = {0}, t3 = {0};

		/* the baseline goes first in every other repetition */
		if (rep % 2 == 0)
			add_sample(&s_b2, run_blake2b_buffer(buf, len));
		add_sample(&s_cut, run_chunk(&p, buf, len, false, &t1));
		add_sample(&s_ids, run_chunk(&p, buf, len, true, &t2));
		add_sample(&s_stream, run_chunk_stream(&p, buf, len, &t3));
		if (rep % 2 == 1)
			add_sample(&s_b2, run_blake2b_buffer(buf, len));
		if (t1.n != t2.n || t2.n != t3.n || t2.acc != t3.acc)
			die("chunking runs disagree: %llu / %llu / %llu chunks", (unsigned long long) t1.n,
				(unsigned long long) t2.n, (unsigned long long) t3.n);
		nchunks = t1.n;
		fprintf(stderr, "    rep %d: blake2b %.0f | chunking %.0f | chunking+ids %.0f | streamed %.0f MB/s\n",
				rep + 1, bytes / s_b2.t[rep] / 1e6, bytes / s_cut.t[rep] / 1e6,
				bytes / s_ids.t[rep] / 1e6, bytes / s_stream.t[rep] / 1e6);
	}
	finish_series(&s_b2, bytes, 1e6, "MB/s");
	finish_series(&s_cut, bytes, 1e6, "MB/s");
	finish_series(&s_ids, bytes, 1e6, "MB/s");
	finish_series(&s_stream, bytes, 1e6, "MB/s");
	fprintf(stderr, "    %llu chunks, mean %.0f bytes\n", (unsigned long long) nchunks, bytes / nchunks);

	snprintf(b, sizeof(b), "%.0f MB/s blake2b()", bytes / s_b2.best / 1e6);
	snprintf(metric, sizeof(metric), "9a chunking only (FastCDC 16/64/256K), %llu MiB", (unsigned long long) mib);
	snprintf(a, sizeof(a), "%.2f GB/s", bytes / s_cut.best / 1e9);
	row(metric, a, b, s_b2.best / s_cut.best, "(info: speed vs hashing)", "-");
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_ids.best / 1e6);
	row("9b   chunking + BLAKE2b-256 of each chunk", a, b, s_b2.best / s_ids.best,
		">= 0.80x blake2b()", yes_no(s_b2.best / s_ids.best >= 0.80));
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_stream.best / 1e6);
	row("9c   same, streamed in 1 MiB pieces", a, b, s_b2.best / s_stream.best,
		">= 0.80x blake2b()", yes_no(s_b2.best / s_stream.best >= 0.80));
	free(buf);

	/* 9d: dedup across versions after an insertion in the middle */
	{
		size_t		dlen = dmib * MIB;
		size_t		mid = dlen / 2 + 4321;	/* not on a 2 MiB boundary */
		size_t		elen = dlen + 100;
		unsigned char *v1 = xmalloc(dlen);
		unsigned char *v2 = xmalloc(elen);
		chunk_tally t1 = {0}, t2 = {0};
		uint64_t	shared_bytes = 0,
					shared_n = 0,
					fixed_bytes = 0;
		const size_t block = 2 * MIB;

		fill_random(v1, dlen);
		memcpy(v2, v1, mid);
		fill_random(v2 + mid, 100);
		memcpy(v2 + mid + 100, v1 + mid, dlen - mid);
		t1.cap = t2.cap = elen / p.min_size + 2;
		t1.keep = xmalloc(sizeof(des_chunk) * t1.cap);
		t2.keep = xmalloc(sizeof(des_chunk) * t2.cap);
		run_chunk(&p, v1, dlen, true, &t1);
		run_chunk(&p, v2, elen, true, &t2);
		qsort(t1.keep, t1.n, sizeof(des_chunk), cmp_chunk_id);
		for (uint64_t i = 0; i < t2.n; i++)
			if (bsearch(&t2.keep[i], t1.keep, t1.n, sizeof(des_chunk), cmp_chunk_id) != NULL)
			{
				shared_n++;
				shared_bytes += t2.keep[i].length;
			}
		/* Datamon: leaf k is bytes [k * 2 MiB, (k + 1) * 2 MiB), keyed by its hash */
		for (size_t off = 0; off < elen; off += block)
		{
			size_t		n2 = elen - off < block ? elen - off : block;
			size_t		n1 = off >= dlen ? 0 : (dlen - off < block ? dlen - off : block);

			if (n1 == n2 && memcmp(v1 + off, v2 + off, n2) == 0)
				fixed_bytes += n2;
		}
		fprintf(stderr, "    dedup: %llu MiB + 100 bytes inserted at %zu: %llu of %llu chunks shared (%llu bytes);"
				" 2 MiB blocks share %llu bytes\n", (unsigned long long) dmib, mid,
				(unsigned long long) shared_n, (unsigned long long) t2.n, (unsigned long long) shared_bytes,
				(unsigned long long) fixed_bytes);
		snprintf(metric, sizeof(metric), "9d dedup after a 100 B insertion, %llu MiB", (unsigned long long) dmib);
		snprintf(a, sizeof(a), "%.1f%% shared (%llu/%llu chunks)", 100.0 * shared_bytes / elen,
				 (unsigned long long) shared_n, (unsigned long long) t2.n);
		snprintf(b, sizeof(b), "%.1f%% shared (2 MiB blocks)", 100.0 * fixed_bytes / elen);
		row(metric, a, b, fixed_bytes ? (double) shared_bytes / fixed_bytes : 0,
			"all but <= 2 chunks shared", yes_no(shared_n + 2 >= t2.n));
		free(t1.keep);
		free(t2.keep);
		free(v1);
		free(v2);
	}
}

/* ------------------------------------------------------ 10. CSV record reader */

typedef struct csv_tally
{
	uint64_t	records;
	uint64_t	fields;
	uint64_t	bytes;
} csv_tally;

static bool
tally_csv(void *ctx, const des_csv_record *rec, des_error *err)
{
	csv_tally  *t = ctx;

	t->records++;
	t->fields += rec->nfields;
	t->bytes += rec->len;
	return true;
}

/* Read buf with the reader in pieces of `piece` bytes (the whole buffer if 0). */
static double
run_csv(const des_csv_dialect *d, const unsigned char *buf, size_t len, size_t piece, csv_tally *t)
{
	des_csv_limits lim = des_csv_limits_default();
	des_csv_reader r;
	des_error	err;
	double		t0 = now_s();

	if (!des_csv_reader_init(&r, d, &lim, tally_csv, t, &err))
		die_des("des_csv_reader_init", &err);
	if (piece == 0)
		piece = len;
	for (size_t off = 0; off < len; off += piece)
		if (!des_csv_reader_feed(&r, buf + off, len - off < piece ? len - off : piece, &err))
			die_des("des_csv_reader_feed", &err);
	if (!des_csv_reader_finish(&r, &err))
		die_des("des_csv_reader_finish", &err);
	des_csv_reader_free(&r);
	return now_s() - t0;
}

/* The baseline: count '\n' with memchr, the least any line-oriented reader must do. */
static double
run_memchr_lines(const unsigned char *buf, size_t len, uint64_t *lines)
{
	const unsigned char *p = buf,
			   *end = buf + len;
	uint64_t	n = 0;
	double		t0 = now_s();

	while ((p = memchr(p, '\n', end - p)) != NULL)
	{
		n++;
		p++;
	}
	t0 = now_s() - t0;
	*lines = n;
	return t0;
}

/* About len bytes of CSV: ids, numbers, quoted text with commas and "", dates, some two-line fields. */
static size_t
make_csv(unsigned char *buf, size_t cap, uint64_t *rows)
{
	static const char *words[] = {"alpha", "Smith, J", "said \"\"hi\"\"", "Zürich", "n/a", "two\nlines", "x"};
	size_t		len = 0;
	uint64_t	n = 0;

	len += snprintf((char *) buf, cap, "id,name,amount,ratio,day,comment\n");
	while (cap - len > 256)
	{
		uint64_t	v = rng_next();
		const char *w = words[v % 7];
		bool		q = strpbrk(w, ",\"\n") != NULL;

		len += snprintf((char *) buf + len, cap - len, "%llu,%s%s%s,%lld,%.4f,20%02d-%02d-%02d,%s\n",
						(unsigned long long) n, q ? "\"" : "", w, q ? "\"" : "",
						(long long) (v >> 20) % 2000000 - 1000000, (double) (v % 100000) / 1e4,
						(int) (v >> 8) % 30, (int) (v >> 13) % 12 + 1, (int) (v >> 17) % 28 + 1,
						(v >> 40) % 3 == 0 ? "\"free text, with a comma\"" : "ok");
		n++;
	}
	*rows = n;
	return len;
}

static void
bench_csv(void)
{
	uint64_t	mib = env_u64("BENCH_CSV_MIB", 256, 32);
	int			reps = (int) env_u64("BENCH_CSV_REPS", 3, 1);
	size_t		cap = mib * MIB;
	unsigned char *buf = xmalloc(cap);
	uint64_t	rows,
				lines = 0;
	size_t		len = make_csv(buf, cap, &rows);
	double		bytes = (double) len;
	des_csv_dialect d = des_csv_dialect_default();
	series		s_mc, s_one, s_stream;
	char		a[96], b[96], metric[128];

	d.header = true;
	fprintf(stderr, "[10] CSV reader: %.1f MiB generated CSV in memory, %llu rows, %d rep(s)\n",
			bytes / MIB, (unsigned long long) rows, reps);
	init_series(&s_mc, "memchr() for '\\n'", reps);
	init_series(&s_one, "des_csv_reader, one shot", reps);
	init_series(&s_stream, "des_csv_reader, 1 MiB pieces", reps);
	for (int rep = 0; rep < reps; rep++)
	{
		csv_tally	t1 = {0}, t2 = {0};

		/* the baseline goes first in every other repetition */
		if (rep % 2 == 0)
			add_sample(&s_mc, run_memchr_lines(buf, len, &lines));
		add_sample(&s_one, run_csv(&d, buf, len, 0, &t1));
		add_sample(&s_stream, run_csv(&d, buf, len, IO_BUFFER, &t2));
		if (rep % 2 == 1)
			add_sample(&s_mc, run_memchr_lines(buf, len, &lines));
		if (t1.records != rows + 1 || t2.records != t1.records || t1.fields != t2.fields || t1.bytes != t2.bytes)
			die("CSV reader: %llu / %llu records, expected %llu", (unsigned long long) t1.records,
				(unsigned long long) t2.records, (unsigned long long) rows + 1);
		sink_value += lines + t1.fields;
		fprintf(stderr, "    rep %d: memchr %.0f | reader %.0f | reader in 1 MiB pieces %.0f MB/s\n", rep + 1,
				bytes / s_mc.t[rep] / 1e6, bytes / s_one.t[rep] / 1e6, bytes / s_stream.t[rep] / 1e6);
	}
	finish_series(&s_mc, bytes, 1e6, "MB/s");
	finish_series(&s_one, bytes, 1e6, "MB/s");
	finish_series(&s_stream, bytes, 1e6, "MB/s");

	snprintf(b, sizeof(b), "%.0f MB/s memchr('\\n')", bytes / s_mc.best / 1e6);
	snprintf(metric, sizeof(metric), "10a CSV reader, %llu MiB, one shot", (unsigned long long) mib);
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_one.best / 1e6);
	row(metric, a, b, s_mc.best / s_one.best, "(info: vs a line scan)", "-");
	snprintf(a, sizeof(a), "%.0f MB/s", bytes / s_stream.best / 1e6);
	row("10b   same, streamed in 1 MiB pieces", a, b, s_mc.best / s_stream.best, "(info: vs a line scan)", "-");
	free(buf);
}

int
main(int argc, char **argv)
{
	const char *parent = getenv("BENCH_DIR");
	const char *q = getenv("BENCH_QUICK");
	const char *only = getenv("BENCH_ONLY");

	quick = q != NULL && *q != '\0' && strcmp(q, "0") != 0;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else
			die("usage: %s [--quick]   (sizes: BENCH_* variables, see the top of bench_core.c)", argv[0]);
	}
	if (only == NULL || *only == '\0')
		only = "1239c";
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	if ((size_t) snprintf(workdir, sizeof(workdir), "%s/pg_des_bench.XXXXXX", parent) >= sizeof(workdir))
		die("BENCH_DIR too long");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp %s: %s", workdir, strerror(errno));
	atexit(cleanup_workdir);
	fprintf(stderr, "bench_core: %s mode, files in %s\n", quick ? "QUICK" : "full", workdir);

	if (strchr(only, '1'))
		bench_writer_64k();
	if (strchr(only, '2'))
		bench_writer_256();
	if (strchr(only, '3'))
		bench_reader();
	if (strchr(only, '9'))
		bench_chunker();
	if (strchr(only, 'c'))
		bench_csv();
	return 0;
}
