# Ostiary build. One GNU Makefile; libraries found with pkg-config.
#   make            release build (-O2) -> build/release/ostiary
#   make dev        -Wall -Wextra -Werror -g -> build/dev/ostiary
#   make asan       ASan+UBSan build -> build/asan/ostiary
#   make run        install deps, build, start a dev provider on http://localhost:4000
#   make check      install deps, build, run every test (unit, integration, sanitizers, fuzz)
#   make test       unit + integration tests on the release build (quick tier; SQLite, and PostgreSQL
#                   too when OSTIARY_TEST_PG_URL names a server, see scripts/pg-test-cluster.sh)
#   make docs       regenerate the key table of docs/configuration.md from src/core/config_keys.h
#   make deb        Debian package of the release build -> build/deb/ostiary_<version>_<arch>.deb

PKGS     := libh2o-evloop jansson openssl sqlite3 libsodium yaml-0.1 libpq libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC       ?= cc
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Isrc $(PKG_CFLAGS) -MMD -MP
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
LIBS     := $(PKG_LIBS) -lpthread -lm

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/cli/main.c,$(SRC))
UNIT_SRC := $(shell find tests/unit tests/store tests/handler -name 'test_*.c' 2>/dev/null | sort)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

VARIANT  ?= release
ifeq ($(VARIANT),release)
  VCFLAGS := -O2 -g $(WARN)
  VLDFLAGS :=
else ifeq ($(VARIANT),dev)
  VCFLAGS := -O0 -g $(WARN) -Werror
  VLDFLAGS :=
else ifeq ($(VARIANT),asan)
  VCFLAGS := -O1 -g $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  VLDFLAGS := -fsanitize=address,undefined
endif

B        := build/$(VARIANT)
OBJ      := $(LIB_SRC:%.c=$(B)/obj/%.o)
MAIN_OBJ := $(B)/obj/src/cli/main.o
UNIT_BIN := $(UNIT_SRC:tests/%.c=$(B)/tests/%)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%)

.PHONY: all dev asan run check test test-full unit-bins fuzz bench clean deps check-style docs deb
.DEFAULT_GOAL := all

all: $(B)/ostiary $(B)/libostiary.a

dev:
	@$(MAKE) --no-print-directory VARIANT=dev all
asan:
	@$(MAKE) --no-print-directory VARIANT=asan all

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -c $< -o $@

# The pages and style sheet of web/, compiled in as the built-in copies (src/ui/tmpl.c).
WEB_OBJ  := $(B)/obj/gen/web_assets.o
$(B)/gen/web_assets.c: $(wildcard web/*.html web/*.css) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh web $@
$(WEB_OBJ): $(B)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -c $< -o $@

# Rebuilt from scratch: `ar r` would keep the object of a source file that no longer exists.
$(B)/libostiary.a: $(OBJ) $(WEB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The version (`ostiary --version`, the Debian package) comes from the file VERSION.
VERSION  := $(shell cat VERSION)
$(B)/gen/version.h: VERSION
	@mkdir -p $(dir $@)
	printf '#define OSTIARY_VERSION "%s"\n' "$(VERSION)" > $@
$(MAIN_OBJ): $(B)/gen/version.h
$(MAIN_OBJ): BASE_CFLAGS += -I$(B)/gen

$(B)/ostiary: $(MAIN_OBJ) $(B)/libostiary.a
	$(CC) $(VLDFLAGS) -o $@ $^ $(LIBS)

# OSTIARY_SOURCE_DIR: where a test finds the repository's files (test_config_doc reads the docs).
$(B)/tests/%: tests/%.c $(B)/libostiary.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -DOSTIARY_SOURCE_DIR='"$(CURDIR)"' -Itests/unit -o $@ $< $(B)/libostiary.a \
	    $(VLDFLAGS) $(LIBS)

# Handler tests run endpoints in-process through tests/handler/harness_http.c (a temporary store, no socket).
HX_OBJ := $(B)/obj/tests/handler/harness_http.o
$(HX_OBJ): tests/handler/harness_http.c tests/handler/harness_http.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -c $< -o $@
$(B)/tests/handler/%: tests/handler/%.c $(HX_OBJ) $(B)/libostiary.a tests/unit/harness.h tests/handler/harness_http.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -Itests/unit -Itests/handler -o $@ $< $(HX_OBJ) $(B)/libostiary.a $(VLDFLAGS) $(LIBS)

$(B)/fuzz/%: fuzz/%.c fuzz/standalone.c $(B)/libostiary.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(VCFLAGS) -o $@ $< fuzz/standalone.c $(B)/libostiary.a $(VLDFLAGS) $(LIBS)

unit-bins: $(UNIT_BIN)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	exec $(B)/ostiary serve --dev --config ostiary.yaml

# Quick tier: unit tests (ctest) and integration tests on the release build.
test: all unit-bins $(FUZZ_REPLAY)
	@scripts/run-tests.sh $(B)

# Full tier: what CI runs.
check: deps
	@scripts/check.sh

# Same as check, without the dependency step (the full tier: docs/internals/conventions.md).
test-full:
	@scripts/check.sh

fuzz:
	@scripts/fuzz.sh

bench: all
	@bench/run.sh

check-style:
	@scripts/check-style.sh

# The generated parts of the docs: the key table of docs/configuration.md, from src/core/config_keys.h
# (a unit test fails while the committed table differs).
docs: $(B)/tests/unit/core/test_config_doc
	$< --write

# The Debian package, always from the release build (scripts/build-deb.sh says what goes in).
deb:
	@$(MAKE) --no-print-directory VARIANT=release all
	scripts/build-deb.sh build/release/ostiary build/deb

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
