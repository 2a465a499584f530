/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What lib/ code expects of a module, stubbed for the userspace maple tree
 * harness (tools/testing/radix-tree), as its own maple.c does; then the
 * harness and the kernel's maple tree itself.
 */
#define module_init(x)
#define module_exit(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(X)
#define MODULE_LICENSE(x)
#define dump_stack()	assert(0)

#include "test.h"
#include "../shared/maple-shim.c"
