# EdgeOS on seL4. The README's contract: `make run` boots the system in QEMU,
# `make test` runs the host tests and, when a Microkit SDK is found, the QEMU
# system tests.

BOARD  ?= qemu_virt_aarch64
CONFIG ?= debug
# A test variant of system.toml (ci/variants/NAME.toml: the fields it
# changes), built beside the default image from the same programs; e.g.
# `make run VARIANT=renew`. Empty: system.toml itself.
VARIANT ?=

ROOT       := $(abspath .)
BUILD_DIR  := $(ROOT)/build/$(BOARD)/$(CONFIG)
SPEC_DIR   := $(ROOT)/build/target-spec
PD_TARGET  := aarch64-sel4
PD_OUT     := $(BUILD_DIR)/cargo/$(PD_TARGET)/release
PDS        := net_driver mux tenant_echo tenant_memcache tenant_click timer
# The root task (protection-domains/root-task) replaces the SDK's capDL
# initialiser: the Microkit tool packs the spec into it through an overlay
# SDK tree that differs from the real one in that ELF alone.
ROOT_TASK  := $(BUILD_DIR)/root-task/aarch64-unknown-none/release/root_task
OVERLAY_SDK := $(BUILD_DIR)/sdk
ifeq ($(VARIANT),)
SYSTEM_TOML := system.toml
SYSTEM_XML  := system.xml
IMAGE_DIR   := $(BUILD_DIR)
BLOB_DIR    := $(PD_OUT)
else
IMAGE_DIR   := $(BUILD_DIR)/variant-$(VARIANT)
SYSTEM_TOML := $(IMAGE_DIR)/system.toml
SYSTEM_XML  := $(IMAGE_DIR)/system.xml
BLOB_DIR    := $(IMAGE_DIR)/blobs
endif
IMAGE      := $(IMAGE_DIR)/loader.img
REPORT     := $(IMAGE_DIR)/report.txt
# The variant's blobs are found first, the programs after them.
SEARCH_PATHS := --search-path $(BLOB_DIR) $(if $(VARIANT),--search-path $(PD_OUT))
SYSDESC_SOURCES := $(shell find tools/sysdesc/src -name '*.rs')

# Host ports QEMU forwards to the guest (10.0.2.15): tenant A's UDP echo
# (guest port 7), tenant B's TCP echo (guest port 8), the probe template's
# UDP echo (guest port 9, obeys fault probes), the memcached tenant (guest
# TCP 11211), the multiplexer's
# stats service (guest UDP 7777), the Click template (guest 20007), and two
# forwards no tenant serves. A raw
# Ethernet frame sent as a UDP datagram to INJECT_PORT enters the guest's NIC
# (QEMU's socket backend on the same hub).
UDP_ECHO_PORT ?= 15007
TCP_ECHO_PORT ?= 15008
PROBE_PORT    ?= 15009
# memcached tenants A (guest 11211) and B (guest 11212), TCP and UDP each.
MEMCACHED_PORT ?= 15211
MEMCACHED_B_PORT ?= 15212
STATS_PORT    ?= 17777
# One of the Click template's ports (guest 20007, TCP and UDP): flows from the
# host through the firewall-NAT, which passes UDP on to the UDP echo tenant
# (`net-client udp-echo --to 127.0.0.1:15020`), or through a benchmark's
# chain.
CLICK_PORT    ?= 15020
# The same guest ports with the other protocol: routed to nobody.
UNROUTED_UDP_PORT ?= 15018
UNROUTED_TCP_PORT ?= 15017
INJECT_PORT   ?= 19000
INJECT_PEER   ?= 19001

# The QEMU machine the image is built for, with one virtio-net device on a
# hub joining user-mode networking (guest 10.0.2.15, gateway 10.0.2.2) and
# the frame-injection socket. -icount makes guest time follow executed
# instructions (1 instruction = 1 virtual ns), so MCS budgets run out at the
# same points on every run however loaded the host is: boots are
# byte-for-byte reproducible, and cycle counts read in the guest are
# deterministic.
QEMU_NET   = -netdev user,id=user0,hostfwd=udp:127.0.0.1:$(UDP_ECHO_PORT)-10.0.2.15:7,hostfwd=tcp:127.0.0.1:$(TCP_ECHO_PORT)-10.0.2.15:8,hostfwd=udp:127.0.0.1:$(PROBE_PORT)-10.0.2.15:9,hostfwd=tcp:127.0.0.1:$(MEMCACHED_PORT)-10.0.2.15:11211,hostfwd=udp:127.0.0.1:$(MEMCACHED_PORT)-10.0.2.15:11211,hostfwd=tcp:127.0.0.1:$(MEMCACHED_B_PORT)-10.0.2.15:11212,hostfwd=udp:127.0.0.1:$(MEMCACHED_B_PORT)-10.0.2.15:11212,hostfwd=udp:127.0.0.1:$(STATS_PORT)-10.0.2.15:7777,hostfwd=udp:127.0.0.1:$(CLICK_PORT)-10.0.2.15:20007,hostfwd=tcp:127.0.0.1:$(CLICK_PORT)-10.0.2.15:20007,hostfwd=udp:127.0.0.1:$(UNROUTED_UDP_PORT)-10.0.2.15:8,hostfwd=tcp:127.0.0.1:$(UNROUTED_TCP_PORT)-10.0.2.15:7 \
             -netdev socket,id=inject0,udp=127.0.0.1:$(INJECT_PEER),localaddr=127.0.0.1:$(INJECT_PORT) \
             -netdev hubport,id=hub_user,hubid=0,netdev=user0 \
             -netdev hubport,id=hub_inject,hubid=0,netdev=inject0 \
             -netdev hubport,id=hub_nic,hubid=0 \
             -device virtio-net-device,netdev=hub_nic,mac=52:54:00:12:34:56
# The guest's clock. `make run` keeps real time (RUN_CLOCK=real): memcached
# TTLs, idle timeouts and the stats' `time` follow the wall clock. The
# system tests and benchmarks count instructions (CLOCK=icount, the
# qemu-command default; a spec may ask for `clock = "real"`): time that
# does not depend on the host's load, which budgets and figures need.
CLOCK     ?= icount
RUN_CLOCK ?= real
QEMU_CLOCK_icount = -icount shift=0,align=off,sleep=off
# The RTC on the host's clock, explicitly. The guest's unix time still lags
# the host's by 0.7 to 119 s from run to run (docs/memcached.md).
QEMU_CLOCK_real   = -rtc base=utc,clock=host
ifeq ($(filter $(CLOCK),icount real),)
$(error CLOCK=$(CLOCK): it is icount or real)
endif
ifeq ($(filter $(RUN_CLOCK),icount real),)
$(error RUN_CLOCK=$(RUN_CLOCK): it is icount or real)
endif
QEMU_MACHINE = -machine virt,virtualization=on -cpu cortex-a53 -m size=2G -nographic \
             -serial mon:stdio \
             -device loader,file=$(IMAGE),addr=0x70000000,cpu-num=0 \
             $(QEMU_NET)
QEMU_ARGS  = $(QEMU_MACHINE) $(QEMU_CLOCK_$(CLOCK))

SDK = $(shell ci/find-sdk.sh)

.PHONY: print-system-toml run qemu-command image pds root-task test host-test system-test system-check bench-hops bench-click bench-fwp bench-memcached bench-memcached-limits bench-memcached-tenants bench-memcached-vs-linux bench-memcached-start bench-linux bench fwp-memory soak clean

run: image
	qemu-system-aarch64 $(QEMU_MACHINE) $(QEMU_CLOCK_$(RUN_CLOCK))

# The command `make run` boots the image with (the system tests use it).
qemu-command:
	@echo qemu-system-aarch64 $(QEMU_ARGS)

# The system.toml the image of CONFIG and VARIANT is built from.
print-system-toml:
	@echo $(SYSTEM_TOML)

image: $(IMAGE)

$(SPEC_DIR)/$(PD_TARGET).json: tools/target-spec/src/lib.rs tools/target-spec/src/main.rs protection-domains/rust-toolchain.toml
	@mkdir -p $(SPEC_DIR)
	cargo run --quiet -p edgeos-target-spec -- $@ "$$(rustup which --toolchain $$(ci/pd-toolchain.sh) rustc)"

pds: $(SPEC_DIR)/$(PD_TARGET).json
	@sdk="$$(ci/find-sdk.sh)" || exit 1; \
	cd protection-domains && \
	RUST_TARGET_PATH=$(SPEC_DIR) \
	SEL4_INCLUDE_DIRS="$$sdk/board/$(BOARD)/$(CONFIG)/include" \
	CARGO_NET_GIT_FETCH_WITH_CLI=true \
	RUSTFLAGS="-Z unstable-options" \
	cargo build --release --locked \
		-Z json-target-spec \
		-Z build-std=core,alloc,compiler_builtins \
		-Z build-std-features=compiler-builtins-mem \
		--target $(PD_TARGET) \
		--target-dir $(BUILD_DIR)/cargo \
		$(addprefix -p ,$(PDS))

# Not a Microkit PD: a root task on seL4's bare boot interface, built for
# aarch64-unknown-none with the same pinned nightly and seL4 headers.
root-task:
	@sdk="$$(ci/find-sdk.sh)" || exit 1; \
	ci/pd-toolchain.sh >/dev/null && \
	cd protection-domains && \
	SEL4_INCLUDE_DIRS="$$sdk/board/$(BOARD)/$(CONFIG)/include" \
	CARGO_NET_GIT_FETCH_WITH_CLI=true \
	cargo build --release --locked \
		-Z build-std=core,alloc,compiler_builtins \
		-Z build-std-features=compiler-builtins-mem \
		--target aarch64-unknown-none \
		--target-dir $(BUILD_DIR)/root-task \
		-p root_task && \
	cd .. && ci/overlay-sdk.sh "$$sdk" $(BOARD) $(CONFIG) $(ROOT_TASK) $(OVERLAY_SDK)

# system.xml is generated from system.toml and committed (`make test`'s
# host tests fail when the two differ). After an edit of system.toml the
# image is built from a regenerated one, never from a stale description the
# Microkit tool would misread (a region larger than its blob panics it).
$(SYSTEM_XML): $(SYSTEM_TOML) $(SYSDESC_SOURCES)
	cargo run --quiet --release -p edgeos-sysdesc -- generate --config $(SYSTEM_TOML) -o $@

# A variant's configuration: system.toml with the variant's fields changed.
$(BUILD_DIR)/variant-%/system.toml: system.toml ci/variants/%.toml $(SYSDESC_SOURCES)
	@mkdir -p $(@D)
	cargo run --quiet --release -p edgeos-sysdesc -- derive --config system.toml --variant ci/variants/$*.toml -o $@

$(IMAGE): pds root-task $(SYSTEM_XML)
	@sdk="$$(ci/find-sdk.sh)" || exit 1; \
	cargo run --quiet --release -p edgeos-sysdesc -- blobs --config $(SYSTEM_TOML) -o $(BLOB_DIR) && \
	MICROKIT_SDK=$(OVERLAY_SDK) "$$sdk/bin/microkit" $(SYSTEM_XML) $(SEARCH_PATHS) \
		--board $(BOARD) --config $(CONFIG) -o $@ -r $(REPORT)

test:
	ci/test.sh

host-test:
	cargo test --workspace

# Each spec boots the image of its `variant` (system.toml's when it names
# none): ci/system-test.sh builds and checks the variants' images.
system-test: image system-check
	BOARD=$(BOARD) CONFIG=$(CONFIG) ci/system-test.sh $(BUILD_DIR)

# sysdesc's checks of the image's description against the built programs.
system-check:
	cargo run --quiet --release -p edgeos-sysdesc -- check --system $(SYSTEM_XML) $(SEARCH_PATHS)

# Guest time per frame in each hop; see docs/benchmarks.md.
bench-hops:
	ci/bench-hops.sh

# FWP spawn, refill and teardown latencies in guest time (release config).
bench-fwp:
	ci/bench-fwp.sh

# Guest instructions per frame through Click chains of 2, 3 and 6 elements
# (issue 15; docs/benchmarks.md).
bench-click:
	ci/bench-click.sh

# memcached get/set requests per second and p50/p99 latency from the host.
bench-memcached:
	ci/bench-memcached.sh

# memcached get/set of 100 B, 10 KiB and 500 KiB values over 1, 64 and
# 1,024 connections: requests per second, p50/p99 and errors (issue 13).
bench-memcached-limits:
	ci/bench-memcached-limits.sh

# memcached with 1, 10, 100 and 1,000 tenants, each its own FWP, under one
# total load: throughput, p50/p99, and connect to first reply (issue 11).
bench-memcached-tenants:
	ci/bench-memcached-tenants.sh

# A memcached FWP from the packet that spawns it to its first reply, in
# guest ns (the EdgeOS side of bench-linux's memcached row).
bench-memcached-start:
	ci/bench-memcached-start.sh

# Linux baseline on the same QEMU machine: fork/posix_spawn/vfork/namespaced
# clone + execve + waitpid in guest ns (Debian's arm64 kernel, busybox).
bench-linux:
	ci/linux-guest.sh

# memcached with 1, 8, 32, 800 and 1,000 tenants: EdgeOS's FWPs against as many
# memcached processes in the Linux guest, one load generator, same load;
# p50/p99 and throughput appended to a CSV (issue 12).
bench-memcached-vs-linux:
	ci/bench-memcached-vs-linux.sh

# Issue 12's comparison in one command: bench-hops, bench-fwp, bench-linux
# and bench-memcached-vs-linux into one table, then docs/bench/: the table
# (results.csv), SVG plots and summary.md with the headline ratios
# (tools/bench-report). BENCH_SIZE=min: each at its smallest, into
# target/bench-min/ (`make test` runs that). Boots QEMU again and again:
# hold /tmp/edgeos-qemu.lock when others share the machine
# (`flock /tmp/edgeos-qemu.lock make bench`).
bench:
	ci/bench.sh

# Bytes of frames per FWP slot, and how they grow with the slot count.
fwp-memory:
	ci/fwp-memory.sh

# The long churn soak: SOAK_COUNT spawn/teardown cycles (10,000 by default).
soak:
	ci/soak.sh

clean:
	rm -rf build target
