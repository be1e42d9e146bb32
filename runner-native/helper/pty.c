/*
 * `-t`: a pseudo-terminal for the container's process.
 *
 * As in runc, the pty pair is opened by the container child *inside* the
 * container (its own devpts instance, via /dev/ptmx -> pts/ptmx), so that
 * `tty` names a device that exists in there; the child makes the slave
 * its controlling terminal and stdio, and passes the master to the helper
 * over a socketpair (SCM_RIGHTS).  The helper, still on the host side,
 * copies bytes between its own stdin/stdout and the master until the
 * child ends, and applies window sizes that the TS side writes, one
 * "ROWS COLS" line each, to fd 4.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define CONTROL_FD 4

int pty_socketpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

static void send_fd(int sock, int fd)
{
	char byte = 'm';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		fail("setup", "send pty master: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1; /* the child failed before it had a pty: its error says why */
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* In the container child, after the root is in place and before the
 * user switch (the slave is chowned to the process's user, as docker's
 * is, so it can reopen /dev/pts/N). */
void pty_setup_child(const struct config *c, int sock)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail("setup", "open /dev/ptmx: %s", strerror(errno));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail("setup", "unlock pty: %s", strerror(errno));
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail("setup", "open pty slave: %s", strerror(errno));
	/* group tty (5), mode 620: docker's devpts options */
	if (fchown(slave, c->uid, 5) < 0 || fchmod(slave, 0620) < 0)
		fail("setup", "chown pty: %s", strerror(errno));
	if (c->term_rows > 0 && c->term_cols > 0) {
		struct winsize ws = { .ws_row = (unsigned short)c->term_rows, .ws_col = (unsigned short)c->term_cols };
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	send_fd(sock, master);
	close(master);
	close(sock);
	/* a new session whose controlling terminal is the slave: job control
	 * and ^C reach the foreground process group inside the container */
	if (setsid() < 0)
		fail("setup", "setsid: %s", strerror(errno));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail("setup", "set controlling terminal: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail("setup", "dup2 pty: %s", strerror(errno));
	if (slave > 2)
		close(slave);
}

static int write_all_fd(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, 100);
			}
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "ROWS COLS\n" lines; a partial line waits for the rest */
static void apply_sizes(int master, char *buf, size_t *used)
{
	char *start = buf, *nl;
	while ((nl = memchr(start, '\n', *used - (size_t)(start - buf)))) {
		*nl = 0;
		unsigned rows = 0, cols = 0;
		if (sscanf(start, "%u %u", &rows, &cols) == 2 && rows && cols) {
			struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
			ioctl(master, TIOCSWINSZ, &ws);
		}
		start = nl + 1;
	}
	size_t rest = *used - (size_t)(start - buf);
	memmove(buf, start, rest);
	*used = rest;
}

/* Copies until the child has ended and the master has nothing more to say. */
void pty_relay(int sock, pid_t child)
{
	int master = recv_fd(sock);
	close(sock);
	if (master < 0)
		return;
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	struct stat st;
	int control = fstat(CONTROL_FD, &st) == 0 ? CONTROL_FD : -1;
	int in = 0;
	char buf[16384], sizes[256];
	size_t sizes_used = 0;
	int child_done = 0;
	while (master >= 0) {
		struct pollfd p[4] = {
			{ .fd = master, .events = POLLIN },
			{ .fd = in, .events = POLLIN },
			{ .fd = control, .events = POLLIN },
			{ .fd = child_done ? -1 : pidfd, .events = POLLIN },
		};
		/* once the child is gone, drain what it wrote, then stop */
		int r = poll(p, 4, child_done ? 0 : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (child_done)
				break;
			continue;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0)
				write_all_fd(1, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				break; /* EIO: every slave fd is closed */
		}
		if (in >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(in, buf, sizeof(buf));
			if (n > 0)
				write_all_fd(master, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				in = -1; /* the client's input ended: the container keeps its terminal */
		}
		if (control >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(control, sizes + sizes_used, sizeof(sizes) - 1 - sizes_used);
			if (n > 0) {
				sizes_used += (size_t)n;
				apply_sizes(master, sizes, &sizes_used);
				if (sizes_used >= sizeof(sizes) - 1)
					sizes_used = 0;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				control = -1;
			}
		}
		if (pidfd >= 0 && !child_done && (p[3].revents & POLLIN))
			child_done = 1;
		if (pidfd < 0 && !child_done && kill(child, 0) < 0)
			child_done = 1;
	}
	close(master);
	if (pidfd >= 0)
		close(pidfd);
}
