// UDP bulk for scripts/bench (issue 13's UDP segmentation rows):
//   udpgso sink ADDR PORT        count bytes until 1 s of silence after
//                                the first datagram; print "sink ...". With
//                                UDP_GRO: a super-datagram that arrives
//                                whole is one recv.
//   udpgso send ADDR PORT SECS SEG
//                                send for SECS seconds: with SEG > 0 each
//                                send is 40 datagrams of SEG bytes cut by
//                                UDP_SEGMENT, with SEG = 0 one datagram of
//                                1472 bytes per send; print "send ...".
// The sink's figure is what arrived (UDP drops what a slow receiver does not
// take), in Gbit/s of UDP payload.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", ip);
		exit(2);
	}
	return a;
}

static int sink(const char *ip, int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 8 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	// A super-datagram that arrives whole is taken whole (one recv).
	int one = 1;
	setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof one);
	struct sockaddr_in a = addr_of(ip, port);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("sink bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	static char buf[65536];
	long long bytes = 0, dgrams = 0;
	double first = 0, last = 0;
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, first ? 1000 : 60000) <= 0)
			break;
		ssize_t n = recv(s, buf, sizeof buf, 0);
		if (n < 0)
			continue;
		last = now();
		if (!first)
			first = last;
		bytes += n;
		dgrams++;
	}
	double secs = last > first ? last - first : 1e-9;
	printf("sink dgrams %lld bytes %lld secs %.3f gbits %.3f\n", dgrams, bytes, secs, bytes * 8 / secs / 1e9);
	return 0;
}

static int sender(const char *ip, int port, double secs, int seg)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = addr_of(ip, port);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("send connect");
		return 1;
	}
	if (seg > 0 && setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0) {
		perror("UDP_SEGMENT");
		return 1;
	}
	size_t len = seg > 0 ? (size_t)seg * 40 : 1472;
	char *buf = calloc(1, len);
	long long bytes = 0, sends = 0, errs = 0;
	double end = now() + secs;
	while (now() < end) {
		for (int i = 0; i < 64; i++) {
			ssize_t n = send(s, buf, len, 0);
			if (n < 0) {
				errs++;
				continue;
			}
			bytes += n;
			sends++;
		}
	}
	printf("send sends %lld bytes %lld errors %lld\n", sends, bytes, errs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "sink"))
		return sink(argv[2], atoi(argv[3]));
	if (argc >= 6 && !strcmp(argv[1], "send"))
		return sender(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: udpgso sink ADDR PORT | udpgso send ADDR PORT SECS SEG\n");
	return 2;
}
