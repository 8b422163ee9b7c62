/* SPDX-License-Identifier: MIT */
/*
 * main.c - contigd: settings, the pool reservation, the listening socket
 * (bound here or passed by systemd), signals and timers, then the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "backing.h"
#include "config.h"
#include "dispatch.h"
#include "hugetlb.h"
#include "log.h"
#include "reserve.h"
#include "restart.h"
#include "server.h"
#include "settings.h"
#include "start_watch.h"

static struct server srv;
static struct restart rs;
static struct settings arg;
static const char *arg_config;
static bool socket_ours;
static bool arg_no_pin;              /* bound by us (not systemd): unlink at exit */
static struct loop_source signal_src, timer_src, quarantine_src, reclaim_src;
static uint64_t quarantine_armed; /* deadline the quarantine timer is set to */
static uint64_t ticks;
static bool listen_paused;
static bool kept;                    /* systemd's fd store holds the daemon (restart.h) */
/* CONTIG_DEBUG_CHECK=1 (the test suite sets it): check every invariant of
 * the pool and the sessions after every loop turn, and abort at the first
 * broken one. */
static bool arg_debug_check;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: contigd [OPTIONS]\n"
		"Serve physically contiguous, zeroed hugepage memory to local clients.\n\n"
		"  --socket PATH          listening socket (default %s)\n"
		"  --pool SIZE            pool size, K/M/G suffixes (default 256M)\n"
		"  --page-size 2M|1G      hugepage size (default 2M)\n"
		"  --low-pool SIZE@CEIL   hold at least SIZE below physical address CEIL\n"
		"  --config FILE          read settings from FILE (command line wins)\n"
		"  --threads N            start-up fault-in threads (default: one per CPU)\n"
		"  --log-level LEVEL      err, warning, notice, info or debug\n"
		"  --no-raise             never raise vm.nr_hugepages\n"
		"  --no-pin               do not pin pages against migration (to measure)\n"
		"  -h, --help             this text\n",
		SETTINGS_DEFAULT_SOCKET);
}

enum { OPT_SOCKET = 256, OPT_POOL, OPT_PAGE_SIZE, OPT_LOW_POOL, OPT_CONFIG, OPT_THREADS,
       OPT_LOG_LEVEL, OPT_NO_RAISE, OPT_NO_PIN };

static const struct option options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "pool", required_argument, NULL, OPT_POOL },
	{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
	{ "low-pool", required_argument, NULL, OPT_LOW_POOL },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "no-raise", no_argument, NULL, OPT_NO_RAISE },
	{ "no-pin", no_argument, NULL, OPT_NO_PIN },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Apply one command-line option; the same value checks as the config file
 * (config_apply), so both reject the same things with the same words. */
static int apply_option(int c, const char *val)
{
	static const char *const key[] = {
		[OPT_SOCKET - OPT_SOCKET] = "socket", [OPT_POOL - OPT_SOCKET] = "pool",
		[OPT_PAGE_SIZE - OPT_SOCKET] = "page-size", [OPT_LOW_POOL - OPT_SOCKET] = "low-pool",
		[OPT_THREADS - OPT_SOCKET] = "threads", [OPT_LOG_LEVEL - OPT_SOCKET] = "log-level",
	};
	char err[256];

	if (c == OPT_CONFIG)
		return 0;
	if (c == OPT_NO_PIN) {
		arg_no_pin = true;
		return 0;
	}
	if (c == OPT_NO_RAISE)
		return config_apply(&arg, "raise-hugepages", "no", err, sizeof(err));
	if (config_apply(&arg, key[c - OPT_SOCKET], val, err, sizeof(err)) < 0) {
		log_err("--%s %s: %s", key[c - OPT_SOCKET], val, err);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv)
{
	char err[512];
	int c;

	/* First pass: only --config and --help, so the file is read before the
	 * command line overrides it. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == OPT_CONFIG)
			arg_config = optarg;
	}
	settings_default(&arg);
	if (arg_config && config_load(arg_config, &arg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == '?') {
			usage(stderr);
			return -EINVAL;
		}
		if (apply_option(c, optarg) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Refuse to take over the socket of a daemon that is alive. */
static int socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(arg.socket)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16, asm-generic/socket.h */
#endif

/* Clients never send fds: have the kernel refuse them at sendmsg (accepted
 * sockets inherit it), so none is ever installed in our table, where even
 * its close could block the loop (fdreap.h). Older kernels lack it; the
 * session code then hands what arrives to the reaper. */
static void refuse_fds(int fd)
{
	int off = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) < 0)
		log_notice("SO_PASSRIGHTS: %s; fds clients send are closed off the loop instead",
			   strerror(errno));
}

static int listen_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	/* Socket activation, or ours from systemd's fd store (restart.c). */
	if (rs.listen_fd >= 0) {
		fd = rs.listen_fd;
		rs.listen_fd = -1;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
			log_err("the socket systemd passed is not a listening SOCK_SEQPACKET unix socket");
			close(fd);
			return -EINVAL;
		}
		/* Activated sockets come blocking and without CLOEXEC. */
		(void)!fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)!fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		log_info("listening on the socket passed by systemd");
		return fd;
	}

	if (strlen(arg.socket) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, arg.socket);
	r = mkdir_parent(arg.socket);
	if (r < 0) {
		log_err("cannot create the directory of %s: %s", arg.socket, strerror(-r));
		return r;
	}
	if (socket_in_use(&sa)) {
		log_err("%s: another contigd is serving this socket", arg.socket);
		return -EADDRINUSE;
	}
	unlink(arg.socket);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(arg.socket, 0660) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		log_err("%s: %s", arg.socket, strerror(-r));
		return r;
	}
	if (arg.socket_group[0]) {
		struct group *g = getgrnam(arg.socket_group);
		if (!g || chown(arg.socket, (uid_t)-1, g->gr_gid) < 0)
			log_warn("cannot give %s to group %s", arg.socket, arg.socket_group);
	}
	socket_ours = true;
	return fd;
}

/* Members of the group that owns the socket file may allocate: the one of
 * socket-group, or the one systemd gave it (SocketGroup=). */
static void socket_group_access(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct stat st;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || len <= sizeof(sa_family_t) ||
	    !sa.sun_path[0])
		return;
	sa.sun_path[sizeof(sa.sun_path) - 1] = 0;
	if (stat(sa.sun_path, &st) < 0 || st.st_gid == 0)
		return;
	srv.access.socket_gid = st.st_gid;
	srv.access.socket_gid_set = true;
	log_info("members of gid %u (the socket's group) may allocate", (unsigned)st.st_gid);
}

/* A session costs one fd and a pool page one: the soft limit (1024 by
 * default, for select(2)'s sake, which we do not use) goes up to the hard
 * one. What happens at the limit: server.c, refuse_at_fd_limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_listen(struct loop_source *src, uint32_t events)
{
	(void)src;
	(void)events;
	for (int i = 0; i < 16; i++) {
		int r = server_accept(&srv);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			/* Out of fds: the pending connection would wake a
			 * level-triggered loop forever. Stop listening until the
			 * next timer tick (a second) and say so once. */
			if (!listen_paused)
				log_warn("accept: %s; pausing new connections for a second",
					 strerror(-r));
			listen_paused = true;
			loop_set(&srv.loop, &srv.listen_src, 0);
			break;
		}
	}
}

static void notify_status(void)
{
	struct pool_figures info;

	pool_figures(&srv.pool, EXTENT_NODE_ANY, &info);
	sd_notifyf(0, "STATUS=pool %" PRIu64 " MiB, %" PRIu64 " MiB free, largest run %" PRIu64
		   " MiB, %u sessions",
		   info.total_bytes >> 20, info.free_bytes >> 20, info.largest_free_run >> 20,
		   srv.nsessions);
}

static void on_reclaim(struct loop_source *src, uint32_t events)
{
	(void)src;
	(void)events;
	if (pool_reclaim_collect(&srv.pool))
		server_retry_parked(&srv);
}

static struct loop_source repair_src;
static bool repair_src_added;

static void on_repair(struct loop_source *src, uint32_t events)
{
	struct repair_result rr;
	char a[32], b[32];

	(void)src;
	(void)events;
	if (repair_apply(&srv.repair, &srv.pool, &rr) < 0)
		return;
	log_info("repair: looked at %u spare hugepages (%" PRIu64 " ms), swapped %u free pages: "
		 "%u runs, largest %s -> %u runs, largest %s",
		 rr.looked, rr.harvest_ns / 1000000, rr.swapped, rr.runs_before,
		 human((uint64_t)rr.largest_before * srv.pool.page_size, a, sizeof(a)), rr.runs_after,
		 human((uint64_t)rr.largest_after * srv.pool.page_size, b, sizeof(b)));
	if (rr.swapped)
		server_retry_parked(&srv);
}

/* Start a repair round (repair.h says when one is due). */
static void start_repair(void)
{
	int r;

	if (!srv.repair.want) {
		log_info("repair: not run (oversample = 0, or no spare free hugepages)");
		return;
	}
	r = repair_start(&srv.repair, &srv.pool);
	/* One eventfd serves every round: watched from the first one on. */
	if (r == 0 && !repair_src_added && repair_fd(&srv.repair) >= 0) {
		r = loop_add(&srv.loop, &repair_src, repair_fd(&srv.repair), EPOLLIN, on_repair);
		repair_src_added = r == 0;
	}
	if (r < 0)
		log_warn("repair: not started: %s", strerror(-r));
}

static void on_signal(struct loop_source *src, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char err[512];
			/* New limits apply to what clients keep stashed as
			 * well: take it all back first (the log line that
			 * says the reload is done comes after). */
			server_take_stashes(&srv);
			if (!arg_config)
				log_info("SIGHUP: no --config file, nothing to re-read");
			else if (config_reload(arg_config, &arg, err, sizeof(err)) < 0)
				log_err("SIGHUP: %s; nothing changed", err);
			else
				config_apply_live(&arg, &srv);
			continue;
		}
		if (si.ssi_signo == SIGUSR1) {
			/* On-demand audit of every page's physical address. */
			uint32_t moved = pool_audit(&srv.pool);
			log_info("audit: %u of %u pages checked moved", moved, srv.pool.npages);
			continue;
		}
		log_info("signal %u: stopping", si.ssi_signo);
		srv.loop.stop = true;
	}
}

static void on_timer(struct loop_source *src, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(src->fd, &n, sizeof(n)) != sizeof(n))
		return;
	ticks += n;
	server_expire_silent(&srv, now_ns());
	(void)server_take_idle_stashes(&srv);
	if (repair_idle_due(&srv.repair, &srv.pool, now_ns(), srv.last_request_ns))
		start_repair();
	if (listen_paused) {
		listen_paused = false;
		loop_set(&srv.loop, &srv.listen_src, EPOLLIN);
	}
	if (pool_retry_lost(&srv.pool))
		log_info("retrying the reclaim of lost pages");
	/* The whole pool once per audit-interval, a slice per second. */
	if (arg.audit_interval_s)
		pool_audit_step(&srv.pool, (srv.pool.npages + arg.audit_interval_s - 1) /
						   arg.audit_interval_s);
	notify_status();
	sd_notify(0, "WATCHDOG=1");
}

static void quarantine_arm(uint64_t deadline)
{
	struct itimerspec its = { 0 };

	if (deadline == quarantine_armed)
		return;
	its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	/* deadline 0 disarms */
	timerfd_settime(quarantine_src.fd, TFD_TIMER_ABSTIME, &its, NULL);
	quarantine_armed = deadline;
}

static void on_quarantine_timer(struct loop_source *src, uint32_t events)
{
	uint64_t n;

	(void)events;
	(void)!read(src->fd, &n, sizeof(n));
	quarantine_armed = 0;
	quarantine_arm(pool_quarantine_expire(&srv.pool, now_ns()));
}

static void on_turn_end(struct loop *l)
{
	(void)l;
	/* The order restart.h explains: files and state, replies, removals. */
	restart_persist(&rs, &srv);
	server_unmark_stashes(&srv);
	conn_outbox_flush(&srv.outbox);
	restart_after_replies(&rs);
	server_reap(&srv);
	/* A session that died this turn may have put pages in quarantine. */
	if (pool_quarantine_waiting(&srv.pool) && !quarantine_armed)
		quarantine_arm(pool_quarantine_expire(&srv.pool, now_ns()));
	pool_reclaim_kick(&srv.pool);
	if (arg_debug_check) {
		char why[256];
		if (pool_check(&srv.pool, why, sizeof(why)) < 0 ||
		    server_check(&srv, why, sizeof(why)) < 0) {
			log_err("CONTIG_DEBUG_CHECK: %s", why);
			abort();
		}
	}
}

/*
 * Start-up: the reserve and the dig run before the loop exists, for up to
 * minutes. Between pages (start_watch.h) they call startup_tick, from any
 * fault thread: it takes a pending SIGTERM/SIGINT with sigtimedwait (they
 * are blocked everywhere, so nothing else would), and at most once a second
 * tells systemd how far it got (STATUS=) and that it is alive and
 * progressing (EXTEND_TIMEOUT_USEC=, WATCHDOG=1). A tick that finds another
 * thread inside it returns at once.
 */
#define STARTUP_EXTEND_USEC 15000000u /* more than any gap between two ticks */

static struct {
	pthread_mutex_t lock;
	bool stop;                   /* atomic: a stop was asked for */
	uint64_t t0_ns, sent_ns;
	char phase[128];             /* the phase last sent */
	char file[sizeof(arg.socket) + 32]; /* progress for contigctl, or "" */
} startup = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* contigctl status reads this while the socket does not answer yet (the
 * socket is bound only once the pool is reserved): DIR/contigd.starting,
 * "pid= done= total= phase=", replaced by rename, removed at READY or exit. */
static void startup_file(uint64_t done, uint64_t total, const char *phase)
{
	char tmp[sizeof(startup.file) + 8];
	FILE *f;

	if (!startup.file[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.new", startup.file);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "pid=%d done=%" PRIu64 " total=%" PRIu64 " phase=%s\n", (int)getpid(), done,
		total, phase);
	if (fclose(f) != 0 || rename(tmp, startup.file) < 0)
		unlink(tmp);
}

static bool startup_tick(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	static const struct timespec zero;
	sigset_t stop_set;
	uint64_t now;
	int sig;

	(void)ctx;
	if (__atomic_load_n(&startup.stop, __ATOMIC_RELAXED))
		return false;
	if (pthread_mutex_trylock(&startup.lock) != 0)
		return true;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sig = sigtimedwait(&stop_set, NULL, &zero);
	now = now_ns();
	if (sig > 0) {
		log_notice("%s during start-up (%s: %" PRIu64 " of %" PRIu64 " pages after %" PRIu64
			   " ms): stopping, giving every page back", strsignal(sig), phase, done, total,
			   (now - startup.t0_ns) / 1000000);
		sd_notify(0, "STOPPING=1\nSTATUS=stopping during start-up");
		__atomic_store_n(&startup.stop, true, __ATOMIC_RELAXED);
	} else if (strcmp(phase, startup.phase) || now - startup.sent_ns >= 1000000000u) {
		snprintf(startup.phase, sizeof(startup.phase), "%s", phase);
		startup.sent_ns = now;
		startup_file(done, total, phase);
		sd_notifyf(0, "STATUS=starting: %s: %" PRIu64 " of %" PRIu64 " pages, %" PRIu64
			   " s\nEXTEND_TIMEOUT_USEC=%u\nWATCHDOG=1", phase, done, total,
			   (now - startup.t0_ns) / 1000000000u, STARTUP_EXTEND_USEC);
	}
	pthread_mutex_unlock(&startup.lock);
	return sig <= 0;
}

static const struct start_watch startup_watch = { .tick = startup_tick };

/* The record of nr_hugepages raises (hugetlb.h) lives beside the socket:
 * /run/contigd under systemd (RuntimeDirectory=). A resumed pool keeps the
 * raises that got it (adopt). */
static int startup_ledger(bool adopt)
{
	char dir[sizeof(arg.socket)];
	char *slash;
	int r;

	snprintf(dir, sizeof(dir), "%s", arg.socket);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	r = mkdir_parent(arg.socket);
	if (r == 0)
		r = adopt ? hugetlb_ledger_adopt(dir) : hugetlb_ledger_open(dir);
	if (r >= 0)
		snprintf(startup.file, sizeof(startup.file), "%s/contigd.starting", dir);
	if (r == -EBUSY)
		return r;
	if (r < 0)
		log_warn("%s/" HUGETLB_RECORD_NAME ": %s; nr_hugepages raised by a contigd that "
			 "dies is not put back", dir, strerror(-r));
	return 0;
}

static void handled_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
}

static int setup_sources(void)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t mask;
	int fd, r;

	handled_signals(&mask);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if ((r = loop_add(&srv.loop, &signal_src, fd, EPOLLIN, on_signal)) < 0)
		return r;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
		return -errno;
	if ((r = loop_add(&srv.loop, &timer_src, fd, EPOLLIN, on_timer)) < 0)
		return r;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if ((r = loop_add(&srv.loop, &quarantine_src, fd, EPOLLIN, on_quarantine_timer)) < 0)
		return r;
	return loop_add(&srv.loop, &reclaim_src, pool_reclaim_fd(&srv.pool), EPOLLIN,
			on_reclaim);
}

int main(int argc, char **argv)
{
	struct backing_linux bl = { .pagemap_fd = -1 };
	int r, status = 1;

	sigset_t mask;

	/* Blocked before any thread exists, so every thread inherits the mask
	 * and the signals are only ever read from the loop's signalfd. */
	handled_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_init();
	if (parse_args(argc, argv) < 0)
		return 2;
	log_max_level = arg.log_level;
	arg_debug_check = secure_getenv("CONTIG_DEBUG_CHECK") != NULL;
	raise_fd_limit();

	server_init(&srv, &dispatch_handlers);
	srv.limits = arg.limits;
	srv.access = arg.access;
	server_set_cgroup_limits(&srv, &arg.cgroup_limits);
	if (loop_init(&srv.loop) < 0)
		return 1;
	srv.loop.turn_end = on_turn_end;

	startup.t0_ns = now_ns();
	/* systemd's fd store: resume the pool and the sessions from it, or
	 * start cold (restart.h). */
	if (restart_load(&rs)) {
		if (startup_ledger(true) < 0)
			goto out;
		if (restart_resume(&rs, &srv, &arg, &bl, arg_no_pin) < 0)
			restart_cold(&rs);
	} else {
		restart_cold(&rs);
		if (startup_ledger(false) < 0)
			goto out;
	}
	if (!rs.restored) {
		(void)startup_tick(NULL, "checking the hugepage pool", 0, 0);
		r = reserve_pool(&srv.pool, &bl, &arg, arg_no_pin, &startup_watch);
		if (__atomic_load_n(&startup.stop, __ATOMIC_RELAXED)) {
			status = 0; /* a stop asked for is a clean exit, even now */
			goto out;
		}
		if (r < 0)
			goto out;
	}
	repair_init(&srv.repair, srv.pool.oversample, arg.repair_idle_s);
	r = listen_socket();
	if (r < 0)
		goto out;
	srv.listen_fd = r;
	refuse_fds(srv.listen_fd);
	socket_group_access(srv.listen_fd);
	if ((r = fdreap_start(&srv.fdreap)) < 0) {
		log_err("fd reaper thread: %s", strerror(-r));
		goto out;
	}
	if ((r = restart_open_store(&rs, &srv)) < 0) {
		log_err("systemd's fd store: %s", strerror(-r));
		goto out;
	}
	if ((r = loop_add(&srv.loop, &srv.listen_src, srv.listen_fd, EPOLLIN, on_listen)) < 0 ||
	    (r = setup_sources()) < 0) {
		log_err("event loop: %s", strerror(-r));
		goto out;
	}
	if (startup.file[0])
		unlink(startup.file);
	sd_notify(0, "READY=1");
	notify_status();
	log_info("ready on %s%s", socket_ours ? arg.socket : "the systemd socket",
		 rs.restored ? " (resumed)" : "");
	srv.last_request_ns = now_ns();
	start_repair();

	r = loop_run(&srv.loop);
	sd_notify(0, "STOPPING=1");
	status = r < 0 ? 1 : 0;
	/* Everything into systemd's fd store: the next contigd resumes it, and
	 * the sessions stay connected meanwhile (nothing is revoked here
	 * anyway: clients keep what they map). */
	kept = restart_stop(&rs, &srv);
	srv.handed_over = kept;
out:
	server_close_all(&srv);
	server_fini(&srv);
	repair_stop(&srv.repair);
	fdreap_stop(&srv.fdreap);
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	/* Kept in the fd store, the socket is the next contigd's: the store
	 * holds it and the pool's files until it starts, or until systemd
	 * empties the store at a stop for good. */
	if (socket_ours && !kept)
		unlink(arg.socket);
	pool_destroy(&srv.pool);
	backing_linux_close(&bl);
	/* Every page is given back: now nr_hugepages can go back too. Handed
	 * over, the pages the store holds become surplus (freed to the kernel
	 * if the store is emptied), and the record tells the next contigd to
	 * raise again. */
	if (!kept)
		hugetlb_restore_all();
	else
		hugetlb_hand_over();
	restart_fini(&rs);
	if (startup.file[0])
		unlink(startup.file);
	if (__atomic_load_n(&startup.stop, __ATOMIC_RELAXED))
		log_info("stopped during start-up after %" PRIu64 " ms",
			 (now_ns() - startup.t0_ns) / 1000000);
	loop_fini(&srv.loop);
	return status;
}
