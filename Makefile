# Strata: build, run and test. `make run` and `make test` work on a fresh
# Debian machine with the Swift toolchain on PATH: missing system packages
# are installed first.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
DATA ?= ./data
APT_PACKAGES := liblz4-dev libsqlite3-dev pkg-config
# What only the tests need: a PostgreSQL server for the PostgreSQL backend.
TEST_APT_PACKAGES := postgresql

.PHONY: all deps test-deps apt-install build run test man test-tsan sanitize crash-test fuzz fuzz-compile fuzz-build fuzz-seeds bench compare-rocksdb charts clean

all: build

# Installs the system packages the build needs, only when one is missing.
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES) $(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# The main job: the broker demo on the message store STRATA_STORE names
# (default: the LSM store under ./data).
run: build
	mkdir -p $(DATA)
	STRATA_STORE="$${STRATA_STORE:-lsm:$(DATA)/demo-store}" .build/release/strata demo

# Starts a throwaway PostgreSQL server on loopback for the PostgreSQL
# backend's tests (Tests/Support/postgres.sh) and for the PostgreSQL part of
# the CLI smoke test, and stops it afterwards, whether they pass or not.
# Then the failover test, alone (it stops the primary): a synchronous
# streaming-replication standby is started, PostgresFailoverTests gets both
# URLs, stops the primary and promotes the standby; both servers are
# stopped at the end.
test: test-deps
	$(SWIFT) build --build-tests
	url=$$(Tests/Support/postgres.sh start) || { echo "make test: the PostgreSQL server did not start" >&2; Tests/Support/postgres.sh stop; exit 1; }; \
	STRATA_POSTGRES_URL=$$url $(SWIFT) test --skip-build && \
	STRATA_POSTGRES_URL=$$url Tests/CLI/smoke.sh .build/debug/strata && \
	STRATA_POSTGRES_URL=$$url Tests/CLI/live.sh .build/debug/strata; status=$$?; \
	if standby=$$(Tests/Support/postgres.sh start-standby); then \
		STRATA_POSTGRES_URL=$$url STRATA_POSTGRES_STANDBY_URL=$$standby $(SWIFT) test --skip-build --filter PostgresFailoverTests || status=1; \
	else echo "make test: the PostgreSQL standby did not start" >&2; status=1; fi; \
	Tests/Support/postgres.sh stop; exit $$status
	Tests/CLI/usage.sh .build/debug/strata
	.build/debug/strata stress --mode=blackbox --cycles=15 --seed=$$(date +%s)
	.build/debug/strata stress --mode=powerloss --cycles=60 --seed=$$(date +%s)
	.build/debug/strata stress --mode=messages --cycles=10 --seed=$$(date +%s)
	@$(MAKE) --no-print-directory fuzz-compile

# ThreadSanitizer and AddressSanitizer: the concurrency-heavy tests and a
# short power-loss stress run under each (separate build folders).
SANITIZE_TESTS := Concurrency|Memtable|BlockCache|TableCache|RangeDelete|Stress|FaultInjection|ColumnFamily
sanitize: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter "$(SANITIZE_TESTS)"
	$(SWIFT) build --sanitize=thread --scratch-path .build-tsan --product strata
	.build-tsan/debug/strata stress --mode=powerloss --cycles=20 --seed=$$(date +%s)
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt $(SWIFT) test --sanitize=address --scratch-path .build-asan --filter "$(SANITIZE_TESTS)"
	$(SWIFT) build --sanitize=address --scratch-path .build-asan --product strata
	.build-asan/debug/strata stress --mode=powerloss --cycles=20 --seed=$$(date +%s)

# Long crash loops on a release build: CYCLES SIGKILL cycles, then 10x as
# many power-loss cycles, then MESSAGE_CYCLES kills of a broker process on
# the LSM message store (about a second each).
CYCLES ?= 1000
MESSAGE_CYCLES ?= 2000
crash-test: build
	.build/release/strata stress --mode=blackbox --cycles=$(CYCLES)
	.build/release/strata stress --mode=powerloss --cycles=$$(( $(CYCLES) * 10 ))
	.build/release/strata stress --mode=messages --cycles=$(MESSAGE_CYCLES)

# The concurrency tests under ThreadSanitizer (separate build folder), with
# the message-store, event-store and consumer suites (their locks are
# pthread mutexes TSan can see; "EventStore" and "Consumer" match every
# suite whose name contains them). Docs/reliability.md has the last result.
# Three runs, one per group: TSan slows every test 5-20x, and with all of
# them side by side on the cooperative pool's two threads a consumer's first
# receive waited over a minute to run (2026-12-03).
TSAN_TESTS := Concurrency|Memtable|BlockCache|TableCache|RangeDelete|Stress|ParallelCompaction|CoveredFile
TSAN_MESSAGE_TESTS := MessageStoreContractTests|DuplicateIdTests|BrokerSemanticsTests|DifferentialTests|HardeningTests|CacheBudgetTests|RestoreTests|MessageStoreCrashTests|LongPollingTests|SQLiteExecutionTests|EventStore|EventIdempotencyRaceTests|EventDifferentialTests
TSAN_CONSUMER_TESTS := Consumer|MessageStoreServiceTests
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	status=0; for group in "$(TSAN_TESTS)" "$(TSAN_MESSAGE_TESTS)" "$(TSAN_CONSUMER_TESTS)"; do \
		$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --filter "$$group" || status=1; \
	done; exit $$status

# libFuzzer targets (separate package under Fuzz/, never part of the normal
# build): each runs FUZZ_SECONDS on its corpus under Fuzz/corpus/<target>/,
# one at a time; full output in Fuzz/.work/<target>.log. A finding stops
# `make fuzz` and leaves crash-* (or leak-*, timeout-*) in Fuzz/.
# FUZZ_SANITIZERS=fuzzer builds without ASan (4-5x faster for FuzzDBMap;
# Swift's bounds and overflow checks stay on) into Fuzz/.build-noasan.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzWAL FuzzWriteBatch FuzzBlock FuzzTable FuzzManifest FuzzDBMap FuzzMessageRecords
FUZZ_SANITIZERS ?= fuzzer,address
FUZZ_SCRATCH := $(if $(filter fuzzer,$(FUZZ_SANITIZERS)),.build-noasan,.build)
FUZZ_FLAGS := -c release --scratch-path $(FUZZ_SCRATCH) -Xswiftc -sanitize=$(FUZZ_SANITIZERS) -Xswiftc -enable-testing -Xswiftc -use-ld=lld
FUZZ_ENV := SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Fuzz/lsan-suppressions.txt

# The fuzz targets reach the engine's internals (@testable), so an engine
# change can break them without breaking the main build. `make test`
# compiles each one (debug, no libFuzzer, so nothing to link) to catch that.
fuzz-compile: deps
	for t in $(FUZZ_TARGETS); do (cd Fuzz && $(SWIFT) build --scratch-path .build-compile -Xswiftc -enable-testing --target $$t) || exit 1; done

fuzz-build: deps
	cd Fuzz && $(SWIFT) build $(FUZZ_FLAGS)

# Regenerates the seed inputs (seed-NN) each target writes from real encoders.
fuzz-seeds: fuzz-build
	for t in $(FUZZ_TARGETS); do $(FUZZ_ENV) STRATA_FUZZ_SEEDS=$(CURDIR)/Fuzz/corpus/$$t Fuzz/$(FUZZ_SCRATCH)/release/$$t || exit 1; done

fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
		mkdir -p Fuzz/corpus/$$t Fuzz/.work/$$t; \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		(cd Fuzz && $(FUZZ_ENV) $(FUZZ_SCRATCH)/release/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			.work/$$t corpus/$$t) > Fuzz/.work/$$t.log 2>&1; \
		grep -E '^(stat::number|stat::average|Done)|ERROR|Fatal error' Fuzz/.work/$$t.log || true; \
		test -z "$$(ls Fuzz/crash-* Fuzz/leak-* Fuzz/timeout-* 2>/dev/null)" || { echo "finding in $$t: $$(ls Fuzz/crash-* Fuzz/leak-* Fuzz/timeout-* 2>/dev/null)"; exit 1; }; \
	done

bench: build
	mkdir -p $(DATA)
	.build/release/strata bench --db=$(DATA)/bench --benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq --num=1000000

# The SVG charts of Docs/benchmarks.md, redrawn from the committed benchmark
# output in Benchmarks/results/ (plain python3, nothing to install). How to
# record new output: Docs/benchmarks.md, "Charts".
charts:
	python3 Benchmarks/charts.py Docs Benchmarks/results/*.txt

# Debian's db_bench and strata bench on the same workloads, with ratios.
compare-rocksdb: build
	Benchmarks/compare-rocksdb.sh

clean:
	rm -rf .build .build-tsan .build-asan $(DATA) Fuzz/.build Fuzz/.build-noasan Fuzz/.build-compile Fuzz/.work

# The man page of `strata` (section 1), from the command definitions, by
# swift-argument-parser's generate-manual plugin: MAN_DIR/strata.1 (view it
# with `man MAN_DIR/strata.1`). The plugin builds every product first
# (MAN_CONFIGURATION, default debug, so a tested tree builds nothing new).
MAN_DIR ?= .build/man
MAN_CONFIGURATION ?= debug
man: deps
	$(SWIFT) package generate-manual --configuration $(MAN_CONFIGURATION) --section 1 --authors "the Strata authors"
	mkdir -p $(MAN_DIR)
	cp .build/plugins/GenerateManual/outputs/StrataCLI/strata.1 $(MAN_DIR)/strata.1
	@echo "man page: $(MAN_DIR)/strata.1"

# API documentation (DocC): the docc plugin is only resolved with STRATA_DOCC=1,
# so ordinary builds never fetch or build it. Archives land under
# .build/plugins/Swift-DocC/outputs/.
DOCC_TARGETS := Strata StrataMessageCore StrataMessageStore StrataSQLite StrataPostgres
.PHONY: docs
docs:
	for t in $(DOCC_TARGETS); do STRATA_DOCC=1 $(SWIFT) package --disable-sandbox generate-documentation --target $$t || exit 1; done
