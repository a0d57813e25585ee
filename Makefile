# ftpgw - one plain GNU Makefile. `make V=1` shows the commands.
#
#   make            build everything that exists (build/)
#   make deps       install the build and test dependencies (Debian, apt-get)
#   make check      deps + build + every test that exists; last line
#                   "N passed, N failed"
#   make unit       the cmocka unit tests only (plain and ASan+UBSan)
#   make fuzz       each libFuzzer harness for FUZZ_TIME seconds (default 300)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
CLANG   ?= clang
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
           -Wpointer-arith -Wvla -Wmissing-prototypes -Wno-missing-field-initializers
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CPPFLAGS += -Iinclude -D_DEFAULT_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(HARDEN) $(CFLAGS) -MMD -MP
LDHARDEN := -pie -Wl,-z,relro,-z,now
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

FUZZ_TIME       ?= 300
CHECK_FUZZ_TIME ?= 20

# Public names must carry a module prefix (see docs/ARCHITECTURE.md).
NAME_PREFIXES := ftp_ pkt_ seq_ sess_ queue_ rules_ ct_ conf_ ctl_ log_ path_ tlsp_

ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @printf '  %-6s %s\n'
endif

PKGS    := libmnl libnftnl libnetfilter_queue
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

B := build
# every module but the daemon's main; tests and tools link these
CORE_SRC  := $(filter-out src/ftpgwd.c,$(wildcard src/*.c))
CORE_OBJ  := $(CORE_SRC:src/%.c=$(B)/obj/%.o)
ASAN_OBJ  := $(CORE_SRC:src/%.c=$(B)/asan/%.o)
DAEMON    := $(if $(wildcard src/ftpgwd.c),$(B)/ftpgwd)
TOOLS     := $(B)/ftpgw-line $(DAEMON)
# built, tested, not installed
TEST_TOOLS := $(B)/rules-probe
# `make bench` (tools/bench/): the accept-all floor, the load generator,
# the session-table and pinhole measurements
BENCH_TOOLS := $(B)/bench/floor $(B)/bench/ftpload $(B)/bench/sessbench \
               $(B)/bench/pinbench
UNIT_SRC  := $(wildcard tests/unit/*_test.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ASAN_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/tests/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
MAN_SRC   := $(wildcard contrib/man/*.scd)
MAN_OUT   := $(MAN_SRC:contrib/man/%.scd=$(B)/man/%)

.PHONY: all deps check unit fuzz fuzz-build e2e e2e-compare bench demo \
        install clean cppcheck check-names man

all: $(CORE_OBJ) $(TOOLS) $(TEST_TOOLS) $(UNIT_BIN) man

$(B)/rules-probe: tools/rules-probe.c $(CORE_OBJ)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDHARDEN) $^ $(LIBS) -o $@

$(B)/bench/floor: tools/bench/floor.c
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -pthread $(LDHARDEN) $^ $(LIBS) -o $@

$(B)/bench/ftpload: tools/bench/ftpload.c
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -pthread $(LDHARDEN) $^ -o $@

$(B)/bench/%: tools/bench/%.c $(CORE_OBJ)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDHARDEN) $^ $(LIBS) -o $@

$(B)/ftpgwd: $(B)/obj/ftpgwd.o $(CORE_OBJ)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDHARDEN) $^ $(LIBS) -o $@

$(B)/obj/%.o: src/%.c
	$(say) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/asan/%.o: src/%.c
	$(say) CC-SAN $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN) -c $< -o $@

$(B)/ftpgw-line: tools/ftpgw-line.c $(CORE_OBJ)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDHARDEN) $^ $(LIBS) -o $@

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(CORE_OBJ)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) -Wno-missing-prototypes \
	    $(LDHARDEN) $< $(CORE_OBJ) $(LIBS) -lcmocka -o $@

$(B)/asan/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(ASAN_OBJ)
	$(say) LD-SAN $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) -Wno-missing-prototypes \
	    $(SAN) $< $(ASAN_OBJ) $(LIBS) -lcmocka -o $@

# A harness fuzz_<module>_<what>.c links src/<module>.c, or (for modules
# that need others, as conf does) FUZZ_SRC_<module>.
FUZZ_SRC_conf := $(CORE_SRC)
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC)
	$(say) FUZZ $@
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $< \
	    $(or $(FUZZ_SRC_$(word 1,$(subst _, ,$*))),src/$(word 1,$(subst _, ,$*)).c) \
	    $(if $(FUZZ_SRC_$(word 1,$(subst _, ,$*))),$(LIBS)) -o $@

$(B)/man/%: contrib/man/%.scd
	$(say) SCDOC $@
	@mkdir -p $(@D)
	$(Q)scdoc < $< > $@

man: $(MAN_OUT)

deps:
	@tools/deps.sh

cppcheck:
	$(Q)cppcheck --enable=warning,style,performance,portability --std=c11 \
	    --inline-suppr -Iinclude --error-exitcode=1 -q src/

check-names: $(CORE_OBJ) $(DAEMON)
	@tools/check-names.sh "$(NAME_PREFIXES)" $(CORE_OBJ) \
	    $(if $(DAEMON),$(B)/obj/ftpgwd.o)

unit: $(UNIT_BIN) $(ASAN_BIN)
	@tests/run-tests unit

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@FUZZ_TIME=$(FUZZ_TIME) tests/run-tests fuzz

check: deps
	@$(MAKE) --no-print-directory all $(ASAN_BIN) $(FUZZ_BIN)
	@CHECK_FUZZ_TIME=$(CHECK_FUZZ_TIME) tests/run-tests all

e2e: all
	@tests/run-tests e2e

# the matrix through no ALG, the kernel's ftp helper and ftpgwd, side by side
e2e-compare: all
	-@GW=none bash tests/e2e/matrix.t
	-@GW=kernel bash tests/e2e/matrix.t
	@GW=ftpgwd bash tests/e2e/matrix.t

# benchmarks, not tests: BENCH_OUT=path for the JSON (bench/results.json)
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_TOOLS)
	@tools/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/demo.sh

install: $(TOOLS) man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(filter %.1,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.8,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj $(B)/asan $(B)/tests -name '*.d' -type f 2>/dev/null)
