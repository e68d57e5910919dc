/* hold: the connection-scale ends for scripts/bench (TCP, IPv4).
 *
 *   hold server ADDR PORT N   epoll server: accept, write one byte, hold;
 *                             close a connection when its peer closes it
 *   hold client ADDR PORT N BLOCK
 *                             open N connections one after another (connect,
 *                             read the server's byte), timing each BLOCK;
 *                             then close them all and wait to be killed;
 *                             with HOLD_STEP=FILE in the environment, read a
 *                             line from FILE (a FIFO) before each block
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
  FILE *step = NULL;
  if (getenv("HOLD_STEP") && !(step = fopen(getenv("HOLD_STEP"), "r"))) {
    perror("HOLD_STEP");
    return 1;
  }
  double t0 = now(), tb = t0;
  for (long i = 0; i < n; i++) {
    if (step && i % block == 0) {
      char line[64];
      if (!fgets(line, sizeof line, step)) return 1;
      tb = now();
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof *sa) < 0) {
      printf("error at %ld: %s\n", i, strerror(errno));
      return 1;
    }
    char c;
    if (read(fd, &c, 1) != 1) {
      printf("error at %ld: no byte from the server\n", i);
      return 1;
    }
    fds[i] = fd;
    if (i == 0) {
      printf("first rss_kb %ld\n", rss_kb());
      fflush(stdout);
    }
    if ((i + 1) % block == 0 || i + 1 == n) {
      double t = now();
      long m = (i + 1) % block ? (i + 1) % block : block;
      printf("block %ld secs %.3f rate %.0f\n", i / block + 1, t - tb, m / (t - tb));
      fflush(stdout);
      tb = t;
    }
  }
  printf("held %ld rss_kb %ld\n", n, rss_kb());
  fflush(stdout);
  sleep(1); /* let the server report what it holds */
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
