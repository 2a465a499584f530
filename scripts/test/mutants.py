#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The speculative fault path's checks, each removed in turn (mutation proofs).

Each mutant removes one check of patch 0011 from the kernel source with one
exact textual edit (a file, an old text that must occur exactly once, its
replacement) and names the selftest that must fail without it
(docs/spec.md, "Mutation proofs"). scripts/test/mutants.sh builds each mutant
kernel and runs the test.

  mutants.py list                      NAME FILE TEST per line
  mutants.py apply NAME SRC OUT        write the mutated FILE of SRC to OUT
"""
import sys

MUTANTS = [
    {
        "name": "range",
        "what": "the range check on the VMA copy",
        "file": "mm/memory.c",
        "old": "if (snap.vm_mm != mm || addr < snap.vm_start || addr >= snap.vm_end)",
        "new": "if (snap.vm_mm != mm) /* MUTANT: no range check */",
        "test": "spec_test:spec.spec.stale_range_after_split",
    },
    {
        "name": "pte-recheck",
        "what": "the PTE-none check under the PTE lock",
        "file": "mm/memory.c",
        "old": "\tif (!pte_none(ptep_get(ptep))) {\n\t\tret = FAULT_SPEC_FALLBACK_PTE;\n\t\tgoto unlock;\n\t}\n",
        "new": "\t/* MUTANT: no PTE recheck */\n",
        "test": "spec_test:spec.spec.same_page_faults_keep_every_write",
    },
    {
        "name": "sequence",
        "what": "the mmap_lock sequence check under the PTE lock",
        "file": "mm/memory.c",
        "old": "\treturn !mmap_lock_speculate_retry(mm, seq);",
        "new": "\treturn true; /* MUTANT: no sequence check */",
        "test": "spec_test:spec.spec.readonly_after_mprotect_returns",
    },
    {
        "name": "attached",
        "what": "the attached check under the PTE lock",
        "file": "mm/memory.c",
        "old": "\tif (!vma_is_attached(vma) || data_race(READ_ONCE(vma->vm_mm)) != mm)",
        "new": "\tif (data_race(READ_ONCE(vma->vm_mm)) != mm) /* MUTANT: no attached check */",
        "test": "spec_test:spec.spec.nothing_left_after_munmap",
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
            print(m["name"], m["file"], m["test"])
        return 0
    if len(argv) == 5 and argv[1] == "apply":
        m = find(argv[2])
        with open(f"{argv[3]}/{m['file']}") as f:
            text = f.read()
        n = text.count(m["old"])
        if n != 1:
            sys.exit(f"mutants.py: {m['name']}: the text to replace occurs {n} times in {m['file']}, "
                     "not once: the series changed, update the mutant")
        with open(argv[4], "w") as f:
            f.write(text.replace(m["old"], m["new"]))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
