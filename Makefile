# smtpd - see README.md. `make`, `make check`, `make install`.
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
SYSCONFDIR = $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDDIR = $(PREFIX)/lib/systemd/system

WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes
HARDEN = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE \
	-fstack-clash-protection
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) $(HARDEN) $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)

SRC = smtpd.c reply.c
HDR = reply.h

all: smtpd

smtpd: $(SRC) $(HDR)
	$(CC) $(ALL_CFLAGS) -o $@ $(SRC) $(ALL_LDFLAGS)

PROVE = prove -e bash -j2 --timer
TESTS = test/t[0-9]*.sh
# Sanitizer and valgrind findings land here; a run fails if any appear.
REPORTS = $(CURDIR)/test/reports

# The whole suite; TAP, closing with prove's summary.
check: smtpd
	$(PROVE) $(TESTS)

# The suite against a clang ASan+UBSan build; any report fails the run.
smtpd-asan: $(SRC) $(HDR)
	clang -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ $(SRC)

check-asan: smtpd-asan
	rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	SMTPD=$(CURDIR)/smtpd-asan SMTPD_INSTRUMENTED=asan \
	ASAN_OPTIONS=log_path=$(REPORTS)/asan:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=log_path=$(REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1 \
		$(PROVE) $(TESTS)
	@if ls $(REPORTS) | grep -q .; then cat $(REPORTS)/*; exit 1; fi

# The suite with every smtpd run under valgrind memcheck.
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --track-fds=no \
	--log-file=$(REPORTS)/valgrind.%p
# Its own binary, with DWARF 4: valgrind 3.19 cannot read clang 14's
# default DWARF 5.
smtpd-valgrind: $(SRC) $(HDR)
	$(CC) $(ALL_CFLAGS) -gdwarf-4 -o $@ $(SRC) $(ALL_LDFLAGS)
check-valgrind: smtpd-valgrind
	rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	SMTPD=$(CURDIR)/smtpd-valgrind SMTPD_WRAPPER="$(VALGRIND)" \
		SMTPD_INSTRUMENTED=valgrind $(PROVE) $(TESTS)
	@# Errors are "==PID==" lines; "--PID--" lines are valgrind's notes
	@# (3.19 does not know pidfd_open, so smtpd takes its fallback).
	@if grep -l '^==[0-9]*==' $(REPORTS)/* 2>/dev/null; then \
		grep -h '^==[0-9]*==' $(REPORTS)/*; exit 1; fi

# Static analysis: cppcheck and clang-tidy (.clang-tidy) must be clean,
# and every C file must be in the one format (.clang-format).
C_FILES = $(SRC) $(HDR) test/fuzz/*.c test/fuzz/*.h test/bench/*.c
lint:
	clang-format --dry-run -Werror $(C_FILES)
	cppcheck --enable=warning,portability --error-exitcode=1 --std=c11 \
		--quiet $(SRC)
	clang-tidy --quiet $(SRC) -- -std=c11 -O2

# libFuzzer targets (test/fuzz/), each run FUZZ_SECONDS from its seeds;
# a crash fails the run and leaves its input in test/fuzz/out/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = reply session address data utf8 proxy
FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
fuzz-build: $(FUZZ_TARGETS:%=test/fuzz/out/%)
test/fuzz/out/utf8: test/fuzz/utf8-python.h
test/fuzz/out/%: test/fuzz/%.c test/fuzz/check.h test/fuzz/smtpd-in.h $(SRC) $(HDR)
	mkdir -p test/fuzz/out
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ test/fuzz/$*.c reply.c
fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
		mkdir -p test/fuzz/out/corpus-$$t && \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s" && \
		test/fuzz/out/$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=8192 -timeout=10 -print_final_stats=1 \
			-artifact_prefix=test/fuzz/out/$$t- \
			test/fuzz/out/corpus-$$t test/fuzz/seeds/$$t \
			2>&1 | grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|.*(ERROR|Assertion|FUZZ_ASSERT|deadly))" ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# smtpd beside its peers (unpacked from Debian, never installed): see
# test/bench/bench.py. Not a test: it prints figures.
bench:
	python3 test/bench/bench.py

# make bench's reference row with BENCH_STATIC=1: the same program linked
# statically, to show what loading and relocating the shared libraries
# costs a session (CPU feature detection runs in both). Never for
# installing: a static smtpd keeps the glibc it was built with, resolver
# included, until it is rebuilt, and the linker says so (getaddrinfo).
test/bench/out/smtpd-static-pie: $(SRC) $(HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $(SRC) -static-pie -Wl,-z,relro,-z,now \
		$(LDFLAGS)

format:
	clang-format -i $(C_FILES)

# The service files and the man page name /usr/local; they get the PREFIX
# installed to.
FIX_PATHS = sed -e 's,/usr/local/sbin,$(SBINDIR),g' \
	-e 's,/usr/local/bin,$(BINDIR),g'
# The shipped service files: systemd units and xinetd services.
UNITS = smtpd.socket smtpd@.service smtpd-tls.socket smtpd-tls@.service \
	smtps.socket smtps@.service
XINETD = smtpd smtps
install: smtpd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(SYSCONFDIR)/xinetd.d
	install -m 755 smtpd $(DESTDIR)$(SBINDIR)/smtpd
	install -m 755 etc/maildir-deliver $(DESTDIR)$(BINDIR)/maildir-deliver
	$(FIX_PATHS) man/smtpd.8 >$(DESTDIR)$(MANDIR)/man8/smtpd.8
	chmod 644 $(DESTDIR)$(MANDIR)/man8/smtpd.8
	install -m 644 man/maildir-deliver.1 \
		$(DESTDIR)$(MANDIR)/man1/maildir-deliver.1
	for f in $(UNITS); do \
		$(FIX_PATHS) etc/systemd/$$f >$(DESTDIR)$(SYSTEMDDIR)/$$f && \
		chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$$f || exit 1; \
	done
	for f in $(XINETD); do \
		$(FIX_PATHS) etc/xinetd.d/$$f >$(DESTDIR)$(SYSCONFDIR)/xinetd.d/$$f && \
		chmod 644 $(DESTDIR)$(SYSCONFDIR)/xinetd.d/$$f || exit 1; \
	done
	install -d $(DESTDIR)$(SYSCONFDIR)/smtpd
	install -m 644 etc/procmailrc $(DESTDIR)$(SYSCONFDIR)/smtpd/procmailrc
	install -m 644 etc/mailfilter $(DESTDIR)$(SYSCONFDIR)/smtpd/mailfilter

clean:
	rm -rf smtpd smtpd-asan smtpd-valgrind *.o $(REPORTS) test/fuzz/out

# The Debian package (debian/), built from a copy of the work tree so that
# nothing lands in it; the .deb files go to DEB_DIR, and lintian must pass.
DEB_DIR ?= /tmp/smtpd-deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	git ls-files -z -co --exclude-standard | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	lintian -EIL +pedantic --fail-on error,warning $(DEB_DIR)/smtpd_*.deb
	ls -l $(DEB_DIR)/*.deb

# The benchmark's downloads and builds.
bench-clean:
	rm -rf test/bench/out

SHELL = /bin/bash
.PHONY: all bench bench-clean deb fuzz fuzz-build check check-asan check-valgrind lint format install clean
