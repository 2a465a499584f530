# SPDX-License-Identifier: GPL-2.0
# Extra targets for tools/testing/radix-tree (its Makefile comes first):
#   make -C tools/testing/radix-tree -f Makefile -f THIS VMS_TESTS=DIR mt_full_root
mt_full_root: $(SHARED_OFILES) mt_full_root.o
mt_full_root.o: $(SHARED_DEPS) $(VMS_TESTS)/mt_full_root.c
	$(CC) $(CFLAGS) -c -o $@ $(VMS_TESTS)/mt_full_root.c
