# pg_des - PGXS build.
#   make && make install                 build and install the extension
#   make installcheck                    pg_regress tests against a running server
#   make unit | fuzz | bench             PostgreSQL-free core tests and benchmarks
# The full suite (server started for you) is tools/test.sh.

EXTENSION = pg_des
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_des.control)

MODULE_big = pg_des
# sources by area: the PostgreSQL-free core (src/core/<area>, headers in
# include/des/<area>) and the backend glue (src/backend/<area>, one header each)
CORE_AREAS = common format io s3 chunk tree uri profile
BACKEND_AREAS = module common archive s3 fdw workers pipeline datasets lineage gc discovery
CORE_SRC = $(sort $(foreach a,$(CORE_AREAS),$(wildcard src/core/$(a)/*.c)))
BACKEND_SRC = $(sort $(foreach a,$(BACKEND_AREAS),$(wildcard src/backend/$(a)/*.c)))
CORE_OBJS = $(CORE_SRC:.c=.o)
BACKEND_OBJS = $(BACKEND_SRC:.c=.o)
CORE_HEADERS = $(wildcard include/des/*/*.h)
BACKEND_HEADERS = $(wildcard src/backend/*/*.h)
OBJS = $(CORE_OBJS) $(BACKEND_OBJS)

# install SQL: tables and types (catalog/, created once, then changed only by
# update scripts) followed by functions, views, triggers and grants (api/,
# CREATE OR REPLACE, replayed by every update script)
SQL_CATALOG = $(sort $(wildcard src/sql/catalog/*.sql))
SQL_API = $(sort $(wildcard src/sql/api/*.sql))
# an update script is src/sql/updates/<from>--<to>.sql followed by api/;
# src/sql/releases/ keeps the install scripts of earlier releases as shipped
SQL_UPDATES = $(notdir $(wildcard src/sql/updates/*--$(EXTVERSION).sql))
DATA_built = pg_des--$(EXTVERSION).sql $(addprefix pg_des--,$(SQL_UPDATES))
DATA = $(wildcard src/sql/releases/pg_des--*.sql)

# TAP tests (workers, restarts, kill -9): test/t/*.pl through PGXS's
# prove_installcheck, so `make installcheck` runs them after the regression
# and isolation tests. initdb refuses root: run it as an ordinary user.
# `make tap` runs only them (tools/test.sh does, as postgres).
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS = -I test/t

# regression tests: test/regress/{sql,expected}, in the order of test/regress/schedule
# (tools/test.sh reads the same file; most need the setup it does first)
REGRESS = $(shell sed -n 's/^test: *//p' test/regress/schedule)
REGRESS_OPTS = --inputdir=test/regress --load-extension=pg_des

# concurrency (SKIP LOCKED claims): isolation specs in test/isolation/specs,
# expected output in test/isolation/expected
ISOLATION = $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=pg_des

# the warning flags, stated once: the extension and the core tools share them
WARN_FLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare
PG_CPPFLAGS = -Iinclude -Isrc/backend -Isrc/backend/common -std=gnu11
# EXTRA_CFLAGS: what a build adds (CI: -DUSE_ASSERT_CHECKING)
PG_CFLAGS = $(WARN_FLAGS) $(EXTRA_CFLAGS)
SHLIB_LINK = -lb2 -llz4 -lxxhash -lcrypto -lcurl -lm

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild on any header change
$(OBJS): $(CORE_HEADERS) $(BACKEND_HEADERS)

pg_des--$(EXTVERSION).sql: $(SQL_CATALOG) $(SQL_API)
	cat $^ > $@

# a line "--@include catalog/NN_x.sql" in an update script stands for that
# whole file (tables new in this version: written once, for both paths)
pg_des--%--$(EXTVERSION).sql: src/sql/updates/%--$(EXTVERSION).sql $(SQL_API) $(SQL_CATALOG)
	awk '/^--@include / { f = "src/sql/" $$2; r = getline l < f; if (r < 0) { print "missing include " f > "/dev/stderr"; exit 1 } \
		while (r > 0) { print l; r = getline l < f }; close(f); next } { print }' $< > $@
	cat $(SQL_API) >> $@

# ---- PostgreSQL-free core: unit tests, fuzzing, benchmarks ----
CORE_LIBS = -lb2 -llz4 -lxxhash -lcrypto -lm
FIXTURES ?= $(abspath ../shared/fixtures/des-v1)

# one program per core test file, test/unit/test_<suite>.c, each printing
# "<suite>: N passed, N failed" (tools/test.sh counts UNIT_SUITES' lines);
# test_core and test_profile also link jansson, an independent JSON parser they check against
UNIT_SUITES = sigv4 chunk tree uri csv sketch value column topk semantic profile jsonl core
UNIT_BINS = $(addprefix test/unit/test_,$(UNIT_SUITES))
test/unit/test_core: UNIT_EXTRA_LIBS = -ljansson -lcrypto
test/unit/test_profile: UNIT_EXTRA_LIBS = -ljansson

test/unit/test_%: test/unit/test_%.c $(CORE_SRC) test/unit/unit.h test/unit/tree_oracle.h $(CORE_HEADERS)
	gcc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all $(WARN_FLAGS) \
		-Iinclude -Itest/unit $(CORE_SRC) $< -o $@ $(CORE_LIBS) $(UNIT_EXTRA_LIBS)

# the same tests under ThreadSanitizer: the local sink writes on an I/O thread
test/unit/test_core_tsan: $(CORE_SRC) test/unit/test_core.c test/unit/unit.h $(CORE_HEADERS)
	clang -std=gnu11 -g -O1 -fsanitize=thread $(WARN_FLAGS) \
		-Iinclude -Itest/unit $(CORE_SRC) test/unit/test_core.c -o $@ $(CORE_LIBS) -ljansson

unit: $(UNIT_BINS) test/unit/test_core_tsan
	rc=0; for t in $(filter-out core,$(UNIT_SUITES)); do test/unit/test_$$t || rc=1; done; \
	test/unit/test_core $(FIXTURES) || rc=1; \
	TSAN_OPTIONS=halt_on_error=1 test/unit/test_core_tsan $(FIXTURES) | sed 's/^core:/core_tsan:/'; \
	exit $$rc

# libFuzzer targets, one per parser of untrusted input: test/fuzz/fuzz_<name>.c,
# seeds in test/fuzz/seeds/<name>/, replayed crashes in test/fuzz/regressions/<name>/
FUZZ_TARGETS = reader s3xml json location sigv4 chunk tree uri csv sketch value profile jsonl
FUZZ_BINS = $(addprefix test/fuzz/fuzz_,$(FUZZ_TARGETS))

test/fuzz/fuzz_%: test/fuzz/fuzz_%.c $(CORE_SRC) $(CORE_HEADERS) test/unit/tree_oracle.h
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN_FLAGS) \
		-Iinclude $(CORE_SRC) $< -o $@ $(CORE_LIBS) $(FUZZ_EXTRA_LIBS)
test/fuzz/fuzz_profile: FUZZ_EXTRA_LIBS = -ljansson

# FUZZ_SECONDS per target; FUZZ_ONLY="json sigv4" runs some targets only
FUZZ_SECONDS ?= 30
FUZZ_ONLY ?= $(FUZZ_TARGETS)
fuzz: $(addprefix test/fuzz/fuzz_,$(FUZZ_ONLY))
	test/fuzz/run.sh $(FUZZ_SECONDS) $(FIXTURES) $(FUZZ_ONLY)

test/bench/bench_core: $(CORE_SRC) test/bench/bench_core.c $(CORE_HEADERS)
	gcc -std=gnu11 -O2 -march=x86-64-v2 $(WARN_FLAGS) -Iinclude $(CORE_SRC) test/bench/bench_core.c -o $@ $(CORE_LIBS)

bench: test/bench/bench_core
	test/bench/run.sh

tap:
	$(prove_installcheck)

.PHONY: unit fuzz bench tap
EXTRA_CLEAN = $(UNIT_BINS) test/unit/test_core_tsan $(FUZZ_BINS) test/bench/bench_core
