# kamailio-pchat: persistent group chat for Kamailio.
#
#   make run     set everything up (packages, module build) and run the lab; Ctrl-C stops it
#   make test    set everything up and run every test (what CI runs): unit, fuzz (60 s),
#                integration, the short fault scenarios, browser, interop, deb (the Debian
#                package's fields and files), soak (1 minute, 3000 sessions)
#   make fuzz    fuzz the XCCOS parser and the chat handlers for FUZZ_SECONDS (default 600), after
#                the inputs of tests/fuzz/regressions/; prints executions, exec/s, coverage, corpus
#   make bench   run the benchmark suite (QUICK=1: small seeds, one run each, at most 5 min)
#   make soak    the soak test: one node, SOAK_SESSIONS sessions (20000) under twice the Lync
#                model's posts and joins for SOAK_MINUTES (30), memory sampled every 10 s and
#                judged flat after a warm-up; tests/soak/results/<date>-<N>min.json and .png
#   make test-kemi  the core chat integration suites (sessions, messaging, rooms, KEMI) against
#                labs whose nodes route through Lua (scripts/lab up --routing lua)
#
#   make test-faults  faults injected under a steady chat load on 3-node pools (tests/faults): a
#                node, the front end, MariaDB, a Galera node, Redis, the Redis master (Sentinel)
#                killed, a node and a Galera node paused; make test runs the short scenarios
#   make test-containers  build the container images (docker/) and run the chat and pool
#                integration tests against the container lab (make test runs it with CI_CONTAINERS=1)
#
# Other targets: deps (install packages, the Kamailio source and the browser suite's npm
# packages), build (module + load checks), unit (C unit tests, then scripts/check-deps: no
# dependency cycle between the module's parts, and scripts/analyze: no finding of the clang static
# analyzer), analyze (the analyzer alone), browser (the browser suite alone: Debian's headless
# Chromium against labs, tests/browser/), install (pchat.so into Kamailio's module folder), deb
# (the Debian package build/deb/kamailio-pchat-module_<version>_<arch>.deb, scripts/deb),
# test-package (builds it, installs it with apt-get into a clean Debian 12 container and serves
# chat from it against a lab: tests/package/), clean.
# Variables: LAB_DIR, NODES, PORT_BASE, AUTH, REDIS (make run; AUTH: loopback, trusted, digest or
# cert; REDIS: single or sentinel);
# PYTEST_ARGS (make test, make browser); FUZZ_SECONDS (make fuzz, and the fuzz suite of make
# test);
# QUICK=1 (make bench); SOAK_MINUTES, SOAK_SESSIONS (make soak); DESTDIR (install);
# DEB_REVISION, DEB_MAINTAINER (deb).

SHELL := /bin/bash

.PHONY: all deps build run test test-containers test-faults test-kemi unit browser analyze fuzz bench soak install deb test-package clean

all: build

deps:
	@scripts/deps

build:
	@scripts/build

run: build
	@scripts/run

test: build
	@scripts/test

test-containers:
	@scripts/test containers

test-faults: build
	@scripts/test faults

# the chat suites through kamailio-cfg/pchat.lua (tests/lib/lab.py reads PCHAT_LAB_ROUTING)
KEMI_TESTS := $(addprefix tests/integration/,test_sessions.py test_messaging.py test_rooms.py test_kemi.py)
test-kemi: build
	@PCHAT_LAB_ROUTING=lua /usr/bin/python3 -m pytest -p no:cacheprovider -v --durations=10 $(PYTEST_ARGS) $(KEMI_TESTS)

unit: build
	@scripts/test unit

browser: build
	@scripts/test browser

analyze: build
	@scripts/analyze

fuzz:
	@scripts/fuzz

bench: build
	@QUICK=$(QUICK) scripts/bench

soak: build
	@SOAK_MINUTES=$(SOAK_MINUTES) SOAK_SESSIONS=$(SOAK_SESSIONS) scripts/soak

install: build
	@scripts/install-module

deb: build
	@scripts/deb

test-package: build
	@scripts/test package

clean:
	@if [ -d build/ksrc ]; then \
		$(MAKE) -s -C modules/pchat KSRC=$$(ls -d $(CURDIR)/build/ksrc/kamailio-*/src | head -1) clean; fi
	$(MAKE) -s -C tests/unit clean
	$(MAKE) -s -C tests/fuzz clean
	$(MAKE) -s -C tests/bench/load clean
	rm -rf build/modules build/tests build/analyze build/deb
