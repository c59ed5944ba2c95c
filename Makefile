# sockstep: the lab's interface (GNU make). `make help` lists the targets.
#
# Every solutions/NN-name/<prog>.c is one program, built to
# build/solutions/NN-name/<prog>; every lessons/NN-name/<prog>.c (the student's
# copy) to build/lessons/NN-name/<prog>. Nothing is shared between programs:
# each .c file stands alone.

SHELL := /bin/bash
.DEFAULT_GOAL := all

CC ?= cc
CFLAGS ?= -std=c17 -Wall -Wextra -Wpedantic -O2 -g
# WERROR=1 turns warnings into errors (CI and `make test` use it).
ifeq ($(WERROR),1)
EXTRA_CFLAGS += -Werror
endif
BUILD ?= build
# `make test` builds the mutants one per core at once.
CORES := $(shell nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)

# SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer, in a build
# folder of their own so the ordinary build is untouched.
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
EXTRA_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
SOLUTIONS := 1
endif

ALL_CFLAGS = $(CFLAGS) $(EXTRA_CFLAGS) -pthread
LDLIBS += -pthread

SOLUTION_SRCS := $(sort $(wildcard solutions/[0-9][0-9]-*/*.c))
LESSON_SRCS   := $(sort $(wildcard lessons/[0-9][0-9]-*/*.c))
FIXTURE_SRCS  := $(sort $(wildcard tests/fixtures/*.c))
BENCH_SRCS    := $(sort $(wildcard tests/bench/*.c))
MUTANT_SRCS   := $(sort $(wildcard tests/mutants/[0-9][0-9]-*/*--*.patch))

SOLUTION_BINS := $(SOLUTION_SRCS:%.c=$(BUILD)/%)
# The threaded server is also built with ThreadSanitizer under SANITIZE=1.
TSAN_SRCS     := $(wildcard solutions/03-threaded-server/*.c)
TSAN_BINS     := $(TSAN_SRCS:%.c=build/tsan/%)
LESSON_BINS   := $(LESSON_SRCS:%.c=$(BUILD)/%)
FIXTURE_BINS  := $(FIXTURE_SRCS:tests/fixtures/%.c=$(BUILD)/fixtures/%)
# LD_PRELOAD libraries the tests put under a program (tests/fixtures/preload/).
PRELOAD_SRCS  := $(sort $(wildcard tests/fixtures/preload/*.c))
PRELOAD_LIBS  := $(PRELOAD_SRCS:tests/fixtures/preload/%.c=$(BUILD)/fixtures/%.so)
BENCH_BINS    := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# A mutant is the reference with one real student mistake, kept as a patch so
# that the mistake is all it shows:
# tests/mutants/NN-name/<prog>--<slug>.patch, applied to
# solutions/NN-name/<prog>.c -> build/mutants/NN-name/<slug>/<prog>
mutant_lesson = $(notdir $(patsubst %/,%,$(dir $(1))))
mutant_prog   = $(word 1,$(subst --, ,$(basename $(notdir $(1)))))
mutant_slug   = $(word 2,$(subst --, ,$(basename $(notdir $(1)))))
mutant_bin    = $(BUILD)/mutants/$(call mutant_lesson,$(1))/$(call mutant_slug,$(1))/$(call mutant_prog,$(1))
MUTANT_BINS   := $(foreach m,$(MUTANT_SRCS),$(call mutant_bin,$(m)))

# The environment every harness script reads.
export SOCKSTEP_ROOT := $(CURDIR)
export SOCKSTEP_BUILD := $(abspath $(BUILD))
export LESSON
export SOLUTIONS
export LESSONS
export SANITIZE
export VALGRIND
export TEST_FILTER
export SCENARIO
export SUBMISSIONS
export JOBS
export FORCE

.PHONY: all solutions lessons fixtures benchtools mutants check grade test demo \
        bench hint progress lint fuzz valgrind sanitize gates clean help \
        grade-all gradescope-autograder github-workflow starters

all: solutions lessons fixtures benchtools ## build every lesson, solution and test peer

solutions: $(SOLUTION_BINS)
lessons: $(LESSON_BINS)
fixtures: $(FIXTURE_BINS) $(PRELOAD_LIBS)
benchtools: $(BENCH_BINS)
mutants: $(MUTANT_BINS)

$(BUILD)/solutions/%: solutions/%.c
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/lessons/%: lessons/%.c
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# The peers share tests/fixtures/fixture.h.
FIXTURE_H := tests/fixtures/fixture.h

$(BUILD)/fixtures/%: tests/fixtures/%.c $(FIXTURE_H)
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# GNU C (dlsym returns functions as object pointers), never with the
# sanitizers: a preloaded library must not bring a runtime of its own.
$(BUILD)/fixtures/%.so: tests/fixtures/preload/%.c
	@mkdir -p $(@D); rm -f $@
	$(CC) $(filter-out -std=% -Wpedantic,$(CFLAGS)) -std=gnu17 $(filter -Werror,$(EXTRA_CFLAGS)) \
	    -fPIC -shared -o $@ $< -ldl

$(BUILD)/bench/%: tests/bench/%.c $(FIXTURE_H)
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# The lab's own peers under friendly names, for trying things by hand (a
# lesson's "Try it" needs no nc or socat): build/bin/tcp (a TCP client that
# sends stdin and prints what comes back), build/bin/udp (one datagram, one
# reply) and build/bin/port FILE (the port a server started on -p 0 printed).
LEARNER_BINS := $(BUILD)/bin/tcp $(BUILD)/bin/udp $(BUILD)/bin/port
all fixtures: $(LEARNER_BINS)

$(BUILD)/bin/tcp: tests/fixtures/tcp_talk.c $(FIXTURE_H)
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/bin/udp: tests/fixtures/udp_peer.c $(FIXTURE_H)
	@mkdir -p $(@D); rm -f $@
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/bin/port: tests/lib/port.sh
	@mkdir -p $(@D); rm -f $@
	cp $< $@ && chmod +x $@

# A mutant sits in a folder of its own, beside links to the lesson's other
# reference programs (lesson 05 has a client and a server). Its patch is
# applied without fuzz, so a patch that no longer fits its reference fails
# the build by name instead of planting a different mistake.
define mutant_rule
$(call mutant_bin,$(1)): $(1) $(filter $(BUILD)/solutions/$(call mutant_lesson,$(1))/%,$(SOLUTION_BINS))
	@mkdir -p $$(@D); rm -f $$@ $$@.c
	@patch -s -F0 -r - --no-backup-if-mismatch -o $$@.c solutions/$(call mutant_lesson,$(1))/$(call mutant_prog,$(1)).c $(1) || \
	    { echo "$(1): does not apply to its reference without fuzz; regenerate it from the reference" >&2; rm -f $$@.c; exit 1; }
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$@.c $$(LDLIBS)
	@for p in $(BUILD)/solutions/$(call mutant_lesson,$(1))/*; do \
	    [ "$$$${p##*/}" = "$(call mutant_prog,$(1))" ] || ln -sf "$$$$(cd "$$$${p%/*}" && pwd)/$$$${p##*/}" "$$(@D)/"; \
	done
endef
$(foreach m,$(MUTANT_SRCS),$(eval $(call mutant_rule,$(m))))

# The starters are made from the references (tests/lib/steps.sh): the
# reference with each step cut out by its patch in tests/steps/. A rung of
# the ladder (the reference with only the steps after N cut) is built here
# like any other program; `make test` writes its source.
starters: ## write lessons/*/*.c from the references and tests/steps/ (see docs/instructors.md)
	@bash tests/lib/steps.sh starters

$(BUILD)/steps/%: $(BUILD)/steps/%.c
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

ifeq ($(SANITIZE),1)
check grade: tsan
endif
.PHONY: tsan
tsan:
	-@$(MAKE) --no-print-directory -k $(TSAN_BINS)
build/tsan/solutions/%: solutions/%.c
	@mkdir -p $(@D); rm -f $@
	$(CC) $(CFLAGS) -O1 -fsanitize=thread -pthread -o $@ $< $(LDLIBS)

# Grading goes on when one program does not compile: the compiler's errors
# are shown, and that program's tests fail with "not built".
check: ## grade lessons/ (LESSON=NN one lesson, SOLUTIONS=1 the references)
	@$(MAKE) --no-print-directory -k all || true
	@bash tests/lib/grade.sh

# FORMAT=junit|gradescope|tap|json|text|markdown, REPORT=FILE (default below);
# SUMMARY=FILE also writes the score table in Markdown (a CI job summary).
FORMAT ?= junit
report_name = $(or $(patsubst $(FORMAT):%,%,$(filter $(FORMAT):%,junit:report.xml gradescope:results.json \
              tap:report.tap json:report.json text:report.txt markdown:report.md)),report.$(FORMAT))
REPORT ?= $(abspath $(BUILD))/grade/$(report_name)
grade: ## like check, and write a report (FORMAT=junit|gradescope|tap|json, REPORT=FILE)
	@$(MAKE) --no-print-directory -k all || true
	@SOCKSTEP_REPORTS="$(FORMAT)=$(abspath $(REPORT))$(if $(SUMMARY),;markdown=$(abspath $(SUMMARY)))" \
	    bash tests/lib/grade.sh

grade-all: ## grade a folder of submissions: SUBMISSIONS=DIR [JOBS=N] [LESSON=NN] [FORCE=1]
	@bash tests/lib/grade_all.sh

gradescope-autograder: ## write build/gradescope/autograder.zip (LESSON=NN to grade one lesson)
	@bash tests/lib/gradescope/build.sh "$(abspath $(BUILD))/gradescope/autograder.zip"

github-workflow: ## copy the grading workflow into a repository: make github-workflow [DEST=DIR]
	@mkdir -p "$(or $(DEST),.)/.github/workflows"
	cp docs/github-workflow.yml "$(or $(DEST),.)/.github/workflows/grade.yml"

test: ## maintainers' self-test: solutions pass, starters and mutants fail
	@$(MAKE) --no-print-directory -j$(CORES) WERROR=1 all mutants
	@bash tests/lib/selftest.sh

demo: ## build the references and run the tutorial end to end (LESSONS=1: yours)
	@$(MAKE) --no-print-directory all
	@bash tests/lib/demo.sh

# `make trace`: the packets of a lesson's exchange (tests/lib/trace.sh). A
# scenario may run a variant of a reference, kept as a patch like a mutant:
# tests/trace/NN-name/<prog>--<slug>.patch -> build/trace/variants/NN-name/<slug>/<prog>
TRACE_PATCHES := $(sort $(wildcard tests/trace/[0-9][0-9]-*/*--*.patch))
trace_variant_bin = $(BUILD)/trace/variants/$(call mutant_lesson,$(1))/$(call mutant_slug,$(1))/$(call mutant_prog,$(1))
define trace_variant_rule
$(call trace_variant_bin,$(1)): $(1) solutions/$(call mutant_lesson,$(1))/$(call mutant_prog,$(1)).c
	@mkdir -p $$(@D); rm -f $$@ $$@.c
	@patch -s -F0 -r - --no-backup-if-mismatch -o $$@.c solutions/$(call mutant_lesson,$(1))/$(call mutant_prog,$(1)).c $(1) || \
	    { echo "$(1): does not apply to its reference without fuzz; regenerate it from the reference" >&2; rm -f $$@.c; exit 1; }
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$@.c $$(LDLIBS)
endef
$(foreach p,$(TRACE_PATCHES),$(eval $(call trace_variant_rule,$(p))))
.PHONY: trace trace-variants
trace-variants: $(foreach p,$(TRACE_PATCHES),$(call trace_variant_bin,$(p)))
trace: ## the packets of a lesson's exchange: make trace LESSON=NN [SOLUTIONS=1] [SCENARIO=name]
	@[ -z "$(LESSON)" ] || $(MAKE) --no-print-directory -k solutions lessons fixtures trace-variants || true
	@bash tests/lib/trace.sh

bench: ## benchmarks (LESSON=NN one lesson's, LESSON=class class grading)
	@$(MAKE) --no-print-directory all
	@bash tests/lib/bench.sh

hint: ## show the next hint of a lesson: make hint LESSON=NN (LANG=zh: in Chinese)
	@bash tests/lib/hint.sh

progress: all ## which lessons pass, which fail, what to do next
	@bash tests/lib/progress.sh

.PHONY: watch doctor reset
watch: ## re-grade a lesson each time you save it: make watch LESSON=NN
	@bash tests/lib/watch.sh

doctor: ## check this machine: what is there, what is missing and how to get it
	@bash tests/lib/doctor.sh

reset: ## put a lesson's starter back (your file is kept as a .bak): make reset LESSON=NN
	@bash tests/lib/reset.sh

lint: ## static analysis, formatting and shellcheck
	@bash tests/gates/lint.sh

fuzz: ## fuzz the parsers for a short while (FUZZ_SECONDS per target)
	@bash tests/gates/fuzz.sh

valgrind: ## the clients' tests under valgrind memcheck
	@$(MAKE) --no-print-directory all
	@VALGRIND=1 SOLUTIONS=1 bash tests/lib/grade.sh

sanitize: ## the whole suite against sanitizer builds of the references
	@$(MAKE) --no-print-directory SANITIZE=1 check

gates: lint sanitize valgrind fuzz ## every quality gate

clean: ## remove everything built
	rm -rf build

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12
