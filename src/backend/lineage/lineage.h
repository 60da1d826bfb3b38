/*
 * lineage.h - the lineage area: gros:// URIs (parsed by the core's uri
 * area), and later their resolution into bundles, runs and the lineage graph.
 */
#ifndef DES_LINEAGE_H
#define DES_LINEAGE_H

#include "pg_des.h"

#endif
