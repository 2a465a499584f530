# SPDX-License-Identifier: GPL-2.0
# Extra targets for tools/testing/radix-tree (its Makefile comes first):
#   make -C tools/testing/radix-tree -f Makefile -f THIS VMS_TESTS=DIR \
#       mt_full_root maple_leakcheck
mt_full_root: $(SHARED_OFILES) mt_full_root.o
mt_full_root.o: $(SHARED_DEPS) $(VMS_TESTS)/maple-harness.h $(VMS_TESTS)/mt_full_root.c
	$(CC) $(CFLAGS) -c -o $@ $(VMS_TESTS)/mt_full_root.c

# lib/test_maple_tree.c's tests + a leak check
maple_leakcheck: $(SHARED_OFILES) maple_leakcheck.o
maple_leakcheck.o: $(SHARED_DEPS) $(VMS_TESTS)/maple-harness.h $(VMS_TESTS)/maple_leakcheck.c
	$(CC) $(CFLAGS) -c -o $@ $(VMS_TESTS)/maple_leakcheck.c

# VMS_QEMU_USER=1: a cross build to run under qemu-user, where ASan cannot map
# its shadow memory: UBSan only, its runtime linked in.
ifdef VMS_QEMU_USER
CFLAGS := $(filter-out -fsanitize=address,$(CFLAGS))
LDFLAGS := $(filter-out -fsanitize=address,$(LDFLAGS)) -static-libubsan
endif

# VMS_SYSROOT=DIR: liburcu from DIR (Debian's packages for $(CC)'s target,
# unpacked there by scripts/build/fetch-urcu.sh), never the host's: its headers,
# its library to link, and to load at run time (rpath).
ifdef VMS_SYSROOT
VMS_TRIPLET := $(shell $(CC) -dumpmachine)
CFLAGS += -I$(VMS_SYSROOT)/usr/include/$(VMS_TRIPLET) -I$(VMS_SYSROOT)/usr/include
LDFLAGS += -L$(VMS_SYSROOT)/usr/lib/$(VMS_TRIPLET) \
	-Wl,-rpath,$(VMS_SYSROOT)/usr/lib/$(VMS_TRIPLET)
endif
