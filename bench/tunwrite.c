/* tunwrite: the raw TUN write ceiling, one thread writing IPv4/TCP frames
 * to a TUN device as fast as it can, one write(2) per frame, for SECS
 * seconds. Prints "frames N bytes B secs S gbps G".
 *
 *   tunwrite DEV SECS            1500-byte frames, checksums precomputed
 *   tunwrite DEV SECS gso        64 KiB TCP super-frames with a virtio_net_hdr
 *                                (IFF_VNET_HDR, TUN_F_CSUM|TUN_F_TSO4, partial
 *                                checksum) that the kernel takes as one segment
 *
 * The frames go from 10.9.0.2 to 10.9.0.1 (the device's kernel side, set up
 * by scripts/bench in a namespace of its own), TCP port 40000 -> 9 where
 * nothing listens: the kernel checks, delivers and answers each with a RST,
 * roughly the work an ACK for a real stream costs it. Bytes are counted at
 * the IP layer (header included). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  return s;
}
static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: tunwrite DEV SECS [gso]\n");
    return 2;
  }
  double secs = atof(argv[2]);
  int gso = argc > 3 && strcmp(argv[3], "gso") == 0;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (gso ? IFF_VNET_HDR : 0);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
  size_t vh = 0;
  if (gso) {
    int sz = sizeof(struct virtio_net_hdr);
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) { perror("TUNSETVNETHDRSZ"); return 1; }
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) { perror("TUNSETOFFLOAD"); return 1; }
    vh = sizeof(struct virtio_net_hdr);
  }
  size_t mss = 1448, segs = gso ? 44 : 1;
  size_t iplen = gso ? 20 + 20 + mss * segs : 1500;
  uint8_t *frame = calloc(1, vh + iplen);
  uint8_t *ip = frame + vh, *tcp = ip + 20;
  ip[0] = 0x45;
  ip[2] = iplen >> 8; ip[3] = iplen & 0xff;
  ip[6] = 0x40; /* DF */
  ip[8] = 64; ip[9] = 6;
  inet_pton(AF_INET, "10.9.0.2", ip + 12);
  inet_pton(AF_INET, "10.9.0.1", ip + 16);
  uint16_t ipc = ~fold(sum16(ip, 20, 0));
  ip[10] = ipc >> 8; ip[11] = ipc & 0xff;
  tcp[0] = 40000 >> 8; tcp[1] = 40000 & 0xff; tcp[2] = 0; tcp[3] = 9;
  tcp[7] = 1;  /* seq 1 */
  tcp[11] = 1; /* ack 1 */
  tcp[12] = 5 << 4; tcp[13] = 0x18; /* PSH|ACK */
  tcp[14] = 0xff; tcp[15] = 0xff;
  for (size_t i = 20; i < iplen - 20; i++) tcp[i] = (uint8_t)i;
  size_t tlen = iplen - 20;
  uint32_t pseudo = sum16(ip + 12, 8, 0) + 6 + tlen;
  if (gso) {
    struct virtio_net_hdr *h = (struct virtio_net_hdr *)frame;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h->hdr_len = 40;
    h->gso_size = mss;
    h->csum_start = 20;
    h->csum_offset = 16;
    uint16_t c = fold(pseudo); /* partial: the pseudo-header sum, not inverted */
    tcp[16] = c >> 8; tcp[17] = c & 0xff;
  } else {
    uint16_t c = ~fold(sum16(tcp, tlen, pseudo));
    tcp[16] = c >> 8; tcp[17] = c & 0xff;
  }
  uint64_t frames = 0, errs = 0;
  double t0 = now(), t = t0;
  while (t - t0 < secs) {
    for (int i = 0; i < 64; i++) {
      if (write(fd, frame, vh + iplen) == (ssize_t)(vh + iplen)) frames++;
      else errs++;
    }
    t = now();
  }
  double el = t - t0;
  printf("frames %llu bytes %llu secs %.3f gbps %.3f errors %llu\n", (unsigned long long)frames,
         (unsigned long long)(frames * iplen), el, frames * iplen * 8 / el / 1e9,
         (unsigned long long)errs);
  return frames ? 0 : 1;
}
