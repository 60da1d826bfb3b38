/*
 * des_column.c - running statistics of one column (see des_column.h).
 */
#include "des/profile/des_column.h"

#include <math.h>
#include <string.h>

des_column_options
des_column_options_default(void)
{
	des_column_options o;

	o.hll_p = DES_HLL_DEFAULT_P;
	o.minhash_k = DES_MINHASH_DEFAULT_K;
	o.value_options = 0;
	return o;
}

bool
des_column_init(des_column_stats *c, const des_column_options *o, des_error *err)
{
	memset(c, 0, sizeof(*c));
	c->value_options = o->value_options;
	if (!des_hll_init(&c->distinct, o->hll_p, err))
		return false;
	if (!des_minhash_init(&c->minhash, o->minhash_k, err))
	{
		des_hll_free(&c->distinct);
		return false;
	}
	return true;
}

void
des_column_free(des_column_stats *c)
{
	des_hll_free(&c->distinct);
	des_minhash_free(&c->minhash);
}

/* words: runs of non-blank bytes */
static int
count_words(const char *s, size_t len, int stop_at)
{
	int			words = 0;
	bool		in_word = false;

	for (size_t i = 0; i < len && words < stop_at; i++)
	{
		bool		blank = s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r';

		if (!blank && !in_word)
			words++;
		in_word = !blank;
	}
	return words;
}

void
des_column_add(des_column_stats *c, const char *text, size_t len)
{
	des_value	v;

	des_value_classify(text, len, c->value_options, &v);
	des_column_add_classified(c, text, len, &v, des_sketch_hash(text, len));
}

void
des_column_add_classified(des_column_stats *c, const char *text, size_t len, const des_value *value, uint64_t hash)
{
	const des_value v = *value;

	c->values++;
	c->kinds[v.kind]++;
	if (v.kind == DES_VALUE_MISSING)
		return;
	des_hll_add_hash(&c->distinct, hash);
	des_minhash_add_hash(&c->minhash, hash);
	switch (v.kind)
	{
		case DES_VALUE_INTEGER:
		case DES_VALUE_FLOAT:
			{
				double		delta;

				c->numbers++;
				if (c->numbers == 1 || v.number < c->num_min)
					c->num_min = v.number;
				if (c->numbers == 1 || v.number > c->num_max)
					c->num_max = v.number;
				delta = v.number - c->num_mean;
				c->num_mean += delta / (double) c->numbers;
				c->num_m2 += delta * (v.number - c->num_mean);
				break;
			}
		case DES_VALUE_DATE:
		case DES_VALUE_DATETIME:
			c->instants++;
			if (c->instants == 1 || v.number < c->time_min)
				c->time_min = v.number;
			if (c->instants == 1 || v.number > c->time_max)
				c->time_max = v.number;
			break;
		case DES_VALUE_TEXT:
			if (count_words(text, len, 4) >= 4)
				c->words4++;
			break;
		default:
			break;
	}
}

uint64_t
des_column_present(const des_column_stats *c)
{
	return c->values - c->kinds[DES_VALUE_MISSING];
}

double
des_column_missing_ratio(const des_column_stats *c)
{
	return c->values == 0 ? 0.0 : (double) c->kinds[DES_VALUE_MISSING] / (double) c->values;
}

des_value_kind
des_column_structural_type(const des_column_stats *c, double threshold)
{
	double		present = (double) des_column_present(c);

	if (present == 0)
		return DES_VALUE_MISSING;
	if ((double) c->kinds[DES_VALUE_INTEGER] >= threshold * present)
		return DES_VALUE_INTEGER;
	if ((double) (c->kinds[DES_VALUE_INTEGER] + c->kinds[DES_VALUE_FLOAT]) >= threshold * present)
		return DES_VALUE_FLOAT;
	if ((double) c->kinds[DES_VALUE_BOOLEAN] >= threshold * present)
		return DES_VALUE_BOOLEAN;
	if ((double) c->kinds[DES_VALUE_DATE] >= threshold * present)
		return DES_VALUE_DATE;
	if ((double) (c->kinds[DES_VALUE_DATE] + c->kinds[DES_VALUE_DATETIME]) >= threshold * present)
		return DES_VALUE_DATETIME;
	return DES_VALUE_TEXT;
}

double
des_column_stddev(const des_column_stats *c)
{
	return c->numbers < 2 ? 0.0 : sqrt(c->num_m2 / (double) c->numbers);
}

bool
des_column_is_free_text(const des_column_stats *c)
{
	uint64_t	present = des_column_present(c);

	return present > 0 && 2 * c->words4 >= present;
}
