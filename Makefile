# SPDX-License-Identifier: GPL-2.0
#
# loosetrace top-level Makefile.
#
#   make                 module (every installed kernel), agent, tools, selftests
#   make module          loosetrace.ko for each kernel in KVERS
#   make check           host tests, then the VM tests on every kernel
#   make check-debug     the VM tests on a KASAN/lockdep/kmemleak kernel
#   make bench-codec     compacted-bitmap codec benchmark (a table)
#   make bench           trace engine benchmark in the test VM (a table)
#   make bench-qemu      loosetrace beside QEMU's own migration (a table)
#   make demo            the demo migration inside the test VM
#   make demo-qemu       the same for a Linux guest of an unmodified QEMU
#   make install         module, agent, man pages, completion, unit
#   make style           checkpatch --strict on every C source
#
# KVER=<release> builds for one kernel; KDIR=<dir> for one headers tree;
# KROOT=<dir> for kernels installed under <dir>/lib/modules, not under /.

KVERS ?= $(notdir $(patsubst %/build,%,$(wildcard $(KROOT)/lib/modules/*/build)))
ifneq ($(KVER),)
KVERS := $(KVER)
endif
BUILD := $(CURDIR)/build
KSRC_FILES := Kbuild kmod lib uapi

export KVERS BUILD

.PHONY: all module agent tools selftests check check-debug bench-codec \
	bench bench-qemu demo demo-qemu install style clean

all: module agent tools selftests

# Each kernel gets its own object tree under build/kmod/<release>: a copy
# of the sources made of symbolic links, so that two kernels' objects
# never mix in the source directories.
ifneq ($(KDIR),)
module:
	@rm -rf $(BUILD)/kmod/custom && mkdir -p $(BUILD)/kmod/custom
	cp -rs $(addprefix $(CURDIR)/,$(KSRC_FILES)) $(BUILD)/kmod/custom/
	$(MAKE) -C $(KDIR) M=$(BUILD)/kmod/custom modules
else
module:
	@test -n "$(KVERS)" || { echo "no kernel headers installed (linux-headers-amd64)" >&2; exit 1; }
	@set -e; for k in $(KVERS); do \
		d=$(BUILD)/kmod/$$k; mkdir -p $$d; \
		find $$d -type l -delete; \
		cp -rs $(addprefix $(CURDIR)/,$(KSRC_FILES)) $$d/; \
		$(MAKE) -C $(KROOT)/lib/modules/$$k/build M=$$d modules; \
	done
endif

agent:
	$(MAKE) -C agent BUILD=$(BUILD)/agent

tools:
	$(MAKE) -C tools/vmm BUILD=$(BUILD)/tools/vmm

selftests:
	$(MAKE) -C selftests BUILD=$(BUILD)/selftests

check: all
	selftests/run_checks.sh

# Builds (once, cached) and boots a debug kernel: see Documentation/testing.rst.
check-debug: agent tools selftests
	selftests/check-debug.sh

bench-codec:
	$(MAKE) -C bench/codec BUILD=$(BUILD)/bench/codec run

bench: all
	bench/engine/run.sh

bench-qemu: all
	bench/qemu/run.sh

demo: all
	tools/demo.sh

demo-qemu: all
	tools/demo-qemu.sh

install: module
	$(MAKE) -C agent BUILD=$(BUILD)/agent install
	@set -e; for k in $(KVERS); do \
		install -D -m 644 $(BUILD)/kmod/$$k/loosetrace.ko \
			$(DESTDIR)/lib/modules/$$k/updates/loosetrace.ko; \
		test -n "$(DESTDIR)" || depmod -a $$k; \
	done

style:
	selftests/checkpatch.sh

clean:
	rm -rf $(BUILD)
