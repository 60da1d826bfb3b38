/*
 * pg_des.c - module entry point and settings.
 */
#include "pg_des.h"
#include "module/module.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "s3/s3.h"
#include "archive/archive.h"
#include "pipeline/pipeline.h"
#include "workers/workers.h"
#include "gc/gc.h"
#include "datasets/datasets.h"
#include "lineage/lineage.h"
#include "discovery/discovery.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* each area defines its settings next to its variables */
	DesArchiveDefineSettings();
	DesS3DefineSettings();
	DesNamesDefineSettings();
	DesWorkersDefineSettings();
	DesMarkerDefineSettings();
	DesPackerDefineSettings();
	DesDatasetsDefineSettings();
	DesGcDefineSettings();
	DesLineageDefineSettings();
	DesDispatcherDefineSettings();
	DesDiscoveryDefineSettings();
	MarkGUCPrefixReserved("des");

	if (process_shared_preload_libraries_in_progress)
	{
		DesShmemInit();
		/* each kind's slots; its workers too, unless des.workers is off or in pg_upgrade */
		DesMarkerRegisterWorkers();
		DesPackerRegisterWorkers();
		DesDispatcherRegisterWorkers();
		DesProfilerRegisterWorkers();
	}
}
