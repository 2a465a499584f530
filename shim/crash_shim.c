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
 *
 * Also here: a kernel thread that borrows the mm (kthread_use_mm()), whose
 * faults must never take the lockless paths.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>

unsigned char vmashadow_crash_read_user(const void __user *addr);
int vmashadow_crash_hold_mmap_write(unsigned int ms);
int vmashadow_crash_kthread_read(const void __user *addr);

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

struct borrow {
	struct mm_struct *mm;
	const void __user *addr;
	int ret;
	struct completion done;
};

static int borrow_mm_and_read(void *data)
{
	struct borrow *b = data;
	unsigned char v;

	kthread_use_mm(b->mm);
	b->ret = copy_from_user(&v, b->addr, 1) ? -EFAULT : 0;
	kthread_unuse_mm(b->mm);
	complete(&b->done);
	return 0;
}

/*
 * A kernel thread borrows current->mm with kthread_use_mm() and reads one
 * byte at @addr with copy_from_user(): a kernel-mode fault with a fixup, in
 * a task that does not own the mm, so it must take mmap_lock (and wait for
 * a writer) in every mode. Returns 0, -EFAULT or -errno.
 */
int vmashadow_crash_kthread_read(const void __user *addr)
{
	struct borrow b = { .mm = current->mm, .addr = addr };
	struct task_struct *t;

	if (!b.mm || !mmget_not_zero(b.mm))
		return -EINVAL;
	init_completion(&b.done);
	t = kthread_create(borrow_mm_and_read, &b, "vmashadow_borrow");
	if (IS_ERR(t)) {
		mmput(b.mm);
		return PTR_ERR(t);
	}
	get_task_struct(t);
	wake_up_process(t);
	wait_for_completion(&b.done);
	/* Reaps it: no module text runs once this returns. */
	kthread_stop(t);
	put_task_struct(t);
	mmput(b.mm);
	return b.ret;
}
