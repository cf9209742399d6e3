# moesim - build, run, test, bench.
#
#   make          build ./moesim (C11, -O2, warnings are errors)
#   make run      install missing packages, build, run the built-in default scenario
#   make test     install missing packages, build the tests with ASan+UBSan, run every
#                 CUnit suite, the bad-scenario corpus and the end-to-end checks
#   make layers   check that every include points down a floor (DESIGN.md)
#   make bench    build and run the benchmarks (figures with their units)
#   make valgrind run the unit tests and a short scenario under valgrind
#   make lint     build with -Wconversion (advisory)
#   make fuzz     build the libFuzzer targets (tests/fuzz/) with clang, run each FUZZ_S s
#   make deps     install whichever of the required Debian packages are missing
#   make clean
# V=1 shows the commands.

CC       ?= cc
# B: where objects go (B=/tmp/x keeps parallel builds apart)
B        ?= build
PKGS     := gsl libconfig zlib jansson
DEBS     := libgsl-dev libconfig-dev zlib1g-dev libcunit1-dev libjansson-dev pkg-config

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# -ffp-contract=off: no fused multiply-adds, so every machine rounds alike
# (same scenario and seed, byte-identical output on any machine)
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CUNIT_LIBS = $(shell pkg-config --libs cunit 2>/dev/null || echo -lcunit)
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) -Iinclude -I$(B)/gen $(PKG_CFLAGS) -MMD -MP
LIBS       = $(PKG_LIBS) -lm
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

ifeq ($(V),1)
Q :=
else
Q := @
endif

# sim/ by floor (DESIGN.md): core, scenario, play, report, cmd; `make layers` checks the arrows
FLOORS   := core scenario play report cmd
LIB_SRC  := $(wildcard models/*.c) $(filter-out sim/cmd/main.c,$(foreach f,$(FLOORS),$(wildcard sim/$(f)/*.c)))
MAIN_SRC := sim/cmd/main.c
TEST_SRC := $(wildcard tests/*.c)
BENCH_SRC := $(wildcard bench/*.c)
DEFAULT_CFG := scenarios/mixtral-8x7b-h100x8.cfg
GEN_SRC  := $(B)/gen/default_scenario.c

REL_OBJ  := $(patsubst %.c,$(B)/rel/%.o,$(LIB_SRC)) $(B)/rel/gen/default_scenario.o
SAN_OBJ  := $(patsubst %.c,$(B)/san/%.o,$(LIB_SRC)) $(B)/san/gen/default_scenario.o
TEST_OBJ := $(patsubst %.c,$(B)/san/%.o,$(TEST_SRC))
BENCH_BIN := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all run test unit e2e layers bench valgrind lint deps clean fuzz fuzz-smoke
all: moesim

moesim: $(REL_OBJ) $(B)/rel/sim/cmd/main.o
	@echo "  LINK   $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(B)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC     $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/rel/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c $(B)/gen/suites.inc
	@mkdir -p $(dir $@)
	@echo "  CC san $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(SANFLAGS) -DMOESIM_TEST -c -o $@ $<

$(B)/san/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SANFLAGS) -c -o $@ $<

# The built-in default scenario: the text of $(DEFAULT_CFG), embedded at build.
$(GEN_SRC): $(DEFAULT_CFG) Makefile
	@mkdir -p $(dir $@)
	$(Q){ echo "/* generated from $(DEFAULT_CFG) by the Makefile; do not edit */"; \
	  echo '#include "moesim/cli.h"'; \
	  echo 'const char cli_default_scenario_file[] = "$(notdir $(DEFAULT_CFG))";'; \
	  echo 'const char cli_default_scenario_text[] = {'; \
	  od -An -v -tu1 $(DEFAULT_CFG) | awk '{ for (i = 1; i <= NF; i++) printf "%s,", $$i; printf "\n" }'; \
	  echo '0};'; } > $@

# One CUnit suite per tests/test_X.c; the list is generated from the file names.
$(B)/gen/suites.inc: $(wildcard tests/test_*.c)
	@mkdir -p $(dir $@)
	$(Q)for f in $(sort $(wildcard tests/test_*.c)); do \
	  n=$${f#tests/test_}; echo "SUITE($${n%.c})"; done > $@

$(B)/san/moesim_tests: $(SAN_OBJ) $(TEST_OBJ)
	@echo "  LINK   $@"
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LIBS) $(CUNIT_LIBS)

$(B)/san/moesim: $(SAN_OBJ) $(B)/san/sim/cmd/main.o
	@echo "  LINK   $@"
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/%: bench/%.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

run: deps
	$(Q)$(MAKE) --no-print-directory moesim
	./moesim run

# The unit suites and the end-to-end checks run against sanitizer builds.
test: deps
	$(Q)$(MAKE) --no-print-directory $(B)/san/moesim_tests $(B)/san/moesim
	$(Q)$(MAKE) --no-print-directory layers unit e2e fuzz-smoke

# The floors of DESIGN.md: every include points down (tests/layers.sh).
layers:
	$(Q)sh tests/layers.sh

# tests/lsan.supp: a leak inside libconfig on a syntax error (not moesim's)
SAN_ENV := ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/lsan.supp:print_suppressions=0 \
           UBSAN_OPTIONS=print_stacktrace=1

unit:
	$(Q)$(SAN_ENV) $(B)/san/moesim_tests

e2e:
	$(Q)$(SAN_ENV) sh tests/e2e/run.sh $(B)/san/moesim

bench: moesim $(BENCH_BIN)
	$(Q)for b in $(BENCH_BIN); do $$b || exit 1; done

valgrind: deps
	$(Q)$(MAKE) --no-print-directory moesim
	$(Q)$(MAKE) --no-print-directory CFLAGS="-O1 -g" $(B)/rel/moesim_tests_vg
	valgrind -q --error-exitcode=1 --leak-check=full --suppressions=tests/valgrind.supp $(B)/rel/moesim_tests_vg
	valgrind -q --error-exitcode=1 --leak-check=full --suppressions=tests/valgrind.supp ./moesim run --set workload.batches=1 --set workload.tokens_per_rank=64 > /dev/null

$(B)/rel/moesim_tests_vg: $(REL_OBJ) $(patsubst %.c,$(B)/rel/%.o,$(TEST_SRC))
	$(Q)$(CC) -o $@ $^ $(LIBS) $(CUNIT_LIBS)
$(patsubst %.c,$(B)/rel/%.o,$(TEST_SRC)): $(B)/gen/suites.inc

lint:
	$(Q)$(MAKE) --no-print-directory -B CFLAGS="-O2 -Wconversion -Wno-error" moesim

# libFuzzer targets (tests/fuzz/fuzz_*.c) against the library built with
# clang's fuzzer, address and undefined sanitizers; tests/fuzz/run.sh runs
# each for FUZZ_S seconds with leak detection. make test runs them for
# FUZZ_SMOKE_S seconds each when clang can build a fuzzer, and says so when
# it cannot.
FUZZ_CC  ?= clang
FUZZ_S   ?= 60
FUZZ_SMOKE_S ?= 3
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJ := $(patsubst %.c,$(B)/fuzz/%.o,$(LIB_SRC)) $(B)/fuzz/gen/default_scenario.o

# kept: make would delete them as intermediates of the pattern rules
.SECONDARY: $(FUZZ_OBJ) $(patsubst %.c,$(B)/fuzz/%.o,$(wildcard tests/fuzz/fuzz_*.c))
$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	$(Q)$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzz/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_SAN) -c -o $@ $<
$(B)/fuzz/fuzz_%: $(B)/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	@echo "  FUZZ   $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: moesim
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)sh tests/fuzz/run.sh $(B) $(FUZZ_S) ./moesim

fuzz-smoke:
	$(Q)if printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }\n' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o $(B)/fuzz-probe - >/dev/null 2>&1; then \
	  rm -f $(B)/fuzz-probe; $(MAKE) --no-print-directory fuzz FUZZ_S=$(FUZZ_SMOKE_S); \
	else echo "skip fuzz: $(FUZZ_CC) cannot build a libFuzzer target (make fuzz needs clang)"; fi

# Installs whichever required packages are missing (as root), or says how.
deps:
	$(Q)missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "moesim needs:$$missing"; echo "run:  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf build moesim

-include $(shell find $(B) -name '*.d' 2>/dev/null)
