# ops backend: one Makefile, pkg-config for every library.
#
#   make            build every binary into bin/ (the default goal: all)
#   make V=1        the same, showing every command line in full
#   make test       install what is missing (scripts/bootstrap test), build,
#                   run every test suite
#   make run        check the port, install what running needs (scripts/bootstrap
#                   run), build, start the dev stack (PostgreSQL, ops-fcgi,
#                   nginx) under var/
#   make stop       stop the dev stack, whatever state its pid files are in
#   make asan       build the unit tests with -fsanitize=address,undefined
#   make tools      build the test drivers (tests/tools/*.c) into build/tools/
#   make bench      run the benchmarks (not tests): poll, export, download
#   make fuzz       build the libFuzzer harnesses and run each FUZZ_SECONDS
#   make fuzzers    only build them (build/fuzz/fuzz_NAME)
#
# Sources are found by wildcard: lib/*.c is the core library, notion/*.c the
# Notion component (linked only by ops-notion-preflight, ops-notion-sync and
# their tests), fcgi/*.c is ops-fcgi, every jobs/<name>.c is bin/<name>,
# every tests/unit/test_*.c is a cmocka suite linked against the core
# library (test_notion also against the Notion one), every tests/tools/<name>.c
# is a test driver build/tools/<name> (never installed, never in bin/).
# Every tests/fuzz/fuzz_<name>.c is a libFuzzer harness build/fuzz/fuzz_<name>
# built with clang against the library's objects rebuilt for fuzzing.

# `make` with no goal builds everything: the first rule below is not all.
.DEFAULT_GOAL := all

# Quiet build (git's and kbuild's style): one line per file, `CC lib/foo.c`,
# `AR build/libops.a`, `LD bin/opsctl`; V=1 prints the full command lines.
# A compiler's or linker's own output (errors, warnings) shows either way;
# `make -s` prints nothing but that.
ifneq ($(V),1)
ifeq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
QUIET_CC   = @echo '   CC $<';
QUIET_AR   = @echo '   AR $@';
QUIET_LD   = @echo '   LD $@';
endif
endif
MAKEFLAGS += --no-print-directory

CC      ?= cc
PKGS    := fcgi libpq jansson libcurl openssl yaml-0.1 zlib libzstd

ifeq ($(SAN),1)
BUILD   := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   := build
SANFLAGS :=
OPT     := -O2
endif

# A missing pkg-config package stops the build here, naming it (not later,
# as a missing header). Goals that only install or run things skip the
# check: `make test` runs scripts/bootstrap first, then builds.
NO_BUILD_GOALS := bootstrap test run stop clean bench bench-export bench-download bench-multihost bench-poll
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(strip $(foreach p,$(PKGS) libcmark-gfm,$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(PKG_MISSING),)
$(error missing pkg-config package(s): $(PKG_MISSING); install their -dev packages (scripts/bootstrap installs everything))
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

CFLAGS  := -std=c17 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow \
           -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
           -Ilib -include lib/banned.h $(PKG_CFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS)
ifeq ($(SAN),1)
CFLAGS  := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
endif
LDFLAGS := $(SANFLAGS) -pthread
LDLIBS  := $(PKG_LIBS) -lm

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libops.a
NOTION_SRC := $(wildcard notion/*.c)
NOTION_OBJ := $(NOTION_SRC:%.c=$(BUILD)/%.o)
NOTION_A := $(BUILD)/libnotion.a
FCGI_SRC := $(wildcard fcgi/*.c)
FCGI_OBJ := $(FCGI_SRC:%.c=$(BUILD)/%.o)
JOB_SRC  := $(wildcard jobs/*.c)
JOB_BINS := $(patsubst jobs/%.c,bin/%,$(JOB_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
# fcgi/ modules other than main are unit-testable (routing); link them in.
FCGI_LIB_OBJ := $(filter-out $(BUILD)/fcgi/main.o,$(FCGI_OBJ))

BINS := $(if $(FCGI_SRC),bin/ops-fcgi) $(JOB_BINS)

# ops-notion-sync is jobs/ops-notion-sync.c plus jobs/notion_sync/*.c (its
# own modules), and the only binary that links cmark-gfm (Markdown).
NSYNC_SRC  := $(wildcard jobs/notion_sync/*.c)
NSYNC_OBJ  := $(NSYNC_SRC:%.c=$(BUILD)/%.o)
CMARK_CFLAGS := $(shell pkg-config --cflags libcmark-gfm)
CMARK_LIBS := $(shell pkg-config --libs libcmark-gfm) -lcmark-gfm-extensions

# The version (git's GIT-VERSION-FILE): build/version.h defines OPS_VERSION
# from `git describe`; it is rewritten only when that changes, and only
# the objects whose source mentions OPS_VERSION depend on it (so --version
# is never stale and a new commit rebuilds a few files, not all).
VERSION_H := build/version.h
VERSION_USERS := $(patsubst %.c,$(BUILD)/%.o,$(shell grep -l OPS_VERSION lib/*.c notion/*.c fcgi/*.c jobs/*.c 2>/dev/null))
$(VERSION_USERS): $(VERSION_H)
$(VERSION_USERS): CFLAGS += -include $(VERSION_H)
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@v=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	line="#define OPS_VERSION \"$$v\""; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$line" ]; then \
		echo "$$line" >$@; echo "version: $$v"; fi

.PHONY: all asan unit unit-asan tools test run stop bench bench-export bench-download bench-multihost bench-poll bench-history clean bootstrap FORCE \
        fuzz fuzzers

# Fuzzing: clang, the library (and fcgi/ minus main) rebuilt with coverage
# and sanitizers into build/fuzz/, one binary per harness.
FUZZ_CC     ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD  := build/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
               -DOPS_FUZZING -Ilib -Ifcgi -include lib/banned.h \
               $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) \
               $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(filter-out fcgi/main.c,$(FCGI_SRC)))

# objects are never intermediate: keep them for incremental builds
.SECONDARY:
all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# unit tests may test fcgi/ modules (routing) too
$(BUILD)/tests/unit/%.o: CFLAGS += -Ifcgi

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(QUIET_AR)rm -f $@ && ar rcs $@ $^

# the Notion component: its own archive, for its two binaries and tests only
NOTION_USERS := $(NOTION_OBJ) $(BUILD)/jobs/ops-notion-preflight.o \
                $(BUILD)/jobs/ops-notion-sync.o $(NSYNC_OBJ) \
                $(BUILD)/tests/unit/test_notion.o $(BUILD)/tests/unit/test_stop.o
$(NOTION_USERS): CFLAGS += -Inotion

$(NOTION_A): $(NOTION_OBJ)
	@mkdir -p $(dir $@)
	$(QUIET_AR)rm -f $@ && ar rcs $@ $^

bin/ops-fcgi: $(FCGI_OBJ) $(LIB_A)
	@mkdir -p bin
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(NSYNC_OBJ) $(BUILD)/jobs/ops-notion-sync.o: CFLAGS += -Ijobs/notion_sync $(CMARK_CFLAGS)

bin/ops-notion-sync: $(BUILD)/jobs/ops-notion-sync.o $(NSYNC_OBJ) $(NOTION_A) $(LIB_A)
	@mkdir -p bin
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMARK_LIBS)

bin/ops-notion-preflight: $(BUILD)/jobs/ops-notion-preflight.o $(NOTION_A) $(LIB_A)
	@mkdir -p bin
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/%: $(BUILD)/jobs/%.o $(LIB_A)
	@mkdir -p bin
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

define LINK_UNIT
@mkdir -p $(dir $@)
@pkg-config --exists cmocka || { echo "missing pkg-config package: cmocka; install libcmocka-dev (scripts/bootstrap installs everything)" >&2; exit 1; }
$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)
endef

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(FCGI_LIB_OBJ) $(LIB_A)
	$(LINK_UNIT)

# the unit suites of the Notion component link its archive too (test_stop:
# the stoppable transport the Notion binaries put in front of libcurl)
$(BUILD)/tests/test_notion: $(BUILD)/tests/unit/test_notion.o $(NOTION_A) $(LIB_A)
	$(LINK_UNIT)
$(BUILD)/tests/test_stop: $(BUILD)/tests/unit/test_stop.o $(NOTION_A) $(LIB_A)
	$(LINK_UNIT)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOL_BINS)

$(VERSION_USERS:$(BUILD)/%=$(FUZZ_BUILD)/%): $(VERSION_H)
$(VERSION_USERS:$(BUILD)/%=$(FUZZ_BUILD)/%): FUZZ_CFLAGS += -include $(VERSION_H)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(QUIET_LD)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) -pthread

# the Notion harnesses also link the Notion component
FUZZ_NOTION_OBJ := $(NOTION_SRC:%.c=$(FUZZ_BUILD)/%.o)
$(FUZZ_NOTION_OBJ) $(FUZZ_BUILD)/tests/fuzz/fuzz_notion.o: FUZZ_CFLAGS += -Inotion
$(FUZZ_BUILD)/fuzz_notion $(FUZZ_BUILD)/fuzz_notion_blocks: $(FUZZ_NOTION_OBJ)

# the Markdown harness also links the sync's blocks.c and cmark-gfm
$(FUZZ_BUILD)/jobs/notion_sync/%.o $(FUZZ_BUILD)/tests/fuzz/fuzz_notion_blocks.o: FUZZ_CFLAGS += -Inotion -Ijobs/notion_sync $(CMARK_CFLAGS)
$(FUZZ_BUILD)/fuzz_notion_blocks: $(FUZZ_BUILD)/jobs/notion_sync/blocks.o
$(FUZZ_BUILD)/fuzz_notion_blocks: LDLIBS += $(CMARK_LIBS)

fuzzers: $(FUZZ_BINS)

# each harness FUZZ_SECONDS on its corpus (new inputs go to a scratch
# directory, not into the tree); crashes are written to build/fuzz/
fuzz: fuzzers
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/new/$$n; echo "== $$f ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_BUILD)/ \
	    $(FUZZ_BUILD)/new/$$n tests/fuzz/corpus/$$n; done

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

asan:
	$(MAKE) SAN=1 $(UNIT_BINS:build/%=build/asan/%)

unit-asan:
	$(MAKE) SAN=1 unit

# everything the tests and benchmarks need (a superset of `bootstrap run`)
bootstrap:
	scripts/bootstrap test

test: bootstrap
	$(MAKE) all tools
	scripts/run-tests

# the port first: a busy one stops make run before anything is installed,
# built or started
run:
	scripts/devstack preflight
	scripts/bootstrap run
	$(MAKE) all
	scripts/devstack start

stop:
	scripts/devstack stop

bench: bench-poll bench-export bench-download bench-multihost bench-history

bench-export: bootstrap
	$(MAKE) all
	scripts/bench-export

bench-download: bootstrap
	$(MAKE) all
	scripts/bench-download

bench-poll: bootstrap
	$(MAKE) all
	scripts/bench-poll

bench-history: bootstrap
	$(MAKE) all
	scripts/bench-history

bench-multihost: bootstrap
	$(MAKE) all
	scripts/bench-multihost

clean:
	rm -rf build bin

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_NOTION_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.d)
-include $(LIB_OBJ:.o=.d) $(NOTION_OBJ:.o=.d) $(FCGI_OBJ:.o=.d) $(JOB_SRC:%.c=$(BUILD)/%.d) $(NSYNC_SRC:%.c=$(BUILD)/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d) $(TOOL_SRC:%.c=$(BUILD)/%.d)

# --- make install / make uninstall (DESTDIR, PREFIX, BINDIR, ...): the
# layout is scripts/install's, documented in docs/install.md.
PREFIX ?= /usr/local
.PHONY: install uninstall
install: all
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install install
uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install uninstall
