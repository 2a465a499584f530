// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow crash-test shim (test only; reachable only when the module is
 * loaded with crash_test=1). In C because it needs what Rust does not
 * offer, on purpose: a kernel-mode access to user memory with *no*
 * exception table entry, and holding a task's mmap_lock for writing.
 *
 * The access sits inside a user-access window (stac/clac): with SMAP, a
 * kernel access to user memory outside one oopses in do_user_addr_fault()
 * before any lock logic, which would prove nothing. Inside it, the fault
 * reaches the VMA lookup, must not take the lockless paths (no fixup), and
 * meets get_mmap_lock_carefully(): if another task holds mmap_lock for
 * writing, the trylock fails and the kernel oopses instead of deadlocking.
 */
#include <linux/delay.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

unsigned char vmashadow_crash_read_user(const void __user *addr);
int vmashadow_crash_hold_mmap_write(unsigned int ms);

/* Reads one byte of user memory with no fixup: a bad address oopses. */
unsigned char vmashadow_crash_read_user(const void __user *addr)
{
	unsigned char v;

	stac();
	v = *(const volatile unsigned char __force *)addr;
	clac();
	return v;
}

/* Holds current->mm's mmap_lock for writing for @ms milliseconds. */
int vmashadow_crash_hold_mmap_write(unsigned int ms)
{
	struct mm_struct *mm = current->mm;

	if (!mm)
		return -EINVAL;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	msleep(ms);
	mmap_write_unlock(mm);
	return 0;
}
