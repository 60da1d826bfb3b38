# pg_des - PGXS build.
#   make && make install                 build and install the extension
#   make installcheck                    pg_regress tests against a running server
#   make unit | fuzz | bench             PostgreSQL-free core tests and benchmarks
# The full suite (server started for you) is tools/test.sh.

EXTENSION = pg_des
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_des.control)

MODULE_big = pg_des
CORE_OBJS = src/core/des_error.o src/core/des_json.o src/core/des_names.o \
	src/core/des_reader.o src/core/des_writer.o src/core/des_local.o src/core/des_sigv4.o \
	src/core/des_s3xml.o src/core/des_utf8.o src/core/des_location.o
BACKEND_OBJS = src/backend/pg_des.o src/backend/errors.o src/backend/location.o \
	src/backend/reader_cache.o src/backend/archive_read.o src/backend/archive_write.o \
	src/backend/hash_funcs.o src/backend/shmem.o src/backend/s3_client.o src/backend/s3_config.o \
	src/backend/s3_storage.o src/backend/storage_list.o src/backend/index_cache.o \
	src/backend/names.o src/backend/worker_common.o src/backend/worker_marker.o \
	src/backend/worker_packer.o src/backend/sources.o src/backend/fdw_archives.o \
	src/backend/fdw_plan.o src/backend/fdw_scan.o src/backend/fdw_catalog.o src/backend/blob_read.o
OBJS = $(CORE_OBJS) $(BACKEND_OBJS)

SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = pg_des--$(EXTVERSION).sql

REGRESS = archive_basic archive_errors archive_privileges
REGRESS_OPTS = --inputdir=. --load-extension=pg_des

# concurrency (SKIP LOCKED claims): isolation specs in test/specs, expected output in test/expected
ISOLATION = marker_claim packer_lease source_claim
ISOLATION_OPTS = --inputdir=test --load-extension=pg_des

PG_CPPFLAGS = -Iinclude -Isrc/backend -std=gnu11
PG_CFLAGS ?= -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare
SHLIB_LINK = -lb2 -llz4 -lxxhash -lcrypto -lcurl

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild on any header change
$(OBJS): $(wildcard include/des/*.h src/backend/*.h)

pg_des--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# ---- PostgreSQL-free core: unit tests, fuzzing, benchmarks ----
CORE_SRC = $(CORE_OBJS:.o=.c)
CORE_LIBS = -lb2 -llz4 -lxxhash -lcrypto
CORE_WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare
FIXTURES ?= $(abspath ../shared/fixtures/des-v1)

test/unit/test_core: $(CORE_SRC) test/unit/test_core.c test/unit/unit.h $(wildcard include/des/*.h)
	gcc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all $(CORE_WARN) \
		-Iinclude -Itest/unit $(CORE_SRC) test/unit/test_core.c -o $@ $(CORE_LIBS) -ljansson -lcrypto

test/unit/test_sigv4: $(CORE_SRC) test/unit/test_sigv4.c test/unit/unit.h $(wildcard include/des/*.h)
	gcc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all $(CORE_WARN) \
		-Iinclude -Itest/unit $(CORE_SRC) test/unit/test_sigv4.c -o $@ $(CORE_LIBS)

# the same tests under ThreadSanitizer: the local sink writes on an I/O thread
test/unit/test_core_tsan: $(CORE_SRC) test/unit/test_core.c test/unit/unit.h $(wildcard include/des/*.h)
	clang -std=gnu11 -g -O1 -fsanitize=thread $(CORE_WARN) \
		-Iinclude -Itest/unit $(CORE_SRC) test/unit/test_core.c -o $@ $(CORE_LIBS) -ljansson

unit: test/unit/test_core test/unit/test_sigv4 test/unit/test_core_tsan
	test/unit/test_sigv4
	test/unit/test_core $(FIXTURES)
	TSAN_OPTIONS=halt_on_error=1 test/unit/test_core_tsan $(FIXTURES) | sed 's/^core:/core_tsan:/'

# libFuzzer targets, one per parser of untrusted input: test/fuzz/fuzz_<name>.c,
# seeds in test/fuzz/seeds/<name>/, replayed crashes in test/fuzz/regressions/<name>/
FUZZ_TARGETS = reader s3xml json location sigv4
FUZZ_BINS = $(addprefix test/fuzz/fuzz_,$(FUZZ_TARGETS))

test/fuzz/fuzz_%: test/fuzz/fuzz_%.c $(CORE_SRC) $(wildcard include/des/*.h)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CORE_WARN) \
		-Iinclude $(CORE_SRC) $< -o $@ $(CORE_LIBS)

# FUZZ_SECONDS per target; FUZZ_ONLY="json sigv4" runs some targets only
FUZZ_SECONDS ?= 30
FUZZ_ONLY ?= $(FUZZ_TARGETS)
fuzz: $(addprefix test/fuzz/fuzz_,$(FUZZ_ONLY))
	test/fuzz/run.sh $(FUZZ_SECONDS) $(FIXTURES) $(FUZZ_ONLY)

test/bench/bench_core: $(CORE_SRC) test/bench/bench_core.c $(wildcard include/des/*.h)
	gcc -std=gnu11 -O2 -march=x86-64-v2 $(CORE_WARN) -Iinclude $(CORE_SRC) test/bench/bench_core.c -o $@ $(CORE_LIBS)

bench: test/bench/bench_core
	test/bench/run.sh

.PHONY: unit fuzz bench
EXTRA_CLEAN = test/unit/test_core test/unit/test_core_tsan test/unit/test_sigv4 $(FUZZ_BINS) test/bench/bench_core
