# smtpd - see README.md. `make`, `make check`, `make install`.
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man

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
	SMTPD=$(CURDIR)/smtpd-asan \
	ASAN_OPTIONS=log_path=$(REPORTS)/asan:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=log_path=$(REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1 \
		$(PROVE) $(TESTS)
	@if ls $(REPORTS) | grep -q .; then cat $(REPORTS)/*; exit 1; fi

# The suite with every smtpd run under valgrind memcheck.
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --track-fds=no \
	--log-file=$(REPORTS)/valgrind.%p
check-valgrind: smtpd
	rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	SMTPD_WRAPPER="$(VALGRIND)" SMTPD_SLOW=1 $(PROVE) $(TESTS)
	@find $(REPORTS) -type f -size +0 | grep -q . && \
		{ cat $(REPORTS)/*; exit 1; } || true

# Static analysis: cppcheck and clang-tidy (.clang-tidy) must be clean.
lint:
	cppcheck --enable=warning,portability --error-exitcode=1 --std=c11 \
		--quiet $(SRC)
	clang-tidy --quiet $(SRC) -- -std=c11 -O2

format:
	clang-format -i $(SRC) $(HDR)

install: smtpd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 smtpd $(DESTDIR)$(SBINDIR)/smtpd
	install -m 644 man/smtpd.8 $(DESTDIR)$(MANDIR)/man8/smtpd.8

clean:
	rm -rf smtpd smtpd-asan *.o $(REPORTS)

.PHONY: all check check-asan check-valgrind lint format install clean
