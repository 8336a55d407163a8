# Thin wrapper over CMake: `make run` and `make test` are the whole quick start.
BUILD    ?= build
JOBS     ?= $(shell nproc)
# CI sets WERROR=1; SANITIZE=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer.
WERROR   ?= 0
SANITIZE ?= 0
DEPS     ?= build
# make install: under PREFIX (binary in PREFIX/sbin), everything below DESTDIR (packaging)
PREFIX   ?= /usr/local
DESTDIR  ?=
# make fuzz: every fuzz/fuzz_*.c for FUZZ_SECONDS each, built with clang in FUZZ_BUILD
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
CMAKE_FLAGS = -DLG_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF) \
              -DLG_SANITIZE=$(if $(filter 1,$(SANITIZE)),ON,OFF)

.PHONY: all deps build run install test test-asan test-docker fuzz bench bench-tls bench-h2 format size clean

all: build

deps:
	@scripts/deps.sh $(DEPS)

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@scripts/run-demo.sh $(BUILD)

# PREFIX/sbin/lifeguard, PREFIX/share/man/man8/lifeguard.8, PREFIX/lib/systemd/system/
# lifeguard.service and /etc/lifeguard/lifeguard.yaml (kept when it exists), all under DESTDIR
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

test: DEPS = test
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE docker

# the image and the compose deployment in a private Docker engine (root; a few minutes)
test-docker: DEPS = docker
test-docker: build
	@cd $(BUILD) && ctest --output-on-failure -L docker

test-asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan SANITIZE=1

# libFuzzer + ASan + UBSan in their own build dir (docs/fuzzing.md); fails on any crash
fuzz: DEPS = fuzz
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DLG_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: DEPS = bench
bench: build
	@bench/run.sh $(BUILD)

# two lifeguard binaries interleaved in one run (bench/README.md): A is required, B defaults to
# this tree's build; ROUNDS=N (10)
B ?= $(BUILD)/lifeguard
.PHONY: bench-ab
bench-ab: DEPS = bench
bench-ab: build
	@test -n "$(A)" || { echo "usage: make bench-ab A=path/to/lifeguard [B=...] [ROUNDS=N]" >&2; exit 2; }
	@bench/ab.sh "$(A)" "$(B)" $(ROUNDS)

# the TLS rows (lifeguard, nginx, HAProxy, Caddy terminating TLS); about 12 minutes
bench-tls: DEPS = bench
bench-tls: build
	@bench/tls.sh $(BUILD)

# the HTTP/2 rows (lifeguard, nginx, HAProxy, Caddy over TLS and h2c, h2load); 15 to 30 minutes
bench-h2: DEPS = bench
bench-h2: build
	@bench/h2.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# every function over 70 lines and every src/ file over 700 (pmccabe); fails when there is one
size:
	@scripts/size.sh

clean:
	rm -rf build build-asan build-fuzz
