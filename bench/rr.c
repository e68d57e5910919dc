/* rr: request/response and bulk ends for scripts/bench (TCP, IPv4).
 *
 *   rr server ADDR PORT [once]     serve connections one after another: echo
 *                                  what arrives until EOF, then close (with
 *                                  "once": exit after the first connection)
 *   rr sink ADDR PORT [once]       the same, but discard what arrives
 *   rr forkserver ADDR PORT        accept, fork: the child echoes until EOF,
 *                                  the parent closes its copy at once (the
 *                                  inetd / postmaster shape)
 *   rr rr ADDR PORT SECS|-nCOUNT   TCP_RR: one connection, 1-byte request,
 *                                  1-byte response, as many as fit in SECS
 *                                  (or exactly COUNT)
 *   rr crr ADDR PORT SECS|-nCOUNT  TCP_CRR: connect, 1-byte request, 1-byte
 *                                  response, close (the client closes first,
 *                                  as netperf's TCP_CRR)
 *   rr send ADDR PORT MIB|-tSECS   send MIB MiB (or for SECS seconds) in 64 KiB
 *                                  writes, shut down, wait for the server's
 *                                  close
 *
 * Clients print "tps T n N secs S max_ms M errors E" (send prints "mibps").
 * TCP_NODELAY is set on every connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in sa;

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  nodelay(fd);
  return fd;
}

static int xfer1(int fd) {
  char c = 'x';
  ssize_t n;
  while ((n = write(fd, &c, 1)) < 0 && errno == EINTR) {}
  if (n != 1) return -1;
  while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {}
  return n == 1 ? 0 : -1;
}

static void echo_until_eof(int c, int echo) {
  static char buf[1 << 16];
  for (;;) {
    ssize_t n = read(c, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (echo) {
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = write(c, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += w;
      }
    }
  }
}

static int serve(int echo, int once, int forks) {
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1024) < 0) {
    perror("server");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  if (forks) signal(SIGCHLD, SIG_IGN); /* no zombies */
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("accept");
      return 1;
    }
    nodelay(c);
    if (forks) {
      pid_t p = fork();
      if (p == 0) {
        close(l);
        echo_until_eof(c, echo);
        close(c);
        _exit(0);
      }
      if (p < 0) perror("fork");
      close(c);
      continue;
    }
    echo_until_eof(c, echo);
    close(c);
    if (once) return 0;
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rr server|forkserver|sink|rr|crr|send ADDR PORT [SECS|-nCOUNT|MIB]\n");
    return 2;
  }
  const char *mode = argv[1];
  sa.sin_family = AF_INET;
  sa.sin_port = htons(atoi(argv[3]));
  if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[2]);
    return 2;
  }
  int once = argc > 4 && !strcmp(argv[4], "once");
  if (!strcmp(mode, "server")) return serve(1, once, 0);
  if (!strcmp(mode, "forkserver")) return serve(1, 0, 1);
  if (!strcmp(mode, "sink")) return serve(0, once, 0);
  if (argc < 5) return 2;
  double secs = 1e9;
  long count = -1;
  if (!strncmp(argv[4], "-n", 2)) count = atol(argv[4] + 2);
  else secs = atof(argv[4]);

  if (!strcmp(mode, "send")) {
    long mib = atol(argv[4]);
    double tsecs = !strncmp(argv[4], "-t", 2) ? atof(argv[4] + 2) : 0;
    int fd = dial();
    if (fd < 0) { perror("connect"); return 1; }
    static char buf[1 << 16];
    memset(buf, 'b', sizeof buf);
    double t0 = now();
    long chunks = 0;
    for (long i = 0; tsecs > 0 ? now() - t0 < tsecs : i < mib * 16; i++, chunks++) {
      ssize_t off = 0;
      while (off < (ssize_t)sizeof buf) {
        ssize_t w = write(fd, buf + off, sizeof buf - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { perror("write"); return 1; }
        off += w;
      }
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof buf) > 0) {}
    double el = now() - t0;
    close(fd);
    printf("mib %ld secs %.3f mibps %.1f\n", chunks / 16, el, chunks / 16.0 / el);
    return 0;
  }

  int crr = !strcmp(mode, "crr");
  if (!crr && strcmp(mode, "rr")) return 2;
  long n = 0, errors = 0;
  int fd = -1;
  if (!crr) { /* TCP_RR times transactions on an open connection, not its setup */
    fd = dial();
    if (fd < 0) { perror("connect"); return 1; }
  }
  double worst = 0, t0 = now(), t = t0;
  while (count < 0 ? t - t0 < secs : n < count) {
    double a = t;
    if (crr) {
      fd = dial();
      if (fd < 0) {
        if (++errors == 1) perror("connect");
        if (errors > 100) break;
        t = now();
        continue;
      }
    }
    if (xfer1(fd) < 0) {
      perror("transaction");
      errors++;
      break;
    }
    if (crr) close(fd);
    n++;
    t = now();
    if (t - a > worst) worst = t - a;
  }
  if (!crr) close(fd);
  double el = t - t0;
  printf("tps %.0f n %ld secs %.3f max_ms %.3f errors %ld\n", n / el, n, el, worst * 1e3, errors);
  return errors ? 1 : 0;
}
