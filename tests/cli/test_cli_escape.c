/* SPDX-License-Identifier: MIT */
/*
 * test_cli_escape.c - a client process names itself with terminal escape
 * sequences (prctl PR_SET_NAME: any user can) and holds a region; the text
 * that root's contigctl clients and contigctl regions print must not carry
 * them to the terminal (no ESC, no BEL, nothing but printable ASCII and
 * newlines), while --json still reports the name exactly.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "harness.h"
#include "jcheck.h"
#include "json.h"

/* 15 bytes at most: the kernel keeps TASK_COMM_LEN - 1. */
static const char evil_comm[] = "\x1b]0;pwn\x07\x1b[2J\2331m"; /* \233: 8-bit CSI */

static struct daemon_proc d;
static pid_t client = -1;
static int go_w = -1;

/* The client: rename, allocate, say so, hold until the parent closes go. */
static void client_main(int ready_w, int go_r)
{
	char ch;

	prctl(PR_SET_NAME, evil_comm);
	void *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	ch = p ? 'x' : 'F';
	if (write(ready_w, &ch, 1) != 1)
		_exit(2);
	while (read(go_r, &ch, 1) > 0)
		;
	_exit(0);
}

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "16M", NULL };
	int ready[2], go[2];
	char ch = 0;

	(void)state;
	if (daemon_start(&d, args) < 0)
		return -1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return -1;
	client = fork();
	if (client < 0)
		return -1;
	if (client == 0) {
		close(ready[0]);
		close(go[1]);
		client_main(ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	go_w = go[1];
	if (read(ready[0], &ch, 1) != 1)
		ch = 0;
	close(ready[0]);
	return ch == 'x' ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (go_w >= 0)
		close(go_w);
	if (client > 0)
		waitpid(client, NULL, 0);
	return daemon_stop(&d) == 0 ? 0 : -1;
}

static void expect_clean_text(const char *cmd)
{
	const char *const args[] = { "--socket", d.socket, cmd, NULL };
	struct ctl_out r;

	assert_int_equal(ctl_run(&r, NULL, args), 0);
	if (r.status || r.err[0])
		fail_msg("contigctl %s: exit %d, stderr %s", cmd, r.status, r.err);
	for (const char *p = r.out; *p; p++)
		if (*p != '\n' && (*p < 0x20 || *p >= 0x7f))
			fail_msg("contigctl %s printed byte %#x at offset %zu", cmd,
				 (unsigned char)*p, (size_t)(p - r.out));
	/* The client is listed, its name made harmless. */
	if (!strstr(r.out, "?]0;pwn??[2J"))
		fail_msg("contigctl %s does not list the client:\n%s", cmd, r.out);
	ctl_free(&r);
}

static void test_clients_text(void **state)
{
	(void)state;
	expect_clean_text("clients");
}

static void test_regions_text(void **state)
{
	(void)state;
	expect_clean_text("regions");
}

static void test_json_exact(void **state)
{
	const char *const args[] = { "--socket", d.socket, "regions", "--json", NULL };
	struct ctl_out r;
	struct json *j;
	char err[256];

	(void)state;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	j = json_parse(r.out, err, sizeof(err));
	if (!j)
		fail_msg("regions --json: %s", err);
	const struct json *a = j_arr(j, "regions");
	assert_int_equal(a->n, 1);
	/* Up to the 8-bit CSI, which JSON carries as U+009B. */
	assert_memory_equal(j_str(&a->items[0], "comm"), evil_comm, 12);
	json_free(j);
	ctl_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_text),
		cmocka_unit_test(test_regions_text),
		cmocka_unit_test(test_json_exact),
	};

	return cmocka_run_group_tests_name("contigctl-escape", tests, setup, teardown);
}
