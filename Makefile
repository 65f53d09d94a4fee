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
TEST_PACKAGES := $(BUILD_PACKAGES) qemu-utils nbdkit libnbd-bin nbd-server gnutls-bin openssl curl jq prometheus python3-grpcio python3-grpc-tools e2fsprogs fuse2fs ntfs-3g
# Peers the end-to-end benchmark compares with.
BENCH_PACKAGES := $(TEST_PACKAGES) restic borgbackup fio e2fsprogs python3

.PHONY: build test torture run bench bench-ci clean build-deps test-deps bench-deps run-deps

build: build-deps
	$(MVN) -q -DskipTests package
	@echo "training the JVM's ahead-of-time cache (start-up of every command)"
	@./blockmover --make-aot-cache

test: test-deps
	$(MVN) verify

# The nightly variant of the kill tests: 200 SIGKILLs of the real backup, restore and proxy, and
# 90 of backup, gc and proxy with frames and recipes in play (make test runs 20 and 9), and the
# property tests with ten times the tries.
torture: test-deps
	BM_KILL_POINTS=200 $(MVN) -pl mover,nbd-server,index -am verify -Djqwik.tries.default=10000 \
		-Dtest='Kill*Test,*PropertiesTest' -Dsurefire.failIfNoSpecifiedTests=false

# make run REPO=s3: the repository in a bucket of s3proxy (a real S3 server on loopback).
run: build run-deps
	REPO=$(REPO) ./scripts/demo.sh

# make bench PHASES=export,s3: only those phases (./blockmover bench --help lists them).
bench: build bench-deps
	./blockmover bench $(if $(PHASES),--phases $(PHASES))

bench-ci: build bench-deps
	./blockmover bench --ci $(if $(PHASES),--phases $(PHASES))

clean:
	$(MVN) -q clean
	rm -rf data data-s3

build-deps:
	@./scripts/install-packages $(BUILD_PACKAGES)

test-deps:
	@./scripts/install-packages $(TEST_PACKAGES)

bench-deps:
	@./scripts/install-packages $(BENCH_PACKAGES)

run-deps:
	@./scripts/install-packages libnbd-bin curl jq
