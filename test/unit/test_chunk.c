/*
 * test_chunk.c - unit tests of the content-defined chunker (FastCDC):
 * parameter checks, the pinned gear table and cut points (any change to
 * either would move chunk boundaries of stored versions), chunk bounds,
 * streaming in random pieces against one shot, chunk ids, the insertion and
 * deletion properties, average size, degenerate inputs.
 *
 * Usage: test_chunk. Prints "chunk: N passed, N failed".
 */
#include "unit.h"
#include "des/chunk/des_chunker.h"

#include <blake2.h>
#include <stdlib.h>
#include <string.h>

/*
 * Pinned cut points of DES_CHUNK_VERSION 1 (lengths of the first chunks and
 * the chunk count) over splitmix64 data from seed 42: 64 KiB with
 * 256/1024/4096, 1 MiB with the defaults; and the first default chunk's id.
 */
#define PINNED_SMALL 1058, 1066, 717, 1158, 1049, 604, 543, 1273, 1110, 1103, 1305, 1048, 1084, 1077, 1047, 1109
#define PINNED_SMALL_COUNT 56
#define PINNED_DEFAULT 77471, 81022, 69538, 66935, 106826, 102601, 79117, 82042, 134292, 69198, 73260, 74590, 31684
#define PINNED_DEFAULT_COUNT 13
#define PINNED_FIRST_ID "2708e07e2582d85ce0374240ee25be5069d374f14031280bc70ca55e594482bb"

int			unit_passed,
			unit_failed;

#define KIB 1024u
#define MIB (1024u * 1024u)

/* splitmix64: the test data and the reference for the gear table */
static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned char *
random_buffer(size_t n, uint64_t seed)
{
	unsigned char *b = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
	{
		if (i % 8 == 0)
		{
			uint64_t	v = splitmix64(&seed);

			memcpy(b + i, &v, n - i < 8 ? n - i : 8);
		}
	}
	return b;
}

/* chunks collected by the callback */
typedef struct chunk_list
{
	des_chunk  *c;
	size_t		n;
	size_t		cap;
	size_t		fail_at;		/* callback fails on this chunk (0 = never) */
} chunk_list;

static bool
collect(void *ctx, const des_chunk *chunk, des_error *err)
{
	chunk_list *l = ctx;

	if (l->fail_at != 0 && l->n + 1 == l->fail_at)
		return des_fail(err, DES_E_IO, "callback failed on purpose");
	if (l->n == l->cap)
	{
		l->cap = l->cap ? 2 * l->cap : 64;
		l->c = realloc(l->c, l->cap * sizeof(des_chunk));
	}
	l->c[l->n++] = *chunk;
	return true;
}

static chunk_list
chunk_all(const des_chunk_params *p, const unsigned char *data, size_t len, bool ids)
{
	chunk_list	l = {0};
	des_error	err;

	CHECK(des_chunk_buffer(p, data, len, ids, collect, &l, &err), "des_chunk_buffer: %s", err.message);
	return l;
}

static des_chunk_params
params(uint32_t min, uint32_t avg, uint32_t max)
{
	des_chunk_params p = {min, avg, max};

	return p;
}

/* ------------------------------------------------------------ parameters */

static void
expect_invalid(uint32_t min, uint32_t avg, uint32_t max, const char *needle)
{
	des_chunk_params p = params(min, avg, max);
	des_chunker c;
	des_error	err;
	chunk_list	l = {0};
	bool		ok;

	memset(&err, 0, sizeof(err));
	ok = des_chunk_params_check(&p, &err);
	CHECK(!ok && err.code == DES_E_INVALID_ARGUMENT && strstr(err.message, needle) != NULL,
		  "%u/%u/%u: ok %d, code %s, message \"%s\" (wanted \"%s\")", min, avg, max, ok,
		  des_error_code_name(err.code), err.message, needle);
	CHECK(!des_chunker_init(&c, &p, &err) && err.code == DES_E_INVALID_ARGUMENT, "%u/%u/%u: init accepted", min, avg, max);
	CHECK(!des_chunk_buffer(&p, "x", 1, true, collect, &l, &err) && l.n == 0, "%u/%u/%u: buffer accepted", min, avg, max);
}

static void
test_params(void)
{
	des_chunk_params p = des_chunk_params_default();
	des_error	err;

	CHECK(p.min_size == 16 * KIB && p.avg_size == 64 * KIB && p.max_size == 256 * KIB, "defaults %u/%u/%u",
		  p.min_size, p.avg_size, p.max_size);
	CHECK(des_chunk_params_check(&p, &err), "defaults rejected: %s", err.message);
	p = params(64, 128, 129);
	CHECK(des_chunk_params_check(&p, &err), "smallest accepted: %s", err.message);
	p = params(32 * MIB - 1, 32 * MIB, 64 * MIB);
	CHECK(des_chunk_params_check(&p, &err), "largest accepted: %s", err.message);

	expect_invalid(63, 128, 256, "min size 63 is below 64");
	expect_invalid(0, 128, 256, "below 64");
	expect_invalid(1024, 4096, 64 * MIB + 1, "above");
	expect_invalid(4096, 4096, 8192, "min < avg < max");
	expect_invalid(8192, 4096, 65536, "min < avg < max");
	expect_invalid(1024, 4096, 4096, "min < avg < max");
	expect_invalid(1024, 6000, 65536, "avg size 6000 is not a power of two");
	expect_invalid(0, 0, 0, "below");
}

/* ------------------------------------------------------------ gear table */

static void
test_gear(void)
{
	uint64_t	state = 0x6465732d67656172ULL;	/* "des-gear" */
	int			diff = 0;

	for (unsigned i = 0; i < 256; i++)
		diff += des_chunk_gear(i) != splitmix64(&state);
	CHECK(diff == 0, "%d gear entries differ from splitmix64 seeded with \"des-gear\"", diff);
	/* pinned literally too, so a change of the generator is caught as well */
	CHECK(des_chunk_gear(0) == 0x4df872830f780136ULL, "gear[0] %016llx", (unsigned long long) des_chunk_gear(0));
	CHECK(des_chunk_gear(1) == 0x3c779227e3a891dbULL, "gear[1] %016llx", (unsigned long long) des_chunk_gear(1));
	CHECK(des_chunk_gear(128) == 0x0eff249e181b8017ULL, "gear[128] %016llx", (unsigned long long) des_chunk_gear(128));
	CHECK(des_chunk_gear(255) == 0xd1953efd6c4b2214ULL, "gear[255] %016llx", (unsigned long long) des_chunk_gear(255));
	CHECK(DES_CHUNK_VERSION == 1, "version %d: a new version needs new pinned cut points", DES_CHUNK_VERSION);
}

/*
 * The cut points of a fixed input: if these move, every stored version
 * chunks differently and deduplication across versions is lost. A change
 * here needs a new DES_CHUNK_VERSION.
 */
static void
test_pinned_cuts(void)
{
	unsigned char *data = random_buffer(1 * MIB, 42);
	des_chunk_params small = params(256, 1024, 4096);
	des_chunk_params def = des_chunk_params_default();
	static const uint64_t want_small[] = {PINNED_SMALL};
	static const uint64_t want_default[] = {PINNED_DEFAULT};
	chunk_list	l;
	size_t		nsmall = sizeof(want_small) / sizeof(want_small[0]);
	size_t		ndef = sizeof(want_default) / sizeof(want_default[0]);
	unsigned char digest[32];
	char		hex[65];

	l = chunk_all(&small, data, 64 * KIB, false);
	CHECK(l.n == PINNED_SMALL_COUNT, "small params: %zu chunks", l.n);
	for (size_t i = 0; i < nsmall && i < l.n; i++)
		CHECK(l.c[i].length == want_small[i], "small params: chunk %zu is %llu bytes, pinned %llu", i,
			  (unsigned long long) l.c[i].length, (unsigned long long) want_small[i]);
	free(l.c);

	l = chunk_all(&def, data, 1 * MIB, true);
	CHECK(l.n == PINNED_DEFAULT_COUNT, "default params: %zu chunks", l.n);
	for (size_t i = 0; i < ndef && i < l.n; i++)
		CHECK(l.c[i].length == want_default[i], "default params: chunk %zu is %llu bytes, pinned %llu", i,
			  (unsigned long long) l.c[i].length, (unsigned long long) want_default[i]);
	/* the id of the first chunk: BLAKE2b-256 of its bytes */
	blake2b(digest, data, NULL, 32, l.n ? l.c[0].length : 0, 0);
	CHECK(l.n > 0 && memcmp(digest, l.c[0].id, 32) == 0, "first chunk id is not BLAKE2b-256 of its bytes");
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", l.n ? l.c[0].id[i] : 0);
	CHECK(strcmp(hex, PINNED_FIRST_ID) == 0, "first chunk id %s", hex);
	free(l.c);
	free(data);
}

/* ------------------------------------------------------------ bounds and determinism */

static void
check_bounds(const char *what, const des_chunk_params *p, const chunk_list *l, size_t len)
{
	uint64_t	sum = 0;
	size_t		bad = 0;

	for (size_t i = 0; i < l->n; i++)
	{
		if (l->c[i].offset != sum)
			bad++;
		if (i + 1 < l->n && (l->c[i].length < p->min_size || l->c[i].length > p->max_size))
			bad++;
		if (i + 1 == l->n && (l->c[i].length == 0 || l->c[i].length > p->max_size))
			bad++;
		sum += l->c[i].length;
	}
	CHECK(bad == 0, "%s: %zu chunks out of bounds or misplaced", what, bad);
	CHECK(sum == len, "%s: chunks sum to %llu, input %zu", what, (unsigned long long) sum, len);
}

static const des_chunk_params *
param_sets(size_t *n)
{
	static des_chunk_params sets[] = {
		{DES_CHUNK_DEFAULT_MIN, DES_CHUNK_DEFAULT_AVG, DES_CHUNK_DEFAULT_MAX},
		{64, 128, 129},
		{64, 256, 1000},
		{256, 1024, 4096},
		{2000, 8192, 65536},
		{100000, 131072, 131073},
	};

	*n = sizeof(sets) / sizeof(sets[0]);
	return sets;
}

static void
test_bounds_determinism(void)
{
	size_t		len = 4 * MIB + 12345;
	unsigned char *data = random_buffer(len, 7);
	size_t		nsets;
	const des_chunk_params *sets = param_sets(&nsets);

	for (size_t s = 0; s < nsets; s++)
	{
		chunk_list	a = chunk_all(&sets[s], data, len, false);
		chunk_list	b = chunk_all(&sets[s], data, len, false);
		char		what[64];

		snprintf(what, sizeof(what), "%u/%u/%u", sets[s].min_size, sets[s].avg_size, sets[s].max_size);
		check_bounds(what, &sets[s], &a, len);
		CHECK(a.n == b.n && memcmp(a.c, b.c, a.n * sizeof(des_chunk)) == 0, "%s: two runs differ", what);
		free(a.c);
		free(b.c);
	}
	free(data);
}

/* ------------------------------------------------------------ streaming */

static void
test_streaming(void)
{
	size_t		len = 3 * MIB + 777;
	unsigned char *data = random_buffer(len, 99);
	uint64_t	rng = 5;
	size_t		nsets;
	const des_chunk_params *sets = param_sets(&nsets);

	for (size_t s = 0; s < nsets; s++)
	{
		const des_chunk_params *p = &sets[s];
		chunk_list	ref = chunk_all(p, data, len, true);

		for (int trial = 0; trial < 4; trial++)
		{
			des_chunker c;
			des_chunk_hasher h;
			chunk_list	viah = {0};
			des_error	err;
			size_t		off = 0,
						k = 0,
						mismatch = 0;
			/* piece sizes: tiny, around min, around max, large */
			size_t		scale = trial == 0 ? 7 : trial == 1 ? p->min_size : trial == 2 ? 2 * (size_t) p->max_size : 1 * MIB;

			CHECK(des_chunker_init(&c, p, &err), "init: %s", err.message);
			CHECK(des_chunk_hasher_init(&h, p, collect, &viah, &err), "hasher init: %s", err.message);
			while (off < len)
			{
				size_t		piece = 1 + splitmix64(&rng) % scale;
				size_t		used = 0;

				if (piece > len - off)
					piece = len - off;
				if (!des_chunk_hasher_update(&h, data + off, piece, &err))
					mismatch++;
				/* a buffer is offered until it is used up; each call cuts at most once */
				while (used < piece)
				{
					uint64_t	clen;
					size_t		n = des_chunker_next(&c, data + off + used, piece - used, &clen);

					used += n;
					if (clen != 0)
					{
						if (k >= ref.n || ref.c[k].length != clen || ref.c[k].offset + clen != off + used)
							mismatch++;
						k++;
					}
					else if (used != piece)
						mismatch++;	/* no cut: everything must have been consumed */
				}
				off += piece;
			}
			{
				uint64_t	last = des_chunker_finish(&c);

				if (last != 0)
				{
					if (k >= ref.n || ref.c[k].length != last)
						mismatch++;
					k++;
				}
			}
			CHECK(des_chunk_hasher_finish(&h, &err), "hasher finish: %s", err.message);
			CHECK(mismatch == 0 && k == ref.n, "%u/%u/%u, pieces up to %zu: streaming gave %zu chunks (%zu mismatches), one shot %zu",
				  p->min_size, p->avg_size, p->max_size, scale, k, mismatch, ref.n);
			CHECK(viah.n == ref.n && memcmp(viah.c, ref.c, ref.n * sizeof(des_chunk)) == 0,
				  "%u/%u/%u, pieces up to %zu: the streaming hasher's chunks or ids differ from one shot (%zu vs %zu)",
				  p->min_size, p->avg_size, p->max_size, scale, viah.n, ref.n);
			free(viah.c);
		}
		free(ref.c);
	}
	free(data);
}

/* ------------------------------------------------------------ edits */

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, DES_CHUNK_ID_BYTES);
}

/* Chunks (count, bytes) of b whose id is also an id of a. */
static void
shared(const chunk_list *a, const chunk_list *b, size_t *nshared, uint64_t *bytes_shared)
{
	unsigned char *ids = malloc(a->n * DES_CHUNK_ID_BYTES + 1);

	for (size_t i = 0; i < a->n; i++)
		memcpy(ids + i * DES_CHUNK_ID_BYTES, a->c[i].id, DES_CHUNK_ID_BYTES);
	qsort(ids, a->n, DES_CHUNK_ID_BYTES, cmp_id);
	*nshared = 0;
	*bytes_shared = 0;
	for (size_t i = 0; i < b->n; i++)
		if (bsearch(b->c[i].id, ids, a->n, DES_CHUNK_ID_BYTES, cmp_id) != NULL)
		{
			(*nshared)++;
			*bytes_shared += b->c[i].length;
		}
	free(ids);
}

/* Bytes of b in 2 MiB blocks (Datamon's positional leaves) equal to a's block at the same index. */
static uint64_t
fixed_blocks_shared(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	const size_t block = 2 * MIB;
	uint64_t	same = 0;

	for (size_t off = 0; off < blen && off < alen; off += block)
	{
		size_t		na = alen - off < block ? alen - off : block;
		size_t		nb = blen - off < block ? blen - off : block;

		if (na == nb && memcmp(a + off, b + off, na) == 0)
			same += nb;
	}
	return same;
}

static void
test_edit(const char *what, const unsigned char *orig, size_t len, const unsigned char *edited, size_t elen,
		  bool shifts)
{
	des_chunk_params p = des_chunk_params_default();
	chunk_list	a = chunk_all(&p, orig, len, true);
	chunk_list	b = chunk_all(&p, edited, elen, true);
	size_t		n;
	uint64_t	bytes;
	uint64_t	fixed = fixed_blocks_shared(orig, len, edited, elen);

	shared(&a, &b, &n, &bytes);
	CHECK(n + 3 >= b.n, "%s: %zu of %zu chunks shared (all but those around the edit expected)", what, n, b.n);
	CHECK(n >= b.n * 95 / 100, "%s: only %zu of %zu chunks shared", what, n, b.n);
	CHECK(bytes >= (uint64_t) elen * 95 / 100, "%s: only %llu of %zu bytes shared", what,
		  (unsigned long long) bytes, elen);
	/* positional 2 MiB blocks lose everything after an insertion or deletion */
	CHECK(!shifts || fixed <= elen / 2 + 2 * MIB, "%s: 2 MiB blocks share %llu bytes?", what, (unsigned long long) fixed);
	printf("  %s: %zu of %zu chunks, %.1f%% of bytes shared (2 MiB positional blocks: %.1f%%)\n", what, n, b.n,
		   100.0 * bytes / elen, 100.0 * fixed / elen);
	free(a.c);
	free(b.c);
}

static void
test_insert_delete(void)
{
	size_t		len = 16 * MIB;
	unsigned char *orig = random_buffer(len, 2024);
	unsigned char *ins = malloc(len + 7);
	unsigned char *del = malloc(len);
	size_t		mid = len / 2 + 1234;

	/* insert 7 bytes in the middle */
	memcpy(ins, orig, mid);
	memcpy(ins + mid, "INSERT!", 7);
	memcpy(ins + mid + 7, orig + mid, len - mid);
	test_edit("insert 7 bytes", orig, len, ins, len + 7, true);
	/* delete 5 bytes from the middle */
	memcpy(del, orig, mid);
	memcpy(del + mid, orig + mid + 5, len - mid - 5);
	test_edit("delete 5 bytes", orig, len, del, len - 5, true);
	/* overwrite 1 byte: at most the chunks around it change */
	memcpy(del, orig, len);
	del[mid] ^= 0x55;
	test_edit("change 1 byte", orig, len, del, len, false);
	free(orig);
	free(ins);
	free(del);
}

/* ------------------------------------------------------------ sizes */

static void
test_average(void)
{
	size_t		len = 32 * MIB;
	unsigned char *data = random_buffer(len, 31337);
	des_chunk_params sets[] = {des_chunk_params_default(), params(256, 1024, 4096), params(2048, 8192, 65536)};

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
	{
		chunk_list	l = chunk_all(&sets[s], data, len, false);
		double		mean = (double) len / l.n;
		size_t		at_max = 0;

		for (size_t i = 0; i < l.n; i++)
			at_max += l.c[i].length == sets[s].max_size;
		/* with min = avg / 4 normalized chunking gives a mean of about 1.15 avg */
		CHECK(mean >= 0.9 * sets[s].avg_size && mean <= 1.4 * sets[s].avg_size,
			  "%u/%u/%u: mean chunk %.0f bytes", sets[s].min_size, sets[s].avg_size, sets[s].max_size, mean);
		/* random data almost never runs to max */
		CHECK(at_max * 100 <= l.n, "%u/%u/%u: %zu of %zu chunks cut at max", sets[s].min_size,
			  sets[s].avg_size, sets[s].max_size, at_max, l.n);
		printf("  %u/%u/%u on random data: %zu chunks, mean %.0f bytes (%.2f avg), %zu at max\n",
			   sets[s].min_size, sets[s].avg_size, sets[s].max_size, l.n, mean, mean / sets[s].avg_size, at_max);
		free(l.c);
	}
	free(data);
}

/* ------------------------------------------------------------ degenerate inputs */

static void
test_degenerate(void)
{
	des_chunk_params p = des_chunk_params_default();
	unsigned char *zeros = calloc(1, 1 * MIB + 100);
	chunk_list	l;
	des_chunker c;
	des_error	err;
	uint64_t	clen;

	/* all zeros: the hash settles on a value that never passes, so cuts fall at max */
	l = chunk_all(&p, zeros, 1 * MIB + 100, false);
	CHECK(l.n == 5, "zeros: %zu chunks", l.n);
	for (size_t i = 0; i < l.n; i++)
		CHECK(l.c[i].length == (i < 4 ? p.max_size : 100), "zeros: chunk %zu is %llu bytes", i,
			  (unsigned long long) l.c[i].length);
	free(l.c);

	/* empty input: no chunk */
	l = chunk_all(&p, zeros, 0, true);
	CHECK(l.n == 0, "empty: %zu chunks", l.n);
	free(l.c);
	CHECK(des_chunker_init(&c, &p, &err), "init");
	CHECK(des_chunker_next(&c, zeros, 0, &clen) == 0 && clen == 0, "empty next");
	CHECK(des_chunker_finish(&c) == 0, "empty finish");

	/* shorter than min: one chunk, the whole input, never read by the hash */
	{
		unsigned char *data = random_buffer(1000, 3);

		l = chunk_all(&p, data, 1000, true);
		CHECK(l.n == 1 && l.c[0].length == 1000 && l.c[0].offset == 0, "short: %zu chunks", l.n);
		free(l.c);
		l = chunk_all(&p, data, 1, false);
		CHECK(l.n == 1 && l.c[0].length == 1, "one byte: %zu chunks", l.n);
		free(l.c);
		CHECK(des_chunker_next(&c, data, 1000, &clen) == 1000 && clen == 0, "short next");
		CHECK(des_chunker_finish(&c) == 1000, "short finish");
		free(data);
	}

	/* exactly max bytes of zeros: one chunk cut at max, nothing left */
	l = chunk_all(&p, zeros, p.max_size, false);
	CHECK(l.n == 1 && l.c[0].length == p.max_size, "max zeros: %zu chunks", l.n);
	free(l.c);
	CHECK(des_chunker_next(&c, zeros, p.max_size, &clen) == p.max_size && clen == p.max_size, "max next");
	CHECK(des_chunker_finish(&c) == 0, "max finish");

	/* des_chunk_first: the length of the first chunk, or everything */
	CHECK(des_chunk_first(&c, zeros, 10) == 10, "first of 10 bytes");
	CHECK(des_chunk_first(&c, zeros, 1 * MIB) == p.max_size, "first of zeros");
	free(zeros);
}

/* ------------------------------------------------------------ callbacks */

static void
test_callback_failure(void)
{
	des_chunk_params p = params(256, 1024, 4096);
	unsigned char *data = random_buffer(256 * KIB, 8);
	chunk_list	l = {0};
	des_chunk_hasher h;
	des_error	err;

	l.fail_at = 3;
	CHECK(!des_chunk_buffer(&p, data, 256 * KIB, true, collect, &l, &err) && l.n == 2 && err.code == DES_E_IO,
		  "buffer: failure not passed on (%zu chunks)", l.n);
	l.n = 0;
	CHECK(des_chunk_hasher_init(&h, &p, collect, &l, &err), "hasher init");
	CHECK(!des_chunk_hasher_update(&h, data, 256 * KIB, &err) && l.n == 2 && strstr(err.message, "on purpose"),
		  "hasher: failure not passed on (%zu chunks)", l.n);
	free(l.c);
	free(data);
}

int
main(void)
{
	test_params();
	test_gear();
	test_pinned_cuts();
	test_bounds_determinism();
	test_streaming();
	test_insert_delete();
	test_average();
	test_degenerate();
	test_callback_failure();
	printf("chunk: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed != 0;
}
