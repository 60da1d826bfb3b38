/*
 * pipeline.h - the pipeline area: the marker and packer workers, sources,
 * direct blob reads.
 */
#ifndef DES_PIPELINE_H
#define DES_PIPELINE_H

#include "pg_des.h"

/* the most workers of each kind: the maximum of des.markers and des.packers, and their slots in shared memory */
#define DES_MAX_MARKERS 16
#define DES_MAX_PACKERS 16

/* marker.c */
extern int	des_marker_naptime_ms;
extern int	des_marker_batch_size;
extern int	des_marker_min_age_ms;
extern void DesMarkerRegisterWorkers(void);
extern int	des_markers;
extern int	des_marker_rate_limit;
extern int	des_fetch_batch;

/* packer.c */
extern int	des_packers;
extern int	des_packer_naptime_ms;
extern int	des_container_max_bytes_kb;
extern int	des_container_max_entries;
extern int	des_container_max_age_ms;
extern int	des_lease_timeout_s;
extern int	des_max_attempts;
extern int	des_retry_base_delay_ms;
extern bool des_packer_lz4;
extern void DesPackerRegisterWorkers(void);

/* blob_read.c: stored bytes of an archive, without its index (local pread or one ranged GET) */
extern void DesReadArchiveRange(const DesLocation *loc, const char *location, int64 offset, int64 length, char *p);

extern void DesMarkerDefineSettings(void);
extern void DesPackerDefineSettings(void);

#endif
