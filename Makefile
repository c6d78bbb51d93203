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

# The whole suite; TAP, closing with prove's summary.
check: smtpd
	prove -j2 --timer test/t[0-9]*.sh

install: smtpd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 smtpd $(DESTDIR)$(SBINDIR)/smtpd
	install -m 644 man/smtpd.8 $(DESTDIR)$(MANDIR)/man8/smtpd.8

clean:
	rm -f smtpd *.o

.PHONY: all check install clean
