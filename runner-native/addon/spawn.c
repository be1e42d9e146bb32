// spawn(argv, sockets) and reap(pid): a helper process started without
// copying this one (runner-native/helper-process.ts).
//
// Node's child_process forks: this thread copies the page tables of the
// whole process (a build's ~60 MB: 2-3 ms), and every page written after
// it faults once more. Here the child runs in this process's memory until
// it execs (clone with CLONE_VM and CLONE_VFORK, as posix_spawn does), so
// nothing is copied. Not posix_spawn itself: glibc's leaves its two
// internal signals ignored in the child, and an ignored signal outlives
// exec (the sandbox's processes would inherit them).
//
// spawn: argv[0] is the program's path; the child's fds 0..sockets-1 are
// each one end of a new socket pair (as child_process's 'pipe'), ours are
// returned after its pid: [pid, fd0, fd1, ...], close-on-exec. Its signals
// are all at their default and none is blocked, as libuv starts a child.
// A failure throws an Error whose code is the errno's name (ENOENT, ...).
//
// reap(pid): undefined while it runs; [exit code, 0] or [-1, signal] once
// it ended (then reaped), [-1, 0] if it is not our child.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "napi.h"

extern char **environ;

#define MAX_SOCKETS 16

static napi_value throw_errno(napi_env env, int err, const char *what) {
  const char *name = strerrorname_np(err);
  char message[512];
  snprintf(message, sizeof message, "spawn %s: %s", what, strerror(err));
  return addon_throw(env, name ? name : "EIO", message);
}

static char *string_of(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != 0) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

static void free_strings(char **strings, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) free(strings[i]);
  free(strings);
}

#define CHILD_STACK (64 * 1024)
#define KERNEL_SIGSET_BYTES 8

struct child {
  char **args;
  const int *theirs;
  int sockets;
  volatile int err;
};

// The kernel's struct sigaction (x86-64 and arm64 alike).
struct kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

// Runs in the parent's memory, on its own stack, the parent stopped until
// it execs or exits: raw system calls only, every signal blocked on entry.
static int child_main(void *arg) {
  struct child *c = arg;
  // No handler of the parent's may run here, and an ignored signal would stay ignored after exec.
  struct kernel_sigaction dfl = { .handler = SIG_DFL };
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, KERNEL_SIGSET_BYTES);
  for (int i = 0; i < c->sockets; i++) {
    if (syscall(SYS_dup3, c->theirs[i], i, 0) < 0) {
      c->err = errno;
      syscall(SYS_exit, 127);
    }
  }
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, KERNEL_SIGSET_BYTES);
  syscall(SYS_execve, c->args[0], c->args, environ);
  c->err = errno;
  syscall(SYS_exit, 127);
  return 0;
}

static int start(char **args, int sockets, int *ours, pid_t *pid) {
  int theirs[MAX_SOCKETS];
  int made = 0, err = 0;
  for (; made < sockets; made++) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      err = errno;
      break;
    }
    // Above every fd the child's ends are put on, so that no dup there
    // replaces an end still to be moved.
    int high = fcntl(pair[1], F_DUPFD_CLOEXEC, sockets);
    if (high < 0) err = errno;
    close(pair[1]);
    if (err) {
      close(pair[0]);
      break;
    }
    ours[made] = pair[0];
    theirs[made] = high;
  }
  void *stack = MAP_FAILED;
  if (!err) {
    stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) err = errno;
  }
  if (!err) {
    struct child c = { .args = args, .theirs = theirs, .sockets = sockets, .err = 0 };
    uint64_t all = ~(uint64_t)0, old;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, KERNEL_SIGSET_BYTES);
    *pid = clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    if (*pid < 0) err = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, KERNEL_SIGSET_BYTES);
    if (!err && c.err) {
      err = c.err;
      while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    munmap(stack, CHILD_STACK);
  }
  for (int i = 0; i < made; i++) close(theirs[i]);
  if (err)
    for (int i = 0; i < made; i++) close(ours[i]);
  return err;
}

napi_value addon_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t nargs = 0;
  int32_t sockets = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 2 || napi_get_array_length(env, argv[0], &nargs) != 0 || nargs == 0 ||
      napi_get_value_int32(env, argv[1], &sockets) != 0 || sockets < 3 || sockets > MAX_SOCKETS) {
    return addon_throw(env, "EINVAL", "spawn(argv, sockets): argv a non-empty array of strings, sockets 3 to 16");
  }
  char **args = calloc(nargs + 1, sizeof *args);
  if (!args) return throw_errno(env, ENOMEM, "");
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value element;
    if (napi_get_element(env, argv[0], i, &element) != 0 || !(args[i] = string_of(env, element))) {
      free_strings(args, nargs);
      return addon_throw(env, "EINVAL", "spawn(argv, sockets): argv a non-empty array of strings");
    }
  }
  int ours[MAX_SOCKETS];
  pid_t pid = 0;
  int err = start(args, sockets, ours, &pid);
  if (err) {
    napi_value thrown = throw_errno(env, err, args[0]);
    free_strings(args, nargs);
    return thrown;
  }
  free_strings(args, nargs);
  napi_value result, n;
  napi_create_array_with_length(env, (size_t)sockets + 1, &result);
  napi_create_int32(env, pid, &n);
  napi_set_element(env, result, 0, n);
  for (int i = 0; i < sockets; i++) {
    napi_create_int32(env, ours[i], &n);
    napi_set_element(env, result, (uint32_t)i + 1, n);
  }
  return result;
}

napi_value addon_reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, a, b;
  int32_t pid = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 || napi_get_value_int32(env, argv[0], &pid) != 0 || pid <= 0) {
    return addon_throw(env, "EINVAL", "reap(pid): a pid");
  }
  int status = 0;
  pid_t got;
  do got = waitpid(pid, &status, WNOHANG); while (got < 0 && errno == EINTR);
  if (got == 0) {
    napi_get_undefined(env, &result);
    return result;
  }
  int code = got < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int signal = got > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int32(env, code, &a);
  napi_create_int32(env, signal, &b);
  napi_set_element(env, result, 0, a);
  napi_set_element(env, result, 1, b);
  return result;
}
