// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_crash: the crash test's trigger, a test module of its own in the
 * style of LKDTM. Never load it on a machine you care about: one of its
 * commands oopses the kernel on purpose. vmashadow.ko does not need it and
 * knows nothing of it; the crash boot (scripts/guest/guest-crash.sh) loads
 * vmashadow.ko, then this module, then runs selftests/crash_test.c.
 *
 * /sys/kernel/debug/vmashadow_crash/trigger takes one command per write:
 *
 *   hold MS      hold the writer's mmap_lock for writing for MS (1..10000)
 *                milliseconds
 *   read ADDR    read one byte at user address ADDR (hex, 0x optional) from
 *                kernel mode, with no exception table entry: on a contended
 *                mmap_lock this oopses
 *   borrow ADDR  a kernel thread borrows the writer's mm (kthread_use_mm())
 *                and reads one byte at ADDR with copy_from_user(): it must
 *                wait for a contended mmap_lock
 *
 * A write that is empty, longer than 32 bytes, holds a NUL, names no known
 * command, has a missing or extra word, or a value out of range (ADDR must
 * be a user address, 0 < ADDR < TASK_SIZE) fails with -EINVAL and does
 * nothing. Reading the file shows the commands.
 *
 * "read" kills the task that writes it if the fault cannot be served. That is
 * the point: the 2008 rule says a kernel fault without a fixup must oops, not
 * deadlock.
 *
 * In C because it needs what Rust does not offer, on purpose: a kernel-mode
 * access to user memory with *no* exception table entry, and holding a
 * task's mmap_lock for writing. The access sits inside a user-access window
 * (stac/clac): with SMAP, a kernel access to user memory outside one oopses
 * in do_user_addr_fault() before any lock logic, which would prove nothing.
 * Inside it, the fault reaches the VMA lookup, must not take the lockless
 * paths (no fixup), and meets get_mmap_lock_carefully(): if another task
 * holds mmap_lock for writing, the trylock fails and the kernel oopses
 * instead of deadlocking. Built without KASAN (Kbuild): KASAN would report
 * the access itself instead of letting it reach the page-fault path.
 *
 * The oopsing task dies inside a debugfs write, so that write never ends:
 * debugfs would wait for it for ever on removal. "read" therefore takes a
 * reference on this module that only a read that returns gives back: after
 * an oops, rmmod vmashadow_crash fails (EBUSY) instead of hanging, and the
 * boot that oopsed keeps the module until it ends.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/uaccess.h>

/* The longest write taken, as the knobs of vmashadow.ko (rust/control.rs). */
#define TRIGGER_MAX	32
#define HOLD_MS_MAX	10000
/* The interface: /sys/kernel/debug/vmashadow_crash/trigger. */
#define CRASH_DIR	"vmashadow_crash"

static const char trigger_help[] = "hold MS | read ADDR | borrow ADDR\n";

static struct dentry *crash_dir;

/*
 * Reads one byte of user memory with no fixup: a fault that cannot be
 * served oopses and kills current. noinline: the oops names it.
 */
static noinline unsigned char crash_read_user(const void __user *addr)
{
	unsigned char v;

	stac();
	v = READ_ONCE(*(const unsigned char __force *)addr);
	clac();
	return v;
}

/* Holds current->mm's mmap_lock for writing for @ms milliseconds. */
static int crash_hold_mmap_write(unsigned int ms)
{
	struct mm_struct *mm = current->mm;

	if (!mm)
		return -EINVAL;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	/* The selftest waits for this task's wchan to read "msleep". */
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
static int crash_kthread_read(const void __user *addr)
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

/* Parses a hex user address (0x optional), refusing 0 and kernel addresses. */
static int parse_user_addr(const char *arg, unsigned long *addr)
{
	if (kstrtoul(arg, 16, addr) || !*addr || *addr >= TASK_SIZE)
		return -EINVAL;
	return 0;
}

/* The next whitespace-separated word of *@p, NUL-terminated, or NULL. */
static char *next_word(char **p)
{
	char *s = skip_spaces(*p), *end = s;

	if (!*s)
		return NULL;
	while (*end && !isspace(*end))
		end++;
	if (*end)
		*end++ = '\0';
	*p = end;
	return s;
}

static ssize_t trigger_read(struct file *file, char __user *ubuf, size_t count,
			    loff_t *ppos)
{
	return simple_read_from_buffer(ubuf, count, ppos, trigger_help,
				       sizeof(trigger_help) - 1);
}

static ssize_t trigger_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char buf[TRIGGER_MAX + 1], *p = buf, *cmd, *arg;
	unsigned long addr;
	unsigned int ms;
	int ret;

	/* Longer writes are refused whole, never taken in pieces. */
	if (!count || count > TRIGGER_MAX)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (strlen(buf) != count)
		return -EINVAL;
	cmd = next_word(&p);
	arg = next_word(&p);
	if (!cmd || !arg || next_word(&p))
		return -EINVAL;

	if (!strcmp(cmd, "hold")) {
		if (kstrtouint(arg, 10, &ms) || ms < 1 || ms > HOLD_MS_MAX)
			return -EINVAL;
		ret = crash_hold_mmap_write(ms);
	} else if (!strcmp(cmd, "read")) {
		unsigned char v;

		if (parse_user_addr(arg, &addr))
			return -EINVAL;
		/* Kept for good if the read oopses (see the top of the file). */
		__module_get(THIS_MODULE);
		v = crash_read_user((const void __user *)addr);
		module_put(THIS_MODULE);
		pr_info("read user byte %#04x\n", v);
		ret = 0;
	} else if (!strcmp(cmd, "borrow")) {
		if (parse_user_addr(arg, &addr))
			return -EINVAL;
		ret = crash_kthread_read((const void __user *)addr);
	} else {
		return -EINVAL;
	}
	return ret ?: count;
}

static const struct file_operations trigger_fops = {
	.owner = THIS_MODULE,
	.read = trigger_read,
	.write = trigger_write,
	.llseek = default_llseek,
};

static int __init vmashadow_crash_init(void)
{
	struct dentry *f;

	crash_dir = debugfs_create_dir(CRASH_DIR, NULL);
	if (IS_ERR(crash_dir))
		return PTR_ERR(crash_dir);
	f = debugfs_create_file("trigger", 0600, crash_dir, NULL, &trigger_fops);
	if (IS_ERR(f)) {
		debugfs_remove(crash_dir);
		return PTR_ERR(f);
	}
	pr_warn("test module loaded: /sys/kernel/debug/%s/trigger can oops the kernel on purpose\n",
		CRASH_DIR);
	return 0;
}

static void __exit vmashadow_crash_exit(void)
{
	debugfs_remove(crash_dir);
}

module_init(vmashadow_crash_init);
module_exit(vmashadow_crash_exit);

MODULE_AUTHOR("vmashadow developers");
MODULE_DESCRIPTION("vmashadow crash test trigger (test only: it can oops the kernel)");
MODULE_LICENSE("GPL");
