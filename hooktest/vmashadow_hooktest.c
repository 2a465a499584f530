// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_hooktest: a test module that checks the one rule of the fault
 * VMA lookup hook's contract (include/linux/fault_vma_hook.h) that keeps
 * unregistering safe: ->forget is called for every VMA freed while
 * mm->fault_vma_data is set, from registration until ->drain has returned.
 *
 * Why it matters: a fault that passed the hook's key test just before
 * fault_vma_hook_unregister() disabled it can still be inside ->lookup, and
 * ->lookup may hand the core a VMA pointer for vma_start_read(), an atomic
 * read-modify-write. If a VMA freed meanwhile was never forgotten, that
 * pointer can point into a slab page the allocator has given back. The
 * first version of the hook disabled ->forget first, so every VMA freed
 * while the hook was being unregistered escaped ->forget; this module shows
 * that, and that it no longer happens.
 *
 * It registers a hook of its own (so vmashadow.ko must not be loaded) that
 * passes every fault on (FAULT_VMA_PASS) and watches one VMA of one mm.
 * Files in /sys/kernel/debug/vmashadow_hooktest/:
 *
 *   victim  w  ADDR (hex, 0x optional): watch the writer's VMA that holds
 *              ADDR; sets the writer's mm->fault_vma_data, so that the core
 *              reports that mm's freed VMAs to ->forget
 *   state   r  idle | armed | draining
 *   freed   w  1: the victim has been freed (munmap() returned); only while
 *              draining. Succeeds if ->forget saw the victim, fails with
 *              ESTALE if it did not.
 *
 *   kthread w  ADDR (hex): a kernel thread borrows the writer's mm
 *              (kthread_use_mm()) and writes one byte 0x5a at ADDR with
 *              copy_to_user(); the write returns once it has, and fails
 *              with EFAULT if the copy did
 *   kthread_lookups r  faults of kernel threads that reached ->lookup, which
 *              the core must never let happen: a kernel thread pins only
 *              mm_count, and a hook may rely on mm_users
 *
 * ->drain, which rmmod runs, waits up to 10 s for "freed". So the test (see
 * selftests/module_test.c) writes victim, starts rmmod, waits for draining,
 * unmaps the victim and writes freed. A write that does not parse, or comes
 * in the wrong state, fails with EINVAL or EBUSY and changes nothing.
 *
 * The files have no owner module: "freed" is written while the module is
 * going away, when an owner's reference could no longer be taken. debugfs
 * itself keeps a removed file's operations from running, and this module
 * removes its files only after ->drain has returned.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fault_vma_hook.h>
#include <linux/fs.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

enum hooktest_state { HT_IDLE, HT_ARMED, HT_DRAINING };

static const char *const state_names[] = {
	[HT_IDLE] = "idle",
	[HT_ARMED] = "armed",
	[HT_DRAINING] = "draining",
};

static DEFINE_MUTEX(ht_mutex);		/* victim and freed writes */
static DEFINE_SPINLOCK(ht_data_lock);	/* target->fault_vma_data */
static DECLARE_WAIT_QUEUE_HEAD(ht_wait);
static enum hooktest_state ht_state;
static struct mm_struct *ht_mm;		/* mmgrab()ed while set */
/* Compared with what ->forget is given, never dereferenced. */
static const struct vm_area_struct *ht_victim;
static bool ht_forgotten, ht_freed;
static struct dentry *ht_dir;
/* What the watched mm's fault_vma_data points at: only its address counts. */
static int ht_marker;

static atomic_t ht_kthread_lookups = ATOMIC_INIT(0);

static enum fault_vma_answer ht_lookup(struct mm_struct *mm, unsigned long addr,
				       bool user, struct vm_area_struct **vmap)
{
	if (current->flags & PF_KTHREAD)
		atomic_inc(&ht_kthread_lookups);
	return FAULT_VMA_PASS;
}

static void ht_fill(struct mm_struct *mm, struct vm_area_struct *vma,
		    bool mmap_locked)
{
}

static void ht_forget(struct mm_struct *mm, struct vm_area_struct *vma)
{
	if (vma == READ_ONCE(ht_victim)) {
		WRITE_ONCE(ht_forgotten, true);
		wake_up(&ht_wait);
	}
}

/* Clears @mm's fault_vma_data if it is the watched mm's. */
static void ht_clear(struct mm_struct *mm)
{
	spin_lock(&ht_data_lock);
	if (mm == ht_mm)
		RCU_INIT_POINTER(mm->fault_vma_data, NULL);
	spin_unlock(&ht_data_lock);
}

static void ht_release(struct mm_struct *mm)
{
	ht_clear(mm);
}

static void ht_drain(void)
{
	struct mm_struct *mm;

	mutex_lock(&ht_mutex);
	if (ht_state != HT_ARMED) {
		mutex_unlock(&ht_mutex);
		return;
	}
	ht_state = HT_DRAINING;
	mutex_unlock(&ht_mutex);
	pr_info("draining: waiting for the victim to be freed\n");

	wait_event_timeout(ht_wait, READ_ONCE(ht_freed), 10 * HZ);

	mutex_lock(&ht_mutex);
	if (!ht_freed)
		pr_err("verdict: no VMA was freed during ->drain (nothing tested)\n");
	else if (ht_forgotten)
		pr_info("verdict: ok: a VMA freed during ->drain was forgotten\n");
	else
		pr_err("verdict: FAIL: a VMA freed during ->drain escaped ->forget\n");
	ht_clear(ht_mm);
	mm = ht_mm;
	spin_lock(&ht_data_lock);
	ht_mm = NULL;
	spin_unlock(&ht_data_lock);
	ht_victim = NULL;
	ht_state = HT_IDLE;
	mutex_unlock(&ht_mutex);
	mmdrop(mm);
}

static const struct fault_vma_hook_ops ht_ops = {
	.lookup = ht_lookup,
	.fill = ht_fill,
	.forget = ht_forget,
	.release = ht_release,
	.drain = ht_drain,
};

/* One short word from user space, NUL-terminated and trimmed. */
static int ht_word(const char __user *ubuf, size_t count, char *buf, size_t size)
{
	if (!count || count >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (strlen(buf) != count)
		return -EINVAL;
	strim(buf);
	return *buf ? 0 : -EINVAL;
}

static ssize_t victim_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long addr;
	char buf[32];
	int ret;

	ret = ht_word(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	if (kstrtoul(buf, 16, &addr) || !addr || addr >= TASK_SIZE || !mm)
		return -EINVAL;

	guard(mutex)(&ht_mutex);
	if (ht_state != HT_IDLE)
		return -EBUSY;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, addr);
	if (!vma || rcu_access_pointer(mm->fault_vma_data)) {
		mmap_read_unlock(mm);
		return -EINVAL;
	}
	mmgrab(mm);
	spin_lock(&ht_data_lock);
	ht_mm = mm;
	ht_victim = vma;
	ht_forgotten = false;
	ht_freed = false;
	rcu_assign_pointer(mm->fault_vma_data, (void *)&ht_marker);
	spin_unlock(&ht_data_lock);
	mmap_read_unlock(mm);
	ht_state = HT_ARMED;
	return count;
}

static ssize_t freed_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	char buf[8];
	int ret;

	ret = ht_word(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	if (strcmp(buf, "1"))
		return -EINVAL;

	guard(mutex)(&ht_mutex);
	if (ht_state != HT_DRAINING || ht_freed)
		return -EBUSY;
	WRITE_ONCE(ht_freed, true);
	wake_up(&ht_wait);
	return READ_ONCE(ht_forgotten) ? count : -ESTALE;
}

static ssize_t state_read(struct file *file, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	char buf[16];
	int n;

	mutex_lock(&ht_mutex);
	n = scnprintf(buf, sizeof(buf), "%s\n", state_names[ht_state]);
	mutex_unlock(&ht_mutex);
	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

struct ht_kthread_job {
	struct mm_struct *mm;
	unsigned long addr;
	int ret;
	struct completion done;
};

static int ht_kthread_fn(void *data)
{
	struct ht_kthread_job *job = data;
	const u8 byte = 0x5a;

	kthread_use_mm(job->mm);
	job->ret = copy_to_user((void __user *)job->addr, &byte, 1) ? -EFAULT : 0;
	kthread_unuse_mm(job->mm);
	/* The job is on the writer's stack: not touched after this. */
	complete(&job->done);
	return 0;
}

static ssize_t kthread_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct ht_kthread_job job = { .mm = current->mm, .ret = -EINTR };
	struct task_struct *t;
	char buf[32];
	int ret;

	ret = ht_word(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	if (kstrtoul(buf, 16, &job.addr) || !job.addr || job.addr >= TASK_SIZE ||
	    !job.mm)
		return -EINVAL;

	init_completion(&job.done);
	mmgrab(job.mm);
	t = kthread_run(ht_kthread_fn, &job, "vms_hooktest");
	if (IS_ERR(t)) {
		mmdrop(job.mm);
		return PTR_ERR(t);
	}
	wait_for_completion(&job.done);
	mmdrop(job.mm);
	return job.ret ?: count;
}

static ssize_t kthread_lookups_read(struct file *file, char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char buf[16];
	int n;

	n = scnprintf(buf, sizeof(buf), "%d\n", atomic_read(&ht_kthread_lookups));
	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

/* No .owner: see the comment at the top. */
static const struct file_operations victim_fops = {
	.write = victim_write,
	.llseek = noop_llseek,
};

static const struct file_operations freed_fops = {
	.write = freed_write,
	.llseek = noop_llseek,
};

static const struct file_operations kthread_fops = {
	.write = kthread_write,
	.llseek = noop_llseek,
};

static const struct file_operations kthread_lookups_fops = {
	.read = kthread_lookups_read,
	.llseek = default_llseek,
};

static const struct file_operations state_fops = {
	.read = state_read,
	.llseek = default_llseek,
};

static int __init hooktest_init(void)
{
	int ret;

	ht_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("victim", 0200, ht_dir, NULL, &victim_fops);
	debugfs_create_file("freed", 0200, ht_dir, NULL, &freed_fops);
	debugfs_create_file("state", 0400, ht_dir, NULL, &state_fops);
	debugfs_create_file("kthread", 0200, ht_dir, NULL, &kthread_fops);
	debugfs_create_file("kthread_lookups", 0400, ht_dir, NULL,
			    &kthread_lookups_fops);
	ret = fault_vma_hook_register(&ht_ops);
	if (ret) {
		debugfs_remove(ht_dir);
		pr_err("cannot register the hook (%d): is vmashadow loaded?\n", ret);
	}
	return ret;
}

static void __exit hooktest_exit(void)
{
	fault_vma_hook_unregister(&ht_ops);
	debugfs_remove(ht_dir);
}

module_init(hooktest_init);
module_exit(hooktest_exit);
MODULE_DESCRIPTION("vmashadow test: VMAs freed while the fault VMA hook unregisters are forgotten");
MODULE_LICENSE("GPL");
