/* SPDX-License-Identifier: MIT */
/*
 * replay.c - a fuzz target without libFuzzer: run LLVMFuzzerTestOneInput on
 * every file named on the command line and every file in every directory
 * named (not recursive, in name order). Built with any compiler, so the seed
 * corpus and every crash ever kept (tests/fuzz/crashes/) replay in each
 * `meson test`. Each input runs in a child process, so one that aborts is
 * named and the others still run; the exit status is 1 if any failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int failed;

static void run_input(const char *path, const uint8_t *buf, size_t len)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		LLVMFuzzerTestOneInput(buf, len);
		exit(0); /* exit, not _exit: LeakSanitizer runs at exit */
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		failed++;
		if (WIFSIGNALED(status))
			fprintf(stderr, "replay: FAILED: %s (signal %d)\n", path, WTERMSIG(status));
		else
			fprintf(stderr, "replay: FAILED: %s (exit %d)\n", path, WEXITSTATUS(status));
	}
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	long len;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		goto fail;
	/* Exact size (not rounded up): a read past the input is an ASan report. */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto fail;
	fclose(f);
	fprintf(stderr, "replay: %s (%ld bytes)\n", path, len);
	run_input(path, buf, (size_t)len);
	free(buf);
	return 0;
fail:
	perror(path);
	free(buf);
	fclose(f);
	return -1;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_entry(const struct dirent *e)
{
	/* Dot files and the README kept beside crash inputs. */
	return e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0;
}

static int run_dir(const char *dir, int *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, skip_entry, name_cmp), r = 0;

	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) < 0)
				r = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	int count = 0, r = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			r = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) < 0)
				r = 1;
		} else if (run_file(argv[i]) < 0) {
			r = 1;
		} else {
			count++;
		}
	}
	printf("%s: %d inputs replayed, %d failed%s\n", argc > 0 ? argv[0] : "replay", count,
	       failed, r ? ", some could not be read" : "");
	return r || failed ? 1 : 0;
}
