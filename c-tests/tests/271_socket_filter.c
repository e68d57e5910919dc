// CHECKS: classic-BPF socket filters as Linux: SO_ATTACH_FILTER's checks
// (optlen, bad pointers, empty, too long, bad opcode, division by a
// constant 0, a jump out, no return at the end, scratch memory read
// before written) and errnos; SO_DETACH_FILTER (ENOENT without a filter);
// SO_GET_FILTER counting instructions; SO_LOCK_FILTER (EPERM); on UDP a
// filter drops datagrams and trims them; loads of the network header,
// the loopback link header and ancillary data (protocol, packet type,
// ifindex, device type); on TCP an accepted socket inherits its
// listener's filter, and a filter that drops everything holds data back
// until it is detached (then the retransmission arrives).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"
#include <linux/filter.h>

#define P 22710

static struct sock_filter first_is_A[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'A', 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 8 + 3),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

static int attach(int fd, struct sock_filter *f, int n)
{
	struct sock_fprog p = { .len = n, .filter = f };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &p, sizeof p);
}

static void udp_pair(int *c, int *s)
{
	*s = ct_socket(SOCK_DGRAM);
	*c = ct_socket(SOCK_DGRAM);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	if (bind(*s, (struct sockaddr *)&a, sizeof a) < 0 || connect(*c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("udp pair");
}

static void arrives(const char *what, struct sock_filter *f, int n)
{
	int c, s;
	char buf[64];
	udp_pair(&c, &s);
	if (attach(s, f, n) < 0)
		ct_die("attach %s", what);
	ct_send_all(c, "hello", 5);
	struct pollfd p = { .fd = s, .events = POLLIN };
	poll(&p, 1, 300);
	long r = recv(s, buf, sizeof buf, MSG_DONTWAIT);
	t_log("%s: %s", what, r == 5 ? "arrives" : r < 0 ? t_errname(errno) : "cut");
	close(c);
	close(s);
}

#define IF_EQ_ACCEPT(load, val)                                 \
	{                                                       \
		load, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, val, 0, 1), \
			BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  \
			BPF_STMT(BPF_RET | BPF_K, 0)            \
	}

static void checks(void)
{
	int s = ct_socket(SOCK_DGRAM);
	t_log("== attach checks");
	struct sock_fprog p = { .len = 4, .filter = first_is_A };
	T_CALL("optlen 2", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &p, 2));
	T_CALL("optlen 8", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &p, 8));
	T_CALL("bad fprog pointer", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, ct_bad_ptr(), sizeof p));
	T_CALL("null program", attach(s, NULL, 4));
	T_CALL("len 0", attach(s, first_is_A, 0));
	static struct sock_filter many[BPF_MAXINSNS + 1];
	for (int i = 0; i <= BPF_MAXINSNS; i++)
		many[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	T_CALL("len 4097", attach(s, many, BPF_MAXINSNS + 1));
	T_CALL("len 4096", attach(s, many, BPF_MAXINSNS));
	T_CALL("bad program pointer", attach(s, ct_bad_ptr(), 4));
	struct sock_filter bad_op[] = { { 0xff, 0, 0, 0 }, BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("bad opcode", attach(s, bad_op, 2));
	struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("divide by constant 0", attach(s, div0, 2));
	struct sock_filter shift[] = { BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("shift by 32", attach(s, shift, 2));
	struct sock_filter jump[] = { BPF_STMT(BPF_JMP | BPF_JA, 1), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("jump out", attach(s, jump, 2));
	struct sock_filter cjump[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("conditional jump out", attach(s, cjump, 2));
	struct sock_filter noret[] = { BPF_STMT(BPF_LD | BPF_IMM, 1) };
	T_CALL("no return", attach(s, noret, 1));
	struct sock_filter mem[] = { BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("scratch read before write", attach(s, mem, 2));
	struct sock_filter mem16[] = { BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("scratch word 16", attach(s, mem16, 2));
	struct sock_filter anc[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 64), BPF_STMT(BPF_RET | BPF_K, 0) };
	T_CALL("unknown ancillary", attach(s, anc, 2));

	t_log("== detach, get, lock");
	int v = 0;
	socklen_t l = 0;
	T_CALL("detach", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
	T_CALL("detach without a filter", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
	T_CALL("getsockopt SO_DETACH_FILTER", getsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, &l));
	struct sock_filter got[8];
	l = 8;
	T_CALL("SO_GET_FILTER without a filter", getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &l));
	T_EQ("  optlen", l, 0);
	T_CALL("attach", attach(s, first_is_A, 4));
	l = 0;
	T_CALL("SO_GET_FILTER, optlen 0", getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &l));
	T_EQ("  optlen", l, 4);
	l = 2;
	T_CALL("SO_GET_FILTER, optlen 2", getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &l));
	l = 8;
	T_CALL("SO_GET_FILTER, optlen 8", getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &l));
	T_EQ("  optlen", l, 4);
	t_check("  same program", memcmp(got, first_is_A, sizeof first_is_A) == 0);
	v = 1;
	T_CALL("lock", setsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &v, sizeof v));
	T_EQ("  SO_LOCK_FILTER", ct_getint(s, SOL_SOCKET, SO_LOCK_FILTER), 1);
	T_CALL("attach when locked", attach(s, first_is_A, 4));
	T_CALL("detach when locked", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
	v = 0;
	T_CALL("unlock", setsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &v, sizeof v));
	v = 1;
	T_CALL("lock again", setsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &v, sizeof v));
	close(s);
}

static void udp(void)
{
	int c, s;
	char buf[64];
	t_log("== UDP: drop and trim");
	udp_pair(&c, &s);
	T_CALL("attach", attach(s, first_is_A, 4));
	ct_send_all(c, "Abcdef", 6);
	ct_send_all(c, "Bbcdef", 6);
	ct_send_all(c, "Axyz12", 6);
	T_CALL("recv", recv(s, buf, sizeof buf, 0));
	t_data("  got", buf, 3);
	T_CALL("recv", recv(s, buf, sizeof buf, 0));
	t_data("  got", buf, 3);
	T_CALL("recv MSG_DONTWAIT", recv(s, buf, sizeof buf, MSG_DONTWAIT));
	close(c);
	close(s);

	t_log("== UDP: what a filter sees");
	struct sock_filter proto[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL), 0x0800);
	arrives("protocol 0x0800", proto, 4);
	struct sock_filter pkttype[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE), 0);
	arrives("pkttype PACKET_HOST", pkttype, 4);
	struct sock_filter ifindex[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX), 1);
	arrives("ifindex 1", ifindex, 4);
	struct sock_filter hatype[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_HATYPE), 772);
	arrives("hatype ARPHRD_LOOPBACK", hatype, 4);
	struct sock_filter ipproto[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 9), 17);
	arrives("IP protocol byte 17", ipproto, 4);
	struct sock_filter ether[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_LL_OFF + 12), 0x0800);
	arrives("link-layer type 0x0800", ether, 4);
	struct sock_filter len[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0), 8 + 5);
	arrives("length 13", len, 4);
	struct sock_filter port[] = IF_EQ_ACCEPT(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2), P);
	arrives("destination port", port, 4);
	struct sock_filter msh[] = {
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, SKF_NET_OFF),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, SKF_NET_OFF + 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'h', 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	arrives("first payload byte by MSH and IND", msh, 5);
	struct sock_filter past[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 100), BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	arrives("load past the end", past, 2);
}

static void tcp(void)
{
	t_log("== TCP");
	struct sock_filter all[] = { BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	struct sock_filter none[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("bind/listen");
	T_CALL("attach to the listener", attach(l, all, 1));
	int c = ct_socket(SOCK_STREAM);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	int s = ct_accept(l);
	socklen_t n = 0;
	struct sock_filter got[1];
	T_CALL("accepted: SO_GET_FILTER", getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &n));
	T_EQ("  instructions", n, 1);
	int v = 0;
	T_CALL("detach", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
	T_CALL("attach drop-all", attach(s, none, 1));
	ct_send_all(c, "hello", 5);
	char buf[16];
	ct_sleep_ms(300);
	T_CALL("recv MSG_DONTWAIT", recv(s, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("detach", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
	struct pollfd p = { .fd = s, .events = POLLIN };
	T_CALL("poll until the retransmission", poll(&p, 1, 5000));
	T_CALL("recv", recv(s, buf, sizeof buf, 0));
	t_data("  got", buf, 5);
	close(c);
	close(s);
	close(l);
}

int main(void)
{
	checks();
	udp();
	tcp();
	return 0;
}
