# leaktrap: the architecture is chosen by path (arch/$(ARCH)/), never by #ifdef.
ARCH     ?= $(shell uname -m)
CC       ?= cc
CFLAGS   ?= -O2 -g -Wall -Wextra -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Isrc -Iarch -Iarch/$(ARCH)
LDLIBS   := -lunwind-ptrace -lunwind-generic -lunwind -ldw -lelf -lcapstone -lreadline -lz -lm
B        := build

SRCS     := $(wildcard src/*.c arch/$(ARCH)/*.c arch/$(ARCH)/*.S)
OBJS     := $(SRCS:%=$(B)/%.o)
LIBOBJS  := $(filter-out $(B)/src/main.c.o,$(OBJS))
HDRS     := $(wildcard src/*.h arch/*.h arch/$(ARCH)/*.h)
TARGETS  := $(patsubst tests/targets/%.c,$(B)/targets/%,$(wildcard tests/targets/*.c)) \
            $(patsubst tests/targets/%.cc,$(B)/targets/%,$(wildcard tests/targets/*.cc))
# glibc static: symbols from .symtab, no link map, no .eh_frame_hdr.
STATICS  := $(B)/targets/leak_single_static
# One target per allocator: NAME_musl(_static) built with musl-gcc, NAME_LIB linked with -lLIB.
ALLOCS   := jemalloc tcmalloc mimalloc
ALLOCTGT := $(addprefix $(B)/targets/alloc_basic_,static musl musl_static $(ALLOCS) jemalloc_static) \
            $(addprefix $(B)/targets/alloc_cxx_,static $(ALLOCS)) \
            $(addprefix $(B)/targets/,libplug_new_a.so libplug_new_b.so libplug_malloc.so)
UNITS    := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/*.c tests/unit/$(ARCH)/*.c))
# The aarch64 relocator is pure data transformation: tested on any host.
UNITS    += $(B)/unit/host/test_relocate_aarch64
# libFuzzer targets: clang builds them with every source but main.c instrumented.
FUZZERS  := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/*.c))
LIBSRCS  := $(filter-out src/main.c,$(SRCS))
# Targets keep every named frame: no inlining of noinline functions, no tail calls.
TFLAGS   ?= -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread
MUSLCC   ?= musl-gcc

all: leaktrap
leaktrap: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/%.c.o: %.c $(HDRS)
	@mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/%.S.o: %.S $(HDRS)
	@mkdir -p $(@D) && $(CC) $(CPPFLAGS) -c -o $@ $<
$(B)/targets/%_static: tests/targets/%.c
	@mkdir -p $(@D) && $(CC) $(TFLAGS) -static -o $@ $<
$(B)/targets/%_static: tests/targets/%.cc
	@mkdir -p $(@D) && $(CXX) $(TFLAGS) -static -o $@ $<
$(B)/targets/libplug_new_%.so: tests/targets/plugins/plug_new.c
	@mkdir -p $(@D) && $(CC) $(TFLAGS) -shared -fPIC -DPLUG_ID="'$*'" -o $@ $<
$(B)/targets/libplug_%.so: tests/targets/plugins/plug_%.c
	@mkdir -p $(@D) && $(CC) $(TFLAGS) -fno-builtin -shared -fPIC -o $@ $<
$(B)/targets/%_jemalloc_static: tests/targets/%.c
	@mkdir -p $(@D) && $(CC) $(TFLAGS) -o $@ $< -l:libjemalloc_pic.a -lm
$(B)/targets/%_musl: tests/targets/%.c
	@mkdir -p $(@D) && $(MUSLCC) $(TFLAGS) -o $@ $<
$(B)/targets/%_musl_static: tests/targets/%.c
	@mkdir -p $(@D) && $(MUSLCC) $(TFLAGS) -static -o $@ $<
define alloc_rule
$(B)/targets/%_$(1): tests/targets/%.c
	@mkdir -p $$(@D) && $$(CC) $$(TFLAGS) -o $$@ $$< -l$(1)
$(B)/targets/%_$(1): tests/targets/%.cc
	@mkdir -p $$(@D) && $$(CXX) $$(TFLAGS) -o $$@ $$< -l$(1)
endef
$(foreach a,$(ALLOCS),$(eval $(call alloc_rule,$(a))))
$(B)/targets/%: tests/targets/%.c
	@mkdir -p $(@D) && $(CC) $(TFLAGS) -o $@ $<
$(B)/targets/%: tests/targets/%.cc
	@mkdir -p $(@D) && $(CXX) $(TFLAGS) -o $@ $<
$(B)/unit/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)
# tests/unit/host/arch_regs.h stands in for arch/$(ARCH)/arch_regs.h, so it comes first.
$(B)/unit/host/test_relocate_aarch64: tests/unit/host/test_relocate_aarch64.c arch/aarch64/relocate.c \
                                      arch/arch.h src/types.h src/hookdefs.h tests/unit/host/arch_regs.h
	@mkdir -p $(@D) && $(CC) -Itests/unit/host -Iarch/aarch64 $(CPPFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) -lelf -lcapstone

$(B)/fuzz/%: tests/fuzz/%.c $(LIBSRCS) $(HDRS)
	@mkdir -p $(@D) && clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -o $@ $< $(LIBSRCS) $(LDLIBS)

tests: leaktrap $(TARGETS) $(STATICS) $(ALLOCTGT) $(UNITS) $(FUZZERS)
# What the arm64 VM suite runs (scripts/arm64-suite.sh cross-builds it): all
# but the libFuzzer binaries.
cross-tests: leaktrap $(TARGETS) $(STATICS) $(ALLOCTGT) $(UNITS)
deps:
	scripts/deps.sh
# The whole suite (on x86-64 the long tests run beside the arm64 VM suites,
# at nice 19); check-long runs the long tests alone.
check: deps
	$(MAKE) tests && tests/run.sh
check-long: deps
	$(MAKE) tests && LT_ARM64_CPUS= tests/run.sh long/
demo: deps
	$(MAKE) leaktrap $(B)/targets/demo_leak && scripts/demo.sh
bench: deps
	$(MAKE) tests && scripts/bench.sh
clean:
	rm -rf $(B) leaktrap
.PHONY: all tests cross-tests deps check check-long demo bench clean
