/*
 * des_chunker.c - FastCDC content-defined chunking and chunk ids.
 *
 * See des_chunker.h for the rules and docs/chunking.md for why they are what
 * they are. Nothing here may change the cut points of DES_CHUNK_VERSION:
 * test/unit/test_chunk.c pins the gear table and the cuts of a fixed input.
 */
#include "des/chunk/des_chunker.h"

#include <string.h>

/*
 * The gear table: 256 outputs of splitmix64 (Steele, Lea, Flood 2014) from
 * the state 0x6465732d67656172 ("des-gear" in ASCII), entry i being the
 * (i+1)-th output. Written out rather than computed at start-up so that it
 * is constant data (no initialisation, no shared mutable state) and so that
 * a change shows in a diff; the unit test recomputes it from the seed.
 */
static const uint64_t gear[256] = {
	0x4df872830f780136, 0x3c779227e3a891db, 0xbc449f828ac242e8, 0x5c1c9ed9a0b354b2,
	0xade7de842ed44b7d, 0x136a2681fb023cb4, 0xa96406955ceb9d60, 0x2bc7160931fad4ec,
	0xa3ab5b806f7aa390, 0x1f198bd6e989fe04, 0xc0d4b6b8f55b7d21, 0xf5fa36ef403a5c18,
	0xc40696538deb5d07, 0x75455db436ef1dc9, 0x20b42d23a25f3bac, 0xeac7b26dece351fc,
	0xaf72fd11b4f6a5e9, 0xc4b356902a1b3a1c, 0xf3051f79338db913, 0xc894ddab48c39c2f,
	0x30ebc05db0259597, 0x5bdf8beaf4e1e9b9, 0x521da5d6f3607299, 0xd189cac6b33b6491,
	0x53c7b70538991270, 0xca2462a75ea35b1f, 0xdb5a1407f86ccf56, 0xfe9987f253668da6,
	0xaf95847f60c144d4, 0xd4fa3bb3c0a57f5d, 0xcf4c93b07cf6258a, 0x052d61f16d693fb1,
	0xa63d46f9868f715f, 0xb408cb7a8436f8d0, 0x85843ae53fa1df69, 0x446ef789a46d91a7,
	0x8abc78a870590807, 0x8a618fd6a688cf0a, 0x16dbaa2d50679ede, 0xc5b0c41d9fb447c8,
	0xbd21a1516143d5d4, 0x78bbc904573e631b, 0x8415e43b9ce7889e, 0x5dcf5f3a5417eb4d,
	0x9e7d744172cea15f, 0x2092a4e0e3ad185e, 0xa470150245dfc325, 0x95a83f3e25d19130,
	0x766dfeedc6cf635e, 0x8c7e0a1f615ee2ee, 0xda0705951527e899, 0x311cadcc7592e677,
	0x2d75c5840f2fdcc7, 0x4f3fdc53960c5fa4, 0xbbf129340e8acb3e, 0x15c3f16d4dea4df5,
	0x4c9ee2d6e6a5943d, 0x3edafa223434b63b, 0x89c466155fc38505, 0xc57ec8065c1f1ea6,
	0x6255dea0717faa32, 0x77ff6371534e7523, 0x2b9f4c6368f7af65, 0x303a63bb1a1261f8,
	0x47cda1857cd0f9ff, 0xdaf6bfc9d58ad2d7, 0xcb169307b114b682, 0x3a956b226f9cfeb3,
	0xbad0598b9e4b8542, 0xccf886fa550ac216, 0x40eb7744ef010d5e, 0xdd39e25b7c739ecb,
	0xbcd28b98e91ef3d5, 0x4de49672daa9066f, 0x4856a36d4f9b5775, 0x40d4ae1bf5375014,
	0xb38203632af2c1a4, 0xd522f523e2246411, 0x3d62133a18fbe47a, 0xcec3be8ce1c9a44b,
	0x8e7483227496363e, 0xa4f0d5ffb1a5ca2f, 0xbb18749e2eccfa4d, 0xeaf6a6b155b392a0,
	0x1f2d639913716b0a, 0xaedf01461f0336fa, 0x06ce4e80f7052d3a, 0x5841177fa7eab311,
	0x5baecdfcecd7cf8c, 0xaa5b23275d730ce4, 0x8ed7e805a866efc6, 0x75192960faaae2a4,
	0x50586f76bc8e0e10, 0x741dbc0b2b2a18c8, 0x8fed713fbc7d7496, 0xeef988cf9b1711de,
	0x8293ea8f6c3bee5e, 0x0aa14785b8b3cb12, 0xee569df6de814617, 0xca00214e087823fd,
	0x686824ce7874cd4c, 0x529e572d04cbbe1c, 0x184db82d6cf66aae, 0x244b63a6d0df4e9c,
	0x2dc0a4688a36bef7, 0x0f73547ef5e42f24, 0x3f2f402400079f1b, 0x880a91f3ae9f64d7,
	0xd427deab0d171576, 0xe8dd879075bc165a, 0xe34672887af04276, 0x3138423ac882ebcc,
	0x58d9b3ea7e1808ae, 0xd659ea742fd17c1c, 0xe800e554499ffed8, 0x397ed293969c140f,
	0x9f199c0a6bcb9e36, 0x1447e0c25f2f687e, 0x80cc3440efa45e09, 0xa7cfb9e9bc9ce755,
	0xde01c68571b10602, 0x9e4a779dcdb72e5e, 0xaed1de263b4af938, 0xbda1a20d92a9ef93,
	0xf1e1bedfe121f7ba, 0xe318e181e62edcc4, 0xa7cfe279bd52c74f, 0xb52252f811a3992d,
	0x0eff249e181b8017, 0xb81700f6b793770a, 0x847b688220bc79e7, 0x71c51fb306bfb90f,
	0x58588785e26dc925, 0x2078d0e428b8e579, 0x0e3728f8837968d7, 0x397508f072efb8e6,
	0x72abbfce5735f06f, 0xdbe3eede581235cd, 0xdc15c5e27a4dd154, 0xf43b0ae83c398019,
	0x6424e0284f28d25a, 0x789006159cbe775d, 0xfbe0e44dddefe0c5, 0xc479b4b0d8f06373,
	0x4e5e4abbe2ee8119, 0xf299f3a981cc7c19, 0x12031a77d6e14561, 0xe468332d75431bda,
	0xa6726366ded21427, 0xd3d53cddbbfc4180, 0xeeab5429169cb85b, 0x5b80aa2876159d37,
	0x9721b43213dbca0d, 0xaed564746baf5071, 0x03214f5c99273de8, 0x4b7ca66e7356ccbe,
	0x8353e92d620b8ab9, 0xc2d674a4dd122087, 0xf4624b39afc27453, 0x4f7072d8953e89f4,
	0xb97f2622d090e7e0, 0x32823c665b548a2e, 0x585ab11c05ec7126, 0xa2109e302183c820,
	0xe309cc03238b900a, 0x9b0adf8d0b3f6c35, 0x4ae8204ec4274f19, 0x67e24d58000b443d,
	0x9176bc296276ce3e, 0x434884e3233d4d33, 0xc5fa1b7c9e76357a, 0x64c16b71a985eb63,
	0x4d43b67dcabf8f1b, 0xa8dbcab634312243, 0x0e3d55d19ad8b42f, 0x8f2a63b562db3d1e,
	0x1900fa82b6518250, 0x11b29e43d2292bbc, 0xa8fb5221c4fed3a1, 0x9b12e6da55a74615,
	0xde22520913a9521e, 0xa7e3427c42576c5f, 0x99c0be266b5c64a2, 0xe8a4849ad0f3e10c,
	0xf784cc6dca04ba1c, 0x64f86160c5bc2f5b, 0xe924e99d056b74df, 0x700973d7a5327163,
	0xb25a53b81e246d43, 0x047c37fccf7d8103, 0x37bd738ebbb69cf9, 0x378f7d44e25e6e60,
	0xbcc73b4e0c5a8eb0, 0x0f0f2636c91477ef, 0x1a9046954d69a904, 0x9d5e5e1db3e508fd,
	0x5a23f1478cedc5de, 0xd6f067b3ad5b456a, 0x16f02845ab1f0476, 0xcb4d105a80b1e87d,
	0x2d8a6a8ae0b23795, 0x0ccc0bb36c125809, 0x1c118f56fe9fdfad, 0xcb2a9e487bcaa754,
	0x9e51c9b9754d88e6, 0x794c7b2acae61a8a, 0x7dff5d5957d11e53, 0x8165cd68ce59e046,
	0x00b2a608b57441ff, 0xdaa137100f9d9dc1, 0xa3763da7b627a63a, 0x78664037409b818c,
	0xe57814fdc90a8032, 0x45b3964b0714a314, 0x4a6fed2f32ad1574, 0x5b0fb6e420a5f68e,
	0xdaa6a262376329a5, 0x7234ce329eee4ca3, 0x1a34307ca796dd41, 0x9249630dc850f2cf,
	0x834882c83f457c51, 0xd2800d5409108069, 0x1cfdfa851aad4eb0, 0x3be1a39089006b03,
	0x4bc6ad3cf8fa98b9, 0x683dbd43657497ac, 0xd7f20c8d2c2bff35, 0x1bc11548b514321e,
	0x89ebc5619ab46e4f, 0x7846f7145c8665f6, 0x60631705d490cf6c, 0x161fec73e47732a6,
	0x3f314088addfa342, 0x8d8d20ae34d5d433, 0x080808e483db03e3, 0xd720f43f41c3977f,
	0x78bbd4b4be1851f1, 0x9711ad9ecbed0486, 0xdcf4caf074ae858e, 0x232284faec267420,
	0x4454acbd5dbe6840, 0x90441cd0f4afdd9c, 0xa30c4ca8cadb3d90, 0xdd9d073dbeb58465,
	0x36a883b3f190ba45, 0x84a3ccccfcbbe6fe, 0x4535ba2e2d41dd2b, 0xa40f348a72660ec0,
	0x7052d8428c36c15c, 0x84dba5189a836eca, 0x881b25387344c6b0, 0x0969a347147f4301,
	0x901630d0af50e222, 0xba7b91ce7ea31872, 0x5f28dcf6cedbaebe, 0xd1953efd6c4b2214,
};

/* normalized chunking level 2: the masks have log2(avg) +/- 2 bits */
#define NC_LEVEL 2

uint64_t
des_chunk_gear(unsigned i)
{
	return gear[i & 255];
}

des_chunk_params
des_chunk_params_default(void)
{
	des_chunk_params p = {DES_CHUNK_DEFAULT_MIN, DES_CHUNK_DEFAULT_AVG, DES_CHUNK_DEFAULT_MAX};

	return p;
}

bool
des_chunk_params_check(const des_chunk_params *p, des_error *err)
{
	if (p->min_size < DES_CHUNK_MIN_LOWER)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "chunk min size %u is below %u bytes",
						(unsigned) p->min_size, (unsigned) DES_CHUNK_MIN_LOWER);
	if (p->max_size > DES_CHUNK_MAX_UPPER)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "chunk max size %u is above %u bytes (64 MiB)",
						(unsigned) p->max_size, (unsigned) DES_CHUNK_MAX_UPPER);
	if (!(p->min_size < p->avg_size && p->avg_size < p->max_size))
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"chunk sizes must satisfy min < avg < max, got min %u, avg %u, max %u",
						(unsigned) p->min_size, (unsigned) p->avg_size, (unsigned) p->max_size);
	if ((p->avg_size & (p->avg_size - 1)) != 0)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "chunk avg size %u is not a power of two",
						(unsigned) p->avg_size);
	return true;
}

/* A mask of the top n bits: they depend on the most bytes (bit k of h on the last k + 1). */
static uint64_t
top_bits(int n)
{
	return ~UINT64_C(0) << (64 - n);
}

bool
des_chunker_init(des_chunker *c, const des_chunk_params *p, des_error *err)
{
	int			bits;

	if (!des_chunk_params_check(p, err))
		return false;
	memset(c, 0, sizeof(*c));
	c->params = *p;
	/* avg is a power of two between 128 and 32 MiB: bits is 7 .. 25 */
	bits = __builtin_ctz(p->avg_size);
	c->mask_small = top_bits(bits + NC_LEVEL);
	c->mask_large = top_bits(bits - NC_LEVEL);
	return true;
}

void
des_chunker_reset(des_chunker *c)
{
	c->hash = 0;
	c->pending = 0;
	c->offset = 0;
}

/*
 * Roll the hash over p[0 .. n) and return 1 + the index of the first byte
 * after which (h & mask) == 0, or 0 if there is none. The hot loop: one
 * table load, one shift-add and one test per byte.
 */
static inline size_t
scan(uint64_t *hp, const unsigned char *p, size_t n, uint64_t mask)
{
	uint64_t	h = *hp;
	size_t		i = 0;

	/* unrolled by 4: the loop overhead is otherwise a third of the work */
	for (; i + 4 <= n; i += 4)
	{
		h = (h << 1) + gear[p[i]];
		if ((h & mask) == 0)
			return *hp = h, i + 1;
		h = (h << 1) + gear[p[i + 1]];
		if ((h & mask) == 0)
			return *hp = h, i + 2;
		h = (h << 1) + gear[p[i + 2]];
		if ((h & mask) == 0)
			return *hp = h, i + 3;
		h = (h << 1) + gear[p[i + 3]];
		if ((h & mask) == 0)
			return *hp = h, i + 4;
	}
	for (; i < n; i++)
	{
		h = (h << 1) + gear[p[i]];
		if ((h & mask) == 0)
			return *hp = h, i + 1;
	}
	*hp = h;
	return 0;
}

size_t
des_chunker_next(des_chunker *c, const void *data, size_t len, uint64_t *chunk_len)
{
	const unsigned char *p = data;
	const uint64_t min = c->params.min_size;
	const uint64_t avg = c->params.avg_size;
	const uint64_t max = c->params.max_size;
	uint64_t	pend = c->pending;
	size_t		i = 0;
	size_t		n,
				k;

	*chunk_len = 0;
	/* lengths 1 .. min - 1: no cut possible, the bytes are not even read */
	if (pend < min - 1)
	{
		n = len < min - 1 - pend ? len : (size_t) (min - 1 - pend);
		pend += n;
		i += n;
	}
	/* lengths min .. avg - 1: the stricter mask */
	if (i < len && pend < avg - 1)
	{
		n = len - i < avg - 1 - pend ? len - i : (size_t) (avg - 1 - pend);
		k = scan(&c->hash, p + i, n, c->mask_small);
		if (k != 0)
		{
			pend += k;
			i += k;
			goto cut;
		}
		pend += n;
		i += n;
	}
	/* lengths avg .. max: the looser mask, and a forced cut at max */
	if (i < len && pend < max)
	{
		n = len - i < max - pend ? len - i : (size_t) (max - pend);
		k = scan(&c->hash, p + i, n, c->mask_large);
		if (k != 0)
		{
			pend += k;
			i += k;
			goto cut;
		}
		pend += n;
		i += n;
		if (pend == max)
			goto cut;
	}
	c->pending = pend;
	return i;

cut:
	*chunk_len = pend;
	c->offset += pend;
	c->pending = 0;
	c->hash = 0;
	return i;
}

uint64_t
des_chunker_finish(des_chunker *c)
{
	uint64_t	last = c->pending;

	des_chunker_reset(c);
	return last;
}

size_t
des_chunk_first(const des_chunker *c, const void *data, size_t len)
{
	des_chunker fresh = *c;
	uint64_t	chunk_len;

	fresh.hash = 0;
	fresh.pending = 0;
	/* one call either cuts or consumes everything */
	(void) des_chunker_next(&fresh, data, len, &chunk_len);
	return chunk_len != 0 ? (size_t) chunk_len : len;
}

bool
des_chunk_buffer(const des_chunk_params *p, const void *data, size_t len, bool with_ids,
				 des_chunk_cb cb, void *ctx, des_error *err)
{
	des_chunker c;
	const unsigned char *b = data;
	size_t		off = 0;

	if (!des_chunker_init(&c, p, err))
		return false;
	while (off < len)
	{
		des_chunk	ch;

		ch.offset = off;
		ch.length = des_chunk_first(&c, b + off, len - off);
		if (with_ids)
			blake2b(ch.id, b + off, NULL, DES_CHUNK_ID_BYTES, ch.length, 0);
		else
			memset(ch.id, 0, sizeof(ch.id));
		if (!cb(ctx, &ch, err))
			return false;
		off += ch.length;
	}
	return true;
}

bool
des_chunk_hasher_init(des_chunk_hasher *h, const des_chunk_params *p,
					  des_chunk_cb cb, void *ctx, des_error *err)
{
	if (!des_chunker_init(&h->chunker, p, err))
		return false;
	blake2b_init(&h->b2, DES_CHUNK_ID_BYTES);
	h->cb = cb;
	h->ctx = ctx;
	return true;
}

/* Finish the current chunk's id, report it, start the next one. */
static bool
emit(des_chunk_hasher *h, uint64_t offset, uint64_t length, des_error *err)
{
	des_chunk	ch;

	ch.offset = offset;
	ch.length = length;
	blake2b_final(&h->b2, ch.id, DES_CHUNK_ID_BYTES);
	blake2b_init(&h->b2, DES_CHUNK_ID_BYTES);
	return h->cb(h->ctx, &ch, err);
}

bool
des_chunk_hasher_update(des_chunk_hasher *h, const void *data, size_t len, des_error *err)
{
	const unsigned char *p = data;

	while (len > 0)
	{
		uint64_t	chunk_len;
		size_t		n = des_chunker_next(&h->chunker, p, len, &chunk_len);

		/* hash what was scanned right away, while it is in cache */
		blake2b_update(&h->b2, p, n);
		p += n;
		len -= n;
		if (chunk_len != 0 && !emit(h, h->chunker.offset - chunk_len, chunk_len, err))
			return false;
	}
	return true;
}

bool
des_chunk_hasher_finish(des_chunk_hasher *h, des_error *err)
{
	uint64_t	offset = h->chunker.offset;
	uint64_t	last = des_chunker_finish(&h->chunker);

	if (last == 0)
		return true;
	return emit(h, offset, last, err);
}
