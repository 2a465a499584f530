// SPDX-License-Identifier: GPL-2.0
/*
 * vmashadow_bench: one page-fault benchmark scenario per invocation.
 *
 *   vmashadow_bench SCENARIO [--threads N] [--seconds S] [--pages P]
 *                            [--variant V] [--writer-pages W] [--latency]
 *                            [--vmas K] [--case C] [--rounds R]
 *                            [--counter auto|perf|clock] [--icount] [--mb M]
 *                            [--settle MS]
 *   vmashadow_bench --list   the scenarios, one a line
 *
 * Scenarios:
 *   contended      N threads fault their own private regions while a writer
 *                  thread churns the address space (variant munmap: mmap,
 *                  touch, munmap W pages; variant mprotect: flip the middle
 *                  half of a populated W-page region between RO and RW,
 *                  splitting and merging its VMA).
 *   uncontended    one faulting thread, no writer.
 *   scale          N threads fault disjoint slices of one large VMA.
 *   kernel-faults  N threads pread() a file into a freshly zapped buffer, so
 *                  the faults are taken in kernel mode by copy_to_user; plus
 *                  a writer, as for contended.
 *   churn          N threads (default 1) each mmap P pages, write them, munmap
 *                  them, repeat: the writer alone, whose cost an index pays
 *                  twice per VMA (it learns the VMA on its first fault and
 *                  forgets it when it is freed); --vmas K first maps K more
 *                  one-page VMAs and faults them, so the index is not tiny.
 *   path           one thread, what one fault costs in instructions (see
 *                  run_path()): case user (write faults), kernel (pread()
 *                  into a zapped buffer), newvma (the first fault of a fresh
 *                  VMA), churn (mmap, write, munmap), or all four, with K
 *                  (--vmas) other faulted one-page VMAs in the process.
 *   page_fault1    will-it-scale's: N tasks (--variant threads|processes)
 *                  each mmap M MiB of private anonymous memory, write one
 *                  byte per page, munmap, repeat; ops = pages written.
 *   page_fault2    the same on a private mapping of a tmpfs (memfd) file.
 *   page_fault3    the same on a shared mapping of a tmpfs (memfd) file.
 *   pft            mmtests' pft: N threads fault disjoint slices of one fresh
 *                  M MiB anonymous region, which is then unmapped; faults/s
 *                  over the time the threads spend faulting.
 *
 * Every fault loop writes one byte per page (a read fault would only map the
 * zero page), then zaps the pages with MADV_DONTNEED and starts over. Faults
 * are counted by the kernel (getrusage(RUSAGE_THREAD)), not by the loop: a
 * run whose kernel count is below half the pages it touched fails, because
 * a benchmark that silently measures nothing is worse than none.
 *
 * Output, one line per metric:
 *   RESULT scenario=S variant=V threads=N metric=M unit=U value=X
 *          faults=F touched=T
 * (path: variant=CASE-vmasK, metric insn_per_fault, or ns_per_fault when
 * the only counter is a real clock; page_fault*: ops_per_task_per_sec;
 * the others: faults_per_sec and more)
 * and one line of diagnostics on where the time went (see report_diag()):
 *   DIAG scenario=S variant=V threads=N key=value...
 * This program does not know about the vmashadow module: the wrapper script
 * switches modes around it.
 *
 * The program's files, the harness and one a scenario family: bench.h.
 */
#include "bench.h"

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	page_size = sysconf(_SC_PAGESIZE);
	if (page_size <= 0) {
		perror("sysconf(_SC_PAGESIZE)");
		return 1;
	}
	switch (cfg.scenario) {
	case SC_PATH:
		return run_path();
	case SC_PF1:
	case SC_PF2:
	case SC_PF3:
		return run_wis();
	case SC_PFT:
		return run_pft();
	case SC_PROCS:
		return run_procs();
	default:
		return run_threads();
	}
}
