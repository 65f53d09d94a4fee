# blockmover build. `make run` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
.DEFAULT_GOAL := build

JAVA_HOME := $(shell ./scripts/find-jdk 25)
ifeq ($(JAVA_HOME),)
$(error no JDK >= 25 found; install one under /usr/lib/jvm or set JAVA_HOME)
endif
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(PATH)
# Maven itself touches sun.misc.Unsafe; this silences JDK 25's warning without breaking JDK 17.
export MAVEN_OPTS ?= --sun-misc-unsafe-memory-access=allow
MVN := mvn -B -ntp

# What native-bridge's C needs at build time: gcc builds the VDDK log trampoline and the VDDK
# test fixture, which links libnbd.
BUILD_PACKAGES := gcc make pkg-config libnbd-dev
# Debian packages the tests run against (real NBD peers, TLS tools).
TEST_PACKAGES := $(BUILD_PACKAGES) qemu-utils nbdkit libnbd-bin nbd-server gnutls-bin openssl curl jq prometheus python3-grpcio python3-grpc-tools
# Peers the end-to-end benchmark compares with.
BENCH_PACKAGES := $(TEST_PACKAGES) restic borgbackup e2fsprogs python3

.PHONY: build test run bench bench-ci clean build-deps test-deps bench-deps run-deps

build: build-deps
	$(MVN) -q -DskipTests package
	@echo "training the JVM's ahead-of-time cache (start-up of every command)"
	@./blockmover --make-aot-cache

test: test-deps
	$(MVN) verify

run: build run-deps
	./scripts/demo.sh

bench: build bench-deps
	./blockmover bench

bench-ci: build bench-deps
	./blockmover bench --ci

clean:
	$(MVN) -q clean
	rm -rf data

build-deps:
	@./scripts/install-packages $(BUILD_PACKAGES)

test-deps:
	@./scripts/install-packages $(TEST_PACKAGES)

bench-deps:
	@./scripts/install-packages $(BENCH_PACKAGES)

run-deps:
	@./scripts/install-packages libnbd-bin curl jq
