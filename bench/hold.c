/* hold: the connection-scale ends for scripts/bench (TCP, IPv4).
 *
 *   hold server ADDR PORT N   epoll server: accept, write one byte, hold;
 *                             close a connection when its peer closes it
 *   hold client ADDR PORT N BLOCK
 *                             open N connections one after another (connect,
 *                             read the server's byte), timing each BLOCK;
 *                             then close them all and wait to be killed;
 *                             with HOLD_STEP=FILE in the environment, read a
 *                             line from FILE (a FIFO) before each step of
 *                             HOLD_STEP_N connections (default BLOCK) and
 *                             before closing, write "step K secs S max_ms M"
 *                             (M: its slowest connection) to stdout and to
 *                             the file HOLD_STEP_ACK (if set) after each
 *                             step, and
 *                             time only the steps: so a driver can run two
 *                             clients' steps in turn and compare each
 *                             block side by side
 *
 * Both raise RLIMIT_NOFILE's soft limit to the hard limit. Lines printed
 * (times are CLOCK_MONOTONIC seconds, one clock for every namespace):
 *   server: "ready rss_kb R"  "held N rss_kb R t T"  "left K t T" (each
 *           second while it closes)  "gone t T"
 *   client: "first rss_kb R" (after the first connection)  "block K secs S
 *           rate R"  "held N rss_kb R"  "closing t T"  "closed t T"
 * The server prints "gone" once it held N and has closed every one of them:
 * teardown = gone - closing. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

static void raise_nofile(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

static int server(struct sockaddr_in *sa, long n) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind(l, (struct sockaddr *)sa, sizeof *sa) < 0 || listen(l, 4096) < 0) {
    perror("server");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0) { perror("epoll_ctl"); return 1; }
  printf("ready rss_kb %ld\n", rss_kb());
  fflush(stdout);
  long held = 0, reached = 0;
  double last = 0;
  struct epoll_event evs[256];
  for (;;) {
    int k = epoll_wait(ep, evs, 256, reached && held < n ? 100 : -1);
    if (reached && held < n) {
      double t = now();
      if (last == 0) last = t;
      if (t - last >= 1.0) {
        printf("left %ld t %.6f\n", held, t);
        fflush(stdout);
        last = t;
      }
    }
    if (k < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        for (;;) {
          int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
            perror("accept4");
            return 1;
          }
          if (write(c, "x", 1) != 1) perror("write");
          struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0) { perror("epoll_ctl"); return 1; }
          if (++held == n && !reached) {
            reached = 1;
            printf("held %ld rss_kb %ld t %.6f\n", held, rss_kb(), now());
            fflush(stdout);
          }
        }
      } else {
        char buf[512];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR))) continue;
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        if (--held == 0 && reached) {
          printf("gone t %.6f\n", now());
          fflush(stdout);
          reached = 0;
          last = 0;
        }
      }
    }
  }
}

static int client(struct sockaddr_in *sa, long n, long block) {
  int *fds = calloc(n, sizeof *fds);
  FILE *step = NULL, *ack = NULL;
  char line[64];
  if (getenv("HOLD_STEP") && !(step = fopen(getenv("HOLD_STEP"), "r"))) {
    perror("HOLD_STEP");
    return 1;
  }
  if (step && getenv("HOLD_STEP_ACK") && !(ack = fopen(getenv("HOLD_STEP_ACK"), "w"))) {
    perror("HOLD_STEP_ACK");
    return 1;
  }
  long stepn = step && getenv("HOLD_STEP_N") ? atol(getenv("HOLD_STEP_N")) : block;
  if (stepn <= 0) stepn = block;
  /* busy: the time spent in the current block's steps so far */
  double ts = now(), busy = 0, tstep = ts, slowest = 0;
  for (long i = 0; i < n; i++) {
    if (step && i % stepn == 0) {
      if (!fgets(line, sizeof line, step)) return 1;
      ts = tstep = now();
      slowest = 0;
    }
    double tc = now();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof *sa) < 0) {
      printf("error at %ld: %s\n", i, strerror(errno));
      fflush(stdout);
      if (ack) fprintf(ack, "error\n"), fflush(ack);
      return 1;
    }
    char c;
    if (read(fd, &c, 1) != 1) {
      printf("error at %ld: no byte from the server\n", i);
      fflush(stdout);
      if (ack) fprintf(ack, "error\n"), fflush(ack);
      return 1;
    }
    fds[i] = fd;
    if (now() - tc > slowest) slowest = now() - tc;
    if (i == 0) {
      printf("first rss_kb %ld\n", rss_kb());
      fflush(stdout);
    }
    int step_end = (i + 1) % stepn == 0, block_end = (i + 1) % block == 0 || i + 1 == n;
    if (step_end || block_end) {
      double t = now();
      busy += t - ts;
      ts = t;
    }
    if (block_end) {
      long m = (i + 1) % block ? (i + 1) % block : block;
      printf("block %ld secs %.3f rate %.0f\n", i / block + 1, busy, m / busy);
      fflush(stdout);
      busy = 0;
    }
    if (step && (step_end || i + 1 == n)) {
      double t = now();
      printf("step %ld secs %.4f max_ms %.2f\n", i / stepn + 1, t - tstep, slowest * 1e3);
      fflush(stdout);
      if (ack) {
        fprintf(ack, "step %ld secs %.4f max_ms %.2f\n", i / stepn + 1, t - tstep, slowest * 1e3);
        fflush(ack);
      }
    }
  }
  printf("held %ld rss_kb %ld\n", n, rss_kb());
  fflush(stdout);
  if (step) {
    if (!fgets(line, sizeof line, step)) return 1;
  } else {
    sleep(1); /* let the server report what it holds */
  }
  printf("closing t %.6f\n", now());
  fflush(stdout);
  for (long i = 0; i < n; i++) close(fds[i]);
  printf("closed t %.6f\n", now());
  fflush(stdout);
  for (;;) pause(); /* stay: our stack (if shimmed) sends the FINs */
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: hold server ADDR PORT N | hold client ADDR PORT N BLOCK\n");
    return 2;
  }
  raise_nofile();
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
  if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;
  long n = atol(argv[4]);
  if (!strcmp(argv[1], "server")) return server(&sa, n);
  if (!strcmp(argv[1], "client") && argc > 5) return client(&sa, n, atol(argv[5]));
  return 2;
}
