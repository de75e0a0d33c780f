# mpvm build. Plain make: the host program, a freestanding guest built with
# other flags and embedded into it, and the unit tests are three kinds of
# compile that make expresses directly, with no configure step.
#
#   make                 build/mpvm (with the built-in guest inside) and
#                        bench/launch's firmware images and timing helper
#   make test            build everything, then run tests/run (unit + integration)
#   make SAN=address,undefined BUILD=build-asan test
#                        the same under sanitizers, in its own build folder

BUILD   ?= build
SAN     ?=
CC      ?= gcc
OPT     ?= -O2

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -MMD -MP -Isrc
LDFLAGS :=
ifneq ($(SAN),)
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif
# libtracefs/libtraceevent: KVM's tracepoints for --trace (kvm/kvm_trace.c)
TRACE_PKGS := libtracefs libtraceevent
CFLAGS  += $(shell pkg-config --cflags $(TRACE_PKGS))
LIBS    := -lpthread -ljson-c -lseccomp $(shell pkg-config --libs $(TRACE_PKGS))

# src/core and src/devices are KVM-free (the unit tests link them);
# src/kvm talks to KVM; src/cli is the command line on top.
CORE_SRC    := $(wildcard src/core/*.c)
DEV_SRC     := $(wildcard src/devices/*.c)
KVM_SRC     := $(wildcard src/kvm/*.c)
CLI_SRC     := $(wildcard src/cli/*.c)
CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/%.o)
DEV_OBJ     := $(DEV_SRC:%.c=$(BUILD)/%.o)
KVM_OBJ     := $(KVM_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ     := $(CLI_SRC:%.c=$(BUILD)/%.o)

.PHONY: all test clean guest bench
all: $(BUILD)/mpvm bench

# ---- the built-in guest (guest/): freestanding, never sanitized ----------
GUEST_CFLAGS := -std=c11 -O2 -g -ffreestanding -fno-pic -fno-pie -nostdlib \
                -fno-stack-protector -fno-asynchronous-unwind-tables \
                -mno-red-zone -mgeneral-regs-only -mcmodel=small -m64 \
                -fno-builtin -Isrc -Iguest $(WARN)
GUEST_C     := $(wildcard guest/*.c)
GUEST_S     := $(wildcard guest/*.S)
GUEST_OBJ   := $(GUEST_S:%.S=$(BUILD)/%.o) $(GUEST_C:%.c=$(BUILD)/%.o)

$(BUILD)/guest/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/guest/%.o: guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/guest/guest.elf: $(GUEST_OBJ) guest/guest.ld
	$(CC) $(GUEST_CFLAGS) -static -Wl,--build-id=none -Wl,-z,noexecstack -T guest/guest.ld -o $@ $(GUEST_OBJ)
$(BUILD)/guest/guest.bin: $(BUILD)/guest/guest.elf
	objcopy -O binary $< $@
guest: $(BUILD)/guest/guest.bin

# The guest image goes into mpvm through .incbin (src/kvm/guest_blob.S).
$(BUILD)/src/kvm/guest_blob.o: src/kvm/guest_blob.S $(BUILD)/guest/guest.bin
	@mkdir -p $(dir $@)
	$(CC) -c -DGUEST_BIN='"$(BUILD)/guest/guest.bin"' $< -o $@

# ---- host objects ----------------------------------------------------------
$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/mpvm: $(CLI_OBJ) $(KVM_OBJ) $(DEV_OBJ) $(CORE_OBJ) $(BUILD)/src/kvm/guest_blob.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- bench/launch: a flat SMP firmware image (bench/launchfw.S), 64 KiB for
# -bios/--bios, in two builds (APs one at a time, or by one broadcast), the
# same two for kvmtool (lkvm run -k, loaded at 0x10000: KVMTOOL=1), and
# the helper that times a VMM run (bench/launch-probe.c) ------------------
BENCH_OUT := $(BUILD)/bench/launchfw.bin $(BUILD)/bench/launchfw-broadcast.bin \
	$(BUILD)/bench/launchfw-kvmtool.bin $(BUILD)/bench/launchfw-kvmtool-broadcast.bin \
	$(BUILD)/bench/launch-probe
bench: $(BENCH_OUT)

$(BUILD)/bench/launchfw.o: bench/launchfw.S
	@mkdir -p $(dir $@)
	as --32 -o $@ $<
$(BUILD)/bench/launchfw-broadcast.o: bench/launchfw.S
	@mkdir -p $(dir $@)
	as --32 --defsym BROADCAST=1 -o $@ $<
# the same image for kvmtool's flat-binary load at 0x10000 (lkvm run -k)
$(BUILD)/bench/launchfw-kvmtool.o: bench/launchfw.S
	@mkdir -p $(dir $@)
	as --32 --defsym KVMTOOL=1 -o $@ $<
$(BUILD)/bench/launchfw-kvmtool-broadcast.o: bench/launchfw.S
	@mkdir -p $(dir $@)
	as --32 --defsym KVMTOOL=1 --defsym BROADCAST=1 -o $@ $<
$(BUILD)/bench/launchfw-kvmtool.elf $(BUILD)/bench/launchfw-kvmtool-broadcast.elf: %.elf: %.o
	ld -m elf_i386 -Ttext=0x10000 -o $@ $<
$(BUILD)/bench/%.elf: $(BUILD)/bench/%.o
	ld -m elf_i386 -Ttext=0xffff0000 -o $@ $<
$(BUILD)/bench/%.bin: $(BUILD)/bench/%.elf
	objcopy -O binary -j .text $< $@
	@test "$$(stat -c %s $@)" -eq 65536 || { echo "$@: not 64 KiB" >&2; rm -f $@; exit 1; }
$(BUILD)/bench/launch-probe: bench/launch-probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# ---- unit tests (cmocka): tests/core/test_X.c against src/core,
# tests/devices/test_X.c against src/devices (and src/core) ---------------
UNIT_SRC  := $(wildcard tests/core/test_*.c) $(wildcard tests/devices/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/core/%: tests/core/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJ) -lcmocka $(LIBS)
$(BUILD)/tests/devices/%: tests/devices/%.c $(DEV_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(DEV_OBJ) $(CORE_OBJ) -lcmocka $(LIBS)

# tests/kvm/test_X.c: the KVM layer on a real VM (needs /dev/kvm), linked
# with everything but the command line.
KVM_TEST_SRC := $(wildcard tests/kvm/test_*.c)
KVM_TEST_BIN := $(KVM_TEST_SRC:tests/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/kvm/%: tests/kvm/%.c $(KVM_OBJ) $(DEV_OBJ) $(CORE_OBJ) $(BUILD)/src/kvm/guest_blob.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(KVM_OBJ) $(DEV_OBJ) $(CORE_OBJ) $(BUILD)/src/kvm/guest_blob.o -lcmocka $(LIBS)

test: $(BUILD)/mpvm bench $(UNIT_BIN) $(KVM_TEST_BIN)
	BUILD=$(BUILD) tests/run

# ---- fuzzing (libFuzzer, clang): tests/fuzz/fuzz_X.c -> build-fuzz/fuzz_X,
# linked with src/core and src/devices built for fuzzing in build-fuzz/ ------
#   make fuzz            build every target
#   make fuzz-run        run each one FUZZ_SECONDS (10) on a copy of its corpus
FUZZ_BUILD   := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -Isrc $(WARN) -MMD -MP \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJ     := $(CORE_SRC:%.c=$(FUZZ_BUILD)/%.o) $(DEV_SRC:%.c=$(FUZZ_BUILD)/%.o)

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BIN)

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BIN): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/tests/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -lpthread -ljson-c

fuzz-run: fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

-include $(shell find $(FUZZ_BUILD) -name '*.d' -type f 2>/dev/null)

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' -type f -not -path '$(BUILD)/linux-kit/*' 2>/dev/null)
