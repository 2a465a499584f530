#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The speculative fault path's checks, each removed in turn (mutation proofs).

Each mutant removes one check of patches 0011, 0014, 0016, 0017 and 0021 from
the kernel source with exact textual edits in one file (an old text that
must occur exactly once, its replacement; "edits" when a check is made in
two places) and names the selftests that must fail without it
(docs/spec.md, "Mutation proofs").
scripts/test/mutants.sh builds each mutant kernel and runs the tests.

  mutants.py list                      NAME FILE BINARY:TEST[,TEST...] FLAVOUR per line
                                       (BINARY test-kcsan: make test-kcsan must
                                       report a race in the function TEST)
  mutants.py apply NAME SRC OUT        write the mutated FILE of SRC to OUT
"""
import sys

MUTANTS = [
    {
        "name": "range",
        "what": "the range check on the VMA copy",
        "file": "mm/memory.c",
        "old": "if (v->vm_mm != mm || addr < v->vm_start || addr >= v->vm_end)",
        "new": "if (v->vm_mm != mm) /* MUTANT: no range check */",
        "test": "spec_test:spec.spec.stale_range_after_split",
    },
    {
        "name": "pte-recheck",
        "what": "the PTE recheck under the PTE lock, for a fault at a none PTE",
        "file": "mm/memory.c",
        "old": "\tif (!pte_same(ptep_get(ptep), orig)) {\n",
        "new": "\tif (!pte_none(orig) && !pte_same(ptep_get(ptep), orig)) { /* MUTANT */\n",
        "test": "spec_test:spec.spec.same_page_faults_keep_every_write",
    },
    {
        "name": "pte-recheck-cow",
        "what": "the PTE recheck under the PTE lock, for a copy-on-write fault",
        "file": "mm/memory.c",
        "old": "\tif (!pte_same(ptep_get(ptep), orig)) {\n",
        "new": "\tif (pte_none(orig) && !pte_same(ptep_get(ptep), orig)) { /* MUTANT */\n",
        "test": "spec_test:spec.spec.same_page_cow_keeps_every_write",
    },
    {
        "name": "sequence",
        "what": "the mmap_lock sequence check under the PTE lock",
        "file": "mm/memory.c",
        "old": "\treturn !mmap_lock_speculate_retry(mm, seq) && !should_fail_fault_spec();",
        "new": "\treturn !should_fail_fault_spec(); /* MUTANT: no sequence check */",
        "test": "spec_test:spec.spec.readonly_after_mprotect_returns,"
                "spec.spec.readonly_after_mprotect_returns_cow",
    },
    {
        # The positive control of make test-kcsan: a data race on the
        # mm, in the speculative path, between the faults of two threads.
        # Without barrier() the compiler would fold the loop into one
        # add, and KCSAN would have one access a fault to watch.
        "name": "kcsan-control",
        "what": "a data race in the speculative path (make test-kcsan's positive control)",
        "file": "mm/memory.c",
        "old": "\tRCU_LOCKDEP_WARN(!rcu_read_lock_held(), \"speculative fault outside RCU\");\n",
        "new": "\tRCU_LOCKDEP_WARN(!rcu_read_lock_held(), \"speculative fault outside RCU\");\n"
               "\tfor (int i = 0; i < 32; i++) { /* MUTANT: a data race */\n"
               "\t\tmm->hiwater_vm++;\n\t\tbarrier();\n\t\tmm->hiwater_vm--;\n\t\tbarrier();\n\t}\n",
        "test": "test-kcsan:fault_vma_speculate",
        "flavour": "kcsan",
    },
    {
        "name": "attached",
        "what": "the attached check under the PTE lock",
        "file": "mm/memory.c",
        "old": "\tif (!vma_is_attached(vma) || data_race(READ_ONCE(vma->vm_mm)) != mm)",
        "new": "\tif (data_race(READ_ONCE(vma->vm_mm)) != mm) /* MUTANT: no attached check */",
        "test": "spec_test:spec.spec.nothing_left_after_munmap",
    },
    {
        # The guess before the PTE lock and the decision under it: without
        # the guess's reference count a referenced page is planned as a
        # reuse, without wp_can_reuse_anon_folio() it is reused.
        "name": "reuse-refcount",
        "what": "the reuse checks (the reference count before the PTE lock, "
                "wp_can_reuse_anon_folio() under it)",
        "file": "mm/memory.c",
        "edits": [
            ("\tif (PageAnonExclusive(page) ||\n\t    folio_ref_count(folio) <= 1 + !folio_test_lru(folio) +\n"
             "\t\t\t\t      folio_test_swapcache(folio))\n\t\treturn SPEC_WP_REUSE;\n",
             "\treturn SPEC_WP_REUSE; /* MUTANT: no reference count */\n"),
            ("\t\tif (!wp_can_reuse_anon_folio(folio, snap))\n\t\t\treturn false;\n",
             "\t\t/* MUTANT: no wp_can_reuse_anon_folio() */\n"),
        ],
        "test": "spec_test:spec.spec.vmspliced_page_is_copied_not_reused",
    },
    {
        "name": "file-validate",
        "what": "the validation of a speculative file fault under the PTE lock",
        "file": "mm/filemap.c",
        "old": "\tif (unlikely(vmf->flags & FAULT_FLAG_SPECULATIVE) &&\n\t    !fault_spec_validate(vmf)) {\n",
        "new": "\tif (0 && !fault_spec_validate(vmf)) { /* MUTANT: no validation */\n",
        "test": "spec_test:spec.spec.file_remap_never_shows_old_file",
    },
    {
        "name": "finish-pte-same",
        "what": "the check that the PTE is still the one a page was prepared for, "
                "when a fault that failed validation is finished under the VMA lock",
        "file": "mm/memory.c",
        "old": "\tif (!pte_same(ptep_get(ptep), prep->orig) ||\n\t    check_stable_address_space(mm) ||\n",
        "new": "\tif (check_stable_address_space(mm) || /* MUTANT: no PTE check */\n",
        "test": "spec_test:spec.spec.same_page_faults_keep_every_write_failing_validation",
    },
]


def find(name):
    for m in MUTANTS:
        if m["name"] == name:
            return m
    sys.exit(f"mutants.py: no mutant '{name}' (known: {' '.join(m['name'] for m in MUTANTS)})")


def main(argv):
    if len(argv) == 2 and argv[1] == "list":
        for m in MUTANTS:
            print(m["name"], m["file"], m["test"], m.get("flavour", "debug"))
        return 0
    if len(argv) == 5 and argv[1] == "apply":
        m = find(argv[2])
        with open(f"{argv[3]}/{m['file']}") as f:
            text = f.read()
        for old, new in m.get("edits", [(m.get("old"), m.get("new"))]):
            n = text.count(old)
            if n != 1:
                sys.exit(f"mutants.py: {m['name']}: the text to replace occurs {n} times in "
                         f"{m['file']}, not once: the series changed, update the mutant")
            text = text.replace(old, new)
        with open(argv[4], "w") as f:
            f.write(text)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
