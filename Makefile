# Strata: build, run and test. `make run` and `make test` work on a fresh
# Debian machine with the Swift toolchain on PATH: missing system packages
# are installed first.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
DATA ?= ./data
APT_PACKAGES := liblz4-dev pkg-config

.PHONY: all deps build run test test-tsan sanitize crash-test bench compare-rocksdb clean

all: build

# Installs the system packages the build needs, only when one is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# The main job: a short benchmark run on an embedded database under ./data.
run: build
	mkdir -p $(DATA)
	.build/release/strata bench --db=$(DATA)/bench --benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq --num=200000

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	Tests/CLI/smoke.sh .build/debug/strata
	.build/debug/strata stress --mode=blackbox --cycles=15 --seed=$$(date +%s)
	.build/debug/strata stress --mode=powerloss --cycles=60 --seed=$$(date +%s)

# ThreadSanitizer and AddressSanitizer: the concurrency-heavy tests and a
# short power-loss stress run under each (separate build folders).
SANITIZE_TESTS := Concurrency|Memtable|BlockCache|TableCache|RangeDelete|Stress|FaultInjection|ColumnFamily
sanitize: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter "$(SANITIZE_TESTS)"
	$(SWIFT) build --sanitize=thread --scratch-path .build-tsan --product strata
	.build-tsan/debug/strata stress --mode=powerloss --cycles=20 --seed=$$(date +%s)
	$(SWIFT) test --sanitize=address --scratch-path .build-asan --filter "$(SANITIZE_TESTS)"
	$(SWIFT) build --sanitize=address --scratch-path .build-asan --product strata
	.build-asan/debug/strata stress --mode=powerloss --cycles=20 --seed=$$(date +%s)

# Long crash loops on a release build: CYCLES SIGKILL cycles, then 10x as
# many power-loss cycles.
CYCLES ?= 1000
crash-test: build
	.build/release/strata stress --mode=blackbox --cycles=$(CYCLES)
	.build/release/strata stress --mode=powerloss --cycles=$$(( $(CYCLES) * 10 ))

# The concurrency tests under ThreadSanitizer (separate build folder).
test-tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter "Concurrency|Memtable|BlockCache|TableCache|RangeDelete|Stress"

bench: build
	mkdir -p $(DATA)
	.build/release/strata bench --db=$(DATA)/bench --benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq --num=1000000

# Debian's db_bench and strata bench on the same workloads, with ratios.
compare-rocksdb: build
	Benchmarks/compare-rocksdb.sh

clean:
	rm -rf .build .build-tsan .build-asan $(DATA)
