/*
 * datasets.h - the datasets area: versioned datasets (contexts, repos,
 * grants; later bundles, trees, branches, labels). Most of it is SQL
 * (src/sql/api/65_tenancy.sql); the C here is what SQL cannot say.
 */
#ifndef DES_DATASETS_H
#define DES_DATASETS_H

#include "pg_des.h"

#endif
