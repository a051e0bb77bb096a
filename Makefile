# ops backend: one Makefile, pkg-config for every library.
#
#   make            build every binary into bin/
#   make test       install what is missing, build, run every test suite
#   make run        start the dev stack (PostgreSQL, ops-fcgi, nginx) under var/
#   make stop       stop the dev stack
#   make asan       build the unit tests with -fsanitize=address,undefined
#   make tools      build the test drivers (tests/tools/*.c) into build/tools/
#   make bench      run the benchmarks (not tests)
#
# Sources are found by wildcard: lib/*.c is the core library, fcgi/*.c is
# ops-fcgi, every jobs/<name>.c is bin/<name>, every tests/unit/test_*.c is a
# cmocka suite linked against the core library, every tests/tools/<name>.c
# is a test driver build/tools/<name> (never installed, never in bin/).

CC      ?= cc
PKGS    := fcgi libpq jansson libcurl openssl yaml-0.1
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

ifeq ($(SAN),1)
BUILD   := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   := build
SANFLAGS :=
OPT     := -O2
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS  := -std=c17 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow \
           -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
           -DOPS_VERSION=\"$(VERSION)\" -Ilib $(PKG_CFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS)
ifeq ($(SAN),1)
CFLAGS  := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
endif
LDFLAGS := $(SANFLAGS) -pthread
LDLIBS  := $(PKG_LIBS) -lm

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libops.a
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

.PHONY: all asan unit unit-asan tools test run stop bench bench-export bench-multihost clean bootstrap
# objects are never intermediate: keep them for incremental builds
.SECONDARY:
all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# unit tests may test fcgi/ modules (routing) too
$(BUILD)/tests/unit/%.o: CFLAGS += -Ifcgi

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

bin/ops-fcgi: $(FCGI_OBJ) $(LIB_A)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/%: $(BUILD)/jobs/%.o $(LIB_A)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(FCGI_LIB_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOL_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

asan:
	$(MAKE) SAN=1 $(UNIT_BINS:build/%=build/asan/%)

unit-asan:
	$(MAKE) SAN=1 unit

bootstrap:
	scripts/bootstrap

test: bootstrap
	$(MAKE) all tools
	scripts/run-tests

run: bootstrap
	$(MAKE) all
	scripts/devstack start

stop:
	scripts/devstack stop

bench: bench-export bench-multihost

bench-export: bootstrap
	$(MAKE) all
	scripts/bench-export

bench-multihost: bootstrap
	$(MAKE) all
	scripts/bench-multihost

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(FCGI_OBJ:.o=.d) $(JOB_SRC:%.c=$(BUILD)/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d) $(TOOL_SRC:%.c=$(BUILD)/%.d)
