# imbench — one entry point. `make run` and `make test` do all set-up on a
# fresh Debian machine (they call `make deps` first).
#
#   make            build programs into build/bin (harness, imager)
#   make deps       install missing Debian packages (apt-get)
#   make test       build and run every test (cmocka)
#   make run        generate the default data, run the default workload
#   make bench      benchmarks, recorded to SQLite, ratios printed
#   make sanitize   tests under ASan + UBSan;  make tsan: under TSan
#   make analyze    clang's static analyzer and cppcheck; fails on a finding
#   make clean
#
# SANITIZE=address,undefined|thread builds into build/<sanitizer>/.

CC      ?= cc
ifeq ($(origin CC),default)
CC      := cc
endif
ARCH    ?= -march=native
OPT     ?= -O3
SANITIZE ?=
comma   := ,
BUILD   ?= build
ifeq ($(SANITIZE),)
B       := $(BUILD)
SANFLAGS :=
else
B       := $(BUILD)/$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -g
OPT     := -O1
endif

PKGS    := yaml-0.1 sqlite3 fftw3f fftw3 hdf5 cfitsio jansson papi cmocka ompi-c simgrid
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?=
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(OPT) $(ARCH) -g $(WARN) $(SANFLAGS) -I. $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDLIBS  = $(PKG_LIBS) -lfftw3f_threads -lsde -lpthread -lm
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

MODULES := reports results sim msio workloads imaging profiles common
PROGS   := harness imager
MAINS   := harness/main.c imaging/imager_main.c
lib_srcs = $(filter-out $(MAINS),$(wildcard $(1)/*.c))
LIBS    := $(foreach m,$(MODULES),$(B)/lib$(m).a)
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))

Q := @
ifeq ($(V),1)
Q :=
endif

.PHONY: all deps programs tests test run full bench sanitize tsan clean install
.SECONDARY:
all: deps
	$(Q)$(MAKE) --no-print-directory programs

programs: $(B)/bin/harness $(B)/bin/imager

define MODULE_RULES
$(B)/lib$(1).a: $(patsubst %.c,$(B)/obj/%.o,$(call lib_srcs,$(1)))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_RULES,$(m))))

# Provenance records how the programs were built.
$(B)/obj/results/provenance.o: ALL_CFLAGS += -DIB_BUILD_FLAGS='"$(CC) -std=c11 $(OPT) $(ARCH) $(SANFLAGS) $(CFLAGS)"'

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# ---- msio: MeasurementSet import/export (begin) ---------------------------
# msio (in MODULES above, between results and workloads) adds one C++ file,
# msio/ms_casacore.cc, the only code that sees casacore (Debian's
# casacore-dev: headers under /usr/include/casacore, no pkg-config file).
# C++ is compiled with the same warnings minus the C-only ones; programs
# and tests that may pull it in link casacore and libstdc++.
CXX     ?= g++
CXXWARN := -Wall -Wextra -Werror -Wshadow
ALL_CXXFLAGS = -std=c++17 $(OPT) $(ARCH) -g $(CXXWARN) $(SANFLAGS) -I. -MMD -MP $(CXXFLAGS)
MSIO_LIBS := -lcasa_ms -lcasa_measures -lcasa_tables -lcasa_casa -lstdc++

$(B)/libmsio.a: $(patsubst %.cc,$(B)/obj/%.o,$(wildcard msio/*.cc))

$(B)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(ALL_CXXFLAGS) -c -o $@ $<

$(B)/bin/harness: LDLIBS += $(MSIO_LIBS)
$(B)/tests/%: LDLIBS += $(MSIO_LIBS)
# ---- msio (end) -------------------------------------------------------------

$(B)/bin/harness: $(B)/obj/harness/main.o $(B)/libharness.a $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/imager: $(B)/obj/imaging/imager_main.o $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libharness.a: $(patsubst %.c,$(B)/obj/%.o,$(call lib_srcs,harness))
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/tests/%: $(B)/obj/tests/%.o $(B)/obj/tests/testutil.o $(B)/libharness.a $(LIBS) | programs
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

tests: programs $(TESTS)

deps:
	$(Q)scripts/deps.sh

# Every test binary runs even when an earlier one fails; the exit status
# reports whether all passed.
test: deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)IMBENCH_BIN=$(CURDIR)/$(B)/bin scripts/run-tests.sh $(TESTS)

sanitize: deps
	$(Q)$(MAKE) --no-print-directory test SANITIZE=address,undefined

# The threaded and MPI tests under TSan; OpenMPI's own internals are
# suppressed (tests/tsan.supp), nothing of ours is.
TSAN_TESTS := test_gridder test_mosaic test_workloads test_parallel
tsan: deps
	$(Q)$(MAKE) --no-print-directory tests SANITIZE=thread
	$(Q)IMBENCH_BIN=$(CURDIR)/$(BUILD)/thread/bin \
	    TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	    scripts/run-tests.sh $(addprefix $(BUILD)/thread/tests/,$(TSAN_TESTS))

run: deps
	$(Q)$(MAKE) --no-print-directory programs
	$(Q)scripts/run-default.sh $(B)/bin

full: deps
	$(Q)$(MAKE) --no-print-directory programs
	$(Q)scripts/run-full.sh $(B)/bin

bench: deps
	$(Q)$(MAKE) --no-print-directory programs
	$(Q)scripts/bench.sh $(B)/bin

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(B)/bin/harness $(B)/bin/imager $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---- fuzzing (tests/fuzz/, docs/fuzzing.md) -----------------------------
# make fuzz [FUZZ_SECONDS=30] [FUZZ_TARGETS="suite casa_log"]: builds the
# libFuzzer targets with clang, ASan and UBSan into build/fuzz/ (clang
# objects of their own, never the gcc ones) and runs each for FUZZ_SECONDS;
# fails when a target finds a crash, leak or hang in our code. The replay
# of the corpora and the found inputs is tests/test_fuzz_regress (make test).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz: deps
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)
# ---- end of fuzzing -------------------------------------------------------

# ---- static analysis (begin) ----------------------------------------------
# make analyze: two static analyzers over every source of ours (each module,
# the harness, the tests and fuzz targets, msio's C++ adapter); any finding
# fails the target.
#  - clang's static analyzer (Debian clang-14), run through clang-tidy for
#    its inline suppressions; checkers in tests/clang-tidy.yaml. One result
#    per file under build/analyze/, redone when the file or a header it
#    includes changes; runs in parallel under make -j.
#  - cppcheck (Debian's 2.10) over the same files in one run, -j of its
#    own; tests/cppcheck.cfg tells it the macros and non-returning
#    functions of the libraries it does not read, tests/cppcheck.supp holds
#    the one check suppressed everywhere, with its reason.
# A false positive is suppressed at its line, the reason in the same
# comment: `NOLINTNEXTLINE(clang-analyzer-<checker>)` (tests/clang-tidy.yaml)
# or `cppcheck-suppress <id> ; why` on the line above.
#  - the gridding hot loop still vectorises: scripts/check-vec.sh compiles
#    imaging/gridder.c with gcc's -fopt-info-vec-optimized (the default
#    build's -O3 and ARCH) and fails when a loop of imaging/grid_tmpl.h
#    marked "make analyze: must vectorise" is not reported vectorised.
CLANG_TIDY ?= clang-tidy
CLANG      ?= clang
CPPCHECK   ?= cppcheck
AN         := $(BUILD)/analyze
AN_DIRS    := common profiles imaging workloads results sim reports harness msio tests tests/fuzz
AN_C       := $(foreach d,$(AN_DIRS),$(wildcard $(d)/*.c))
AN_CXX     := $(foreach d,$(AN_DIRS),$(wildcard $(d)/*.cc))
AN_CFLAGS   = -std=c11 -D_DEFAULT_SOURCE -I. $(PKG_CFLAGS)
AN_CXXFLAGS = -std=c++17 -I.
CPPCHECK_FLAGS = --enable=warning,portability,performance --std=c11 \
	--library=posix,gnu,sqlite3 --library=tests/cppcheck.cfg \
	--suppressions-list=tests/cppcheck.supp \
	-D_DEFAULT_SOURCE -I. --inline-suppr --error-exitcode=1 \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]'

.PHONY: analyze analyze-clang analyze-cppcheck analyze-vec
analyze: deps
	$(Q)$(MAKE) --no-print-directory -k analyze-clang analyze-cppcheck analyze-vec

analyze-clang: $(patsubst %,$(AN)/%.ok,$(AN_C) $(AN_CXX))

# clang-tidy writes no dependency file of its own: clang -MM lists the
# headers, then clang-tidy runs; the stamp is touched only when it passes.
$(AN)/%.c.ok: %.c tests/clang-tidy.yaml
	@mkdir -p $(dir $@)
	@echo "  ANALYZE $<"
	$(Q)$(CLANG) $(AN_CFLAGS) -MM -MP -MT $@ -MF $(AN)/$*.c.d $<
	$(Q)$(CLANG_TIDY) --quiet --config-file=tests/clang-tidy.yaml $< -- $(AN_CFLAGS)
	$(Q)touch $@

$(AN)/%.cc.ok: %.cc tests/clang-tidy.yaml
	@mkdir -p $(dir $@)
	@echo "  ANALYZE $<"
	$(Q)$(CLANG) -x c++ $(AN_CXXFLAGS) -MM -MP -MT $@ -MF $(AN)/$*.cc.d $<
	$(Q)$(CLANG_TIDY) --quiet --config-file=tests/clang-tidy.yaml $< -- $(AN_CXXFLAGS)
	$(Q)touch $@

# cppcheck reads every file each time (half a minute): its cache
# (--cppcheck-build-dir) does not notice a changed configuration.
analyze-cppcheck:
	@echo "  CPPCHECK"
	$(Q)$(CPPCHECK) -q -j $(shell nproc) $(CPPCHECK_FLAGS) $(AN_C) $(AN_CXX)

VEC_CC ?= gcc
analyze-vec:
	$(Q)scripts/check-vec.sh $(VEC_CC) -std=c11 -D_DEFAULT_SOURCE -O3 $(ARCH) -I. $(PKG_CFLAGS)

-include $(shell find $(AN) -name '*.d' 2>/dev/null)
# ---- static analysis (end) ------------------------------------------------
