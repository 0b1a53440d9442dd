# EdgeOS on seL4. The README's contract: `make run` boots the system in QEMU,
# `make test` runs the host tests and, when a Microkit SDK is found, the QEMU
# system tests.

BOARD  ?= qemu_virt_aarch64
CONFIG ?= debug

ROOT       := $(abspath .)
BUILD_DIR  := $(ROOT)/build/$(BOARD)/$(CONFIG)
SPEC_DIR   := $(ROOT)/build/target-spec
PD_TARGET  := aarch64-sel4
PD_OUT     := $(BUILD_DIR)/cargo/$(PD_TARGET)/release
PDS        := net_driver mux fwp_template
IMAGE      := $(BUILD_DIR)/loader.img
REPORT     := $(BUILD_DIR)/report.txt

# The QEMU machine the image is built for, with one virtio-net device on
# user-mode networking (guest 10.0.2.15, gateway 10.0.2.2). -icount makes
# guest time follow executed instructions (1 instruction = 1 virtual ns), so
# MCS budgets run out at the same points on every run however loaded the
# host is: boots are byte-for-byte reproducible, and cycle counts read in
# the guest are deterministic.
QEMU_ARGS  = -machine virt,virtualization=on -cpu cortex-a53 -m size=2G -nographic \
             -serial mon:stdio -icount shift=0,align=off,sleep=off \
             -device loader,file=$(IMAGE),addr=0x70000000,cpu-num=0 \
             -netdev user,id=net0 -device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56

SDK = $(shell ci/find-sdk.sh)

.PHONY: run image pds test host-test system-test clean

run: image
	qemu-system-aarch64 $(QEMU_ARGS)

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

$(IMAGE): pds system.xml
	@sdk="$$(ci/find-sdk.sh)" || exit 1; \
	"$$sdk/bin/microkit" system.xml --search-path $(PD_OUT) \
		--board $(BOARD) --config $(CONFIG) -o $@ -r $(REPORT)

test:
	ci/test.sh

host-test:
	cargo test --workspace

system-test: image
	ci/system-test.sh $(BUILD_DIR) qemu-system-aarch64 $(QEMU_ARGS)

clean:
	rm -rf build target
