// SPDX-License-Identifier: GPL-2.0
/*
 * Mark the coherence plugin's windows from a guest shell
 * (tools/coherence/README.md):
 *
 *   cohctl start|stop|dump|reset [TAG]    one magic instruction
 *   cohctl run [TAG] -- CMD [ARG...]      start, run CMD, stop; CMD's status
 *
 * TAG (0-255, default 0) is written into the window's report. The magic
 * instruction, nopl 0x4f4fTTCC(%rax), is assembled at run time in an
 * executable page; without the plugin it is a NOP.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void magic(int cmd, int tag)
{
	static unsigned char *page;
	unsigned char code[] = { 0x0f, 0x1f, 0x80, cmd, tag, 0x4f, 0x4f, 0xc3 /* ret */ };

	if (!page) {
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED) {
			perror("cohctl: mmap");
			exit(1);
		}
	}
	memcpy(page, code, sizeof(code));
	__builtin___clear_cache((char *)page, (char *)page + sizeof(code));
	((void (*)(void))page)();
}

static int usage(void)
{
	fprintf(stderr, "usage: cohctl start|stop|dump|reset [TAG]\n"
			"       cohctl run [TAG] -- CMD [ARG...]\n"
			"TAG: 0 to 255 (default 0)\n");
	return 2;
}

static int parse_tag(const char *s, int *tag)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < 0 || v > 255)
		return -1;
	*tag = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const cmds[] = { "start", "stop", "dump", "reset" };
	int tag = 0;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run")) {
		int i = 2, status;
		pid_t pid;

		if (i < argc && strcmp(argv[i], "--")) {
			if (parse_tag(argv[i], &tag))
				return usage();
			i++;
		}
		if (i >= argc || strcmp(argv[i], "--") || i + 1 >= argc)
			return usage();
		magic(1, tag);
		pid = fork();
		if (pid == 0) {
			execvp(argv[i + 1], argv + i + 1);
			perror("cohctl: exec");
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("cohctl");
			magic(2, tag);
			return 1;
		}
		magic(2, tag);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	for (int c = 0; c < 4; c++) {
		if (strcmp(argv[1], cmds[c]))
			continue;
		if (argc > 3 || (argc == 3 && parse_tag(argv[2], &tag)))
			return usage();
		magic(c + 1, tag);
		return 0;
	}
	return usage();
}
