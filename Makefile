# cotask: one non-recursive Makefile. Outputs go under $(BUILD).
#   make                 library, examples, tests, benchmarks
#   make run             the demo (installs missing build dependencies first)
#   make check           all tests (installs missing build dependencies first)
#   make bench           benchmarks with their peers in the same run
#   make CONTEXT=ucontext ...      portable context switch instead of assembly
#   make SANITIZE=address,undefined ...   sanitizer build (in build/variant-san-*)
#   make check VALGRIND=1                 every test under valgrind memcheck
#   make install DESTDIR=... PREFIX=/usr  daemon, library, headers, cotask.pc, units, conf, man pages
#   make deb             the Debian packages, into $(BUILD)/ (lintian-checked)
#   make check-systemd   the packages installed and driven in a booted systemd (systemd-nspawn)

CC       ?= cc
PKG_CONFIG ?= pkg-config
CONTEXT  ?= asm
SANITIZE ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR   ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# The daemon reads /etc/cotaskd whatever the prefix.
CONFDIR  := /etc/cotaskd
UNITDIR  ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
# systemd >= 253 has Type=notify-reload, which makes ExecReload= unneeded.
SYSTEMD_VERSION ?= $(shell $(PKG_CONFIG) --modversion systemd 2>/dev/null)

comma    := ,
variant  := $(if $(filter ucontext,$(CONTEXT)),-ucontext)$(if $(SANITIZE),-san-$(subst $(comma),-,$(SANITIZE)))
BUILD    ?= build$(if $(variant),/variant$(variant))

SOVERSION := 0
VERSION   := 0.1.0

PKGS     := libevent_core
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(CPPFLAGS) $(CFLAGS) $(WARN) $(HARDEN) -fPIC -fvisibility=hidden -D_GNU_SOURCE \
              -Ilib/include -Ilib/src -Idaemon $(PKG_CFLAGS) $(DAEMON_CFLAGS) -MMD -MP
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN      := -fsanitize=$(SANITIZE)
endif
ifeq ($(CONTEXT),ucontext)
ALL_CFLAGS += -DCO_CONTEXT_UCONTEXT
endif
LDFLAGS  ?= -Wl,-z,relro,-z,now
LIBS     := $(PKG_LIBS) -lpthread

# ---- lib/ ----------------------------------------------------------------
# Every lib/src/*.c but the context backends, of which one is picked below.
LIB_SRCS := $(filter-out lib/src/context-% $(LIB_EXCLUDE),$(wildcard lib/src/*.c))
ifeq ($(CONTEXT),ucontext)
LIB_SRCS += lib/src/context-ucontext.c
else
ARCH     := $(shell $(CC) -dumpmachine | cut -d- -f1)
LIB_SRCS += lib/src/context-asm.c lib/src/context-$(ARCH).S
endif
LIB_OBJS := $(patsubst %,$(BUILD)/%.o,$(basename $(LIB_SRCS)))
LIB_A    := $(BUILD)/libcotask.a
LIB_SO   := $(BUILD)/libcotask.so
LIB_SONAME := libcotask.so.$(SOVERSION)

LIB_PC   := $(BUILD)/cotask.pc

EXAMPLES := $(patsubst lib/examples/%.c,$(BUILD)/examples/%,$(wildcard lib/examples/*.c))

# ---- daemon/ ---------------------------------------------------------------
# Everything but main.c also goes into an internal archive the tests link.
DAEMON_PKGS   := libsystemd inih
DAEMON_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DAEMON_PKGS) 2>/dev/null)
DAEMON_LIBS   := $(shell $(PKG_CONFIG) --libs $(DAEMON_PKGS) 2>/dev/null)
DAEMON_SRCS   := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/tasks/*.c))
DAEMON_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(DAEMON_SRCS))
DAEMON_A      := $(if $(DAEMON_SRCS),$(BUILD)/libcotaskd.a)
DAEMON        := $(if $(wildcard daemon/main.c),$(BUILD)/cotaskd)

# ---- tests/ --------------------------------------------------------------
TEST_SRCS  := $(filter-out $(TEST_EXCLUDE),$(wildcard tests/test-*.c))
TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_LIBS  := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null) -lm
BENCH_SRCS := $(wildcard tests/bench/bench-*.c)
BENCHES    := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

all: lib daemon $(EXAMPLES) $(TESTS) $(BENCHES)
lib: $(LIB_A) $(LIB_SO) $(LIB_PC)
daemon: $(DAEMON)

# Quiet unless V=1.
Q := $(if $(V),,@)
say = $(if $(V),,@echo "  $(1) $(2)";)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(@D)
	$(call say,AS,$@)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS)
	$(call say,LD,$@)$(CC) -shared -Wl,-soname,$(LIB_SONAME) $(LDFLAGS) $(LDSAN) -o $@.$(VERSION) $^ $(LIBS)
	$(Q)ln -sf libcotask.so.$(VERSION) $(BUILD)/$(LIB_SONAME)
	$(Q)ln -sf libcotask.so.$(VERSION) $@

$(LIB_PC): lib/cotask.pc.in Makefile
	@mkdir -p $(@D)
	$(call say,GEN,$@)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< >$@

# Examples link the shared library, as a user's program would.
$(BUILD)/examples/%: $(BUILD)/lib/examples/%.o $(LIB_SO)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(LDSAN) -o $@ $< -L$(BUILD) -lcotask -Wl,-rpath,'$$ORIGIN/..' $(LIBS)

ifneq ($(DAEMON_A),)
$(DAEMON_A): $(DAEMON_OBJS)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^
endif

$(BUILD)/daemon/main.o: ALL_CFLAGS += -DCOTASK_VERSION='"$(VERSION)"'

ifneq ($(DAEMON),)
$(DAEMON): $(BUILD)/daemon/main.o $(DAEMON_A) $(LIB_A)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(LDSAN) -o $@ $^ $(LIBS) $(DAEMON_LIBS)
endif

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(DAEMON_A) $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(LDSAN) -o $@ $^ $(LIBS) $(DAEMON_LIBS) $(TEST_LIBS)

# Every close() of tcp-echo goes through the test's __wrap_close, which
# counts those that find no descriptor: one closed twice.
$(BUILD)/tests/test-tcp-echo: LDFLAGS += -Wl,--wrap=close

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(LDSAN) -o $@ $^ $(LIBS)

# bench-shutdown is a cotaskd of its own (an extra task type that parks
# tasks): it links the daemon's archive too.
$(BUILD)/bench/bench-shutdown: $(BUILD)/tests/bench/bench-shutdown.o $(DAEMON_A) $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(LDSAN) -o $@ $^ $(LIBS) $(DAEMON_LIBS)

# ---- build dependencies from Debian ---------------------------------------
# pkg-config module or header file -> the Debian package that provides it.
DEPS_PC    := libevent_core:libevent-dev cmocka:libcmocka-dev libsystemd:libsystemd-dev inih:libinih-dev
DEPS_FILES := /usr/include/valgrind/valgrind.h:valgrind /usr/bin/valgrind:valgrind \
              /usr/bin/python3:python3 /usr/bin/systemd-socket-activate:systemd \
              /lib/systemd/systemd-journald:systemd
DEPS_BENCH := /usr/lib/python3/dist-packages/uvloop/__init__.py:python3-uvloop

# Shell text for recipes: $(call files_missing,PATH:PACKAGE ...) adds to
# $$missing the packages whose file is not there; $(install_missing)
# installs $$missing (as root) or prints the apt-get line and fails.
files_missing = for d in $(1); do test -e "$${d%%:*}" || missing="$$missing $${d\#*:}"; done;
define install_missing
if [ -n "$$missing" ]; then \
	cmd="apt-get install -y --no-install-recommends$$missing"; \
	if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages; as root run: apt-get update && $$cmd" >&2; exit 1; fi; \
	echo "installing:$$missing"; \
	DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive $$cmd; \
fi
endef

deps:
	@missing=""; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	command -v $(CC) >/dev/null || missing="$$missing $(if $(findstring clang,$(CC)),clang,gcc)"; \
	command -v make >/dev/null || missing="$$missing make"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	for d in $(DEPS_PC); do \
		pkg-config --exists "$${d%%:*}" 2>/dev/null || missing="$$missing $${d#*:}"; \
	done; \
	$(call files_missing,$(DEPS_FILES) $(if $(filter bench,$(MAKECMDGOALS)),$(DEPS_BENCH))) \
	$(install_missing)

# The build's own pkg-config queries ran before deps could install them:
# run the real work in a fresh make.
# The daemon in the foreground on the documented default configuration
# (copied: a conf file must not be writable by others, whatever the umask).
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/cotaskd
	@install -m 600 config/cotaskd.conf $(BUILD)/cotaskd.conf
	$(BUILD)/cotaskd --config $(BUILD)/cotaskd.conf

check: deps
	@$(MAKE) --no-print-directory all
	@VALGRIND=$(VALGRIND) COTASK_CC="$(CC)" COTASK_SANITIZE=$(SANITIZE) tests/run-tests.sh $(BUILD) $(TESTS)

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run-bench.sh $(BUILD)

# ---- install ---------------------------------------------------------------
# Units name /usr/sbin/cotaskd; they are installed naming $(SBINDIR).
notify_reload := $(shell v='$(SYSTEMD_VERSION)'; [ "$${v%%.*}" -ge 253 ] 2>/dev/null && echo yes)
unit_sed := -e 's|/usr/sbin/cotaskd|$(SBINDIR)/cotaskd|g' \
            $(if $(notify_reload),-e 's/^Type=notify$$/Type=notify-reload/' -e '/^ExecReload=/d')

install: lib daemon
	install -d $(DESTDIR)$(INCLUDEDIR)/cotask $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 644 lib/include/cotask/*.h $(DESTDIR)$(INCLUDEDIR)/cotask/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(LIB_SO).$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libcotask.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libcotask.so
	install -m 644 $(LIB_PC) $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(DAEMON) $(DESTDIR)$(SBINDIR)/
	for u in units/*; do sed $(unit_sed) $$u >$(DESTDIR)$(UNITDIR)/$${u#units/}; chmod 644 $(DESTDIR)$(UNITDIR)/$${u#units/}; done
	# An edited configuration is never overwritten.
	test -e $(DESTDIR)$(CONFDIR)/cotaskd.conf || install -m 644 config/cotaskd.conf $(DESTDIR)$(CONFDIR)/
	install -m 644 lib/libcotask.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 daemon/cotaskd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 daemon/cotaskd.8 $(DESTDIR)$(MANDIR)/man8/

# ---- Debian packages ---------------------------------------------------------
# Built from a copy of the tree in $(BUILD)/deb, so that neither the
# packaging's files nor dpkg-buildpackage's outputs (written to the parent
# directory) land in the source tree. DEB_BUILD_OPTIONS=nocheck skips the
# suite inside the package build.
DEB_TOOLS := /usr/bin/dpkg-buildpackage:dpkg-dev /usr/bin/dh:debhelper /usr/bin/lintian:lintian
DEB_SRC   := $(BUILD)/deb/cotask-$(VERSION)

deb:
	@missing=""; $(call files_missing,$(DEB_TOOLS)) $(install_missing)
	@v=$$(dpkg-parsechangelog -SVersion); [ "$$v" = "$(VERSION)" ] || \
		{ echo "debian/changelog is at $$v, the Makefile at $(VERSION)" >&2; exit 1; }
	@dpkg-checkbuilddeps 2>/dev/null || { \
		if [ "$$(id -u)" != 0 ]; then dpkg-checkbuilddeps; echo "as root run: apt-get build-dep ./" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./; }
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_SRC)
	tar -c --exclude=./build --exclude=./.git . | tar -x -C $(DEB_SRC)
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	cp $(BUILD)/deb/*.deb $(BUILD)/
	lintian --fail-on=error,warning --info $(BUILD)/deb/cotask_$(VERSION)_*.changes

# Needs root: systemd-nspawn boots this machine's OS on a throw-away overlay.
CT_TOOLS := /usr/bin/systemd-nspawn:systemd-container /usr/bin/nsenter:util-linux

check-systemd:
	@missing=""; $(call files_missing,$(CT_TOOLS)) $(install_missing)
	@$(MAKE) --no-print-directory deb DEB_BUILD_OPTIONS=nocheck
	tests/check-systemd.sh $(BUILD)

clean:
	rm -rf build

.PHONY: all lib daemon run check bench deps install deb check-systemd clean
# Objects stay for incremental builds (pattern-made files are otherwise
# deleted as intermediates).
.PRECIOUS: $(BUILD)/%.o

ALL_OBJS := $(LIB_OBJS) $(DAEMON_OBJS) $(BUILD)/daemon/main.o $(patsubst %,$(BUILD)/%.o,$(basename $(wildcard lib/examples/*.c) $(TEST_SRCS) $(BENCH_SRCS)))
-include $(ALL_OBJS:.o=.d)
