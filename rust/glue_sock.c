// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel TCP sockets for btcp's control channel; see glue_sock.h for the
 * contract and rust/socket.rs for the safe wrapper.
 *
 * Event callbacks follow the upstream pattern (drivers/nvme/target/tcp.c,
 * net/smc/af_smc.c): under sk_callback_lock held for writing we save the
 * socket's sk_data_ready, sk_write_space and sk_state_change, point them at
 * our own functions and put our struct btcp_sock in sk_user_data. Ours take
 * the lock for reading, chain to the saved originals and then call the
 * event callback. Putting the originals back and clearing sk_user_data
 * under the write lock guarantees that, afterwards, no call of ours is
 * running with the old state (readers finished before the writer got the
 * lock) and any later one finds sk_user_data empty and does nothing.
 *
 * Listeners: a child socket created by the listener is a copy of it
 * (sk_clone_lock()), callback pointers included. sk_user_data is tagged
 * SK_USER_DATA_NOCOPY, so the child starts with an empty sk_user_data and
 * our functions do nothing for it until it is accepted; btcp_sock_accept()
 * then gives it the listener's saved originals instead of saving our own
 * functions as "originals" (which would recurse forever).
 */
#include <linux/delay.h>
#include <linux/in.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <trace/events/sock.h>
#include "glue_sock.h"

struct btcp_sock {
	struct socket *sock;
	/* Event callback; written under sk_callback_lock held for writing. */
	btcp_sock_cb_t cb;
	void *ctx;
	/* The socket's own callbacks, set once before ours are installed. */
	void (*orig_data_ready)(struct sock *sk);
	void (*orig_write_space)(struct sock *sk);
	void (*orig_state_change)(struct sock *sk);
};

/* Caller holds sk->sk_callback_lock (either way). */
static struct btcp_sock *btcp_sock_from_sk(const struct sock *sk)
{
	return __locked_read_sk_user_data_with_flags(sk, SK_USER_DATA_NOCOPY);
}

enum btcp_sock_event { BTCP_SOCK_DATA, BTCP_SOCK_SPACE, BTCP_SOCK_STATE };

/* The socket's own callback first, then ours. */
static void btcp_sock_event(struct sock *sk, enum btcp_sock_event ev)
{
	struct btcp_sock *bs;

	read_lock_bh(&sk->sk_callback_lock);
	bs = btcp_sock_from_sk(sk);
	if (bs) {
		switch (ev) {
		case BTCP_SOCK_DATA:
			bs->orig_data_ready(sk);
			break;
		case BTCP_SOCK_SPACE:
			/* sk_stream_write_space() also clears SOCK_NOSPACE. */
			bs->orig_write_space(sk);
			break;
		case BTCP_SOCK_STATE:
			bs->orig_state_change(sk);
			break;
		}
		if (bs->cb)
			bs->cb(bs->ctx);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

static void btcp_sock_data_ready(struct sock *sk)
{
	trace_sk_data_ready(sk);
	btcp_sock_event(sk, BTCP_SOCK_DATA);
}

static void btcp_sock_write_space(struct sock *sk)
{
	btcp_sock_event(sk, BTCP_SOCK_SPACE);
}

static void btcp_sock_state_change(struct sock *sk)
{
	btcp_sock_event(sk, BTCP_SOCK_STATE);
}

/*
 * Installs our callbacks on bs's socket. parent: the listener it was
 * accepted from, whose saved originals replace ours that the child
 * inherited; NULL for a socket from sock_create_kern().
 */
static void btcp_sock_attach(struct btcp_sock *bs, const struct btcp_sock *parent)
{
	struct sock *sk = bs->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	bs->orig_data_ready = sk->sk_data_ready;
	bs->orig_write_space = sk->sk_write_space;
	bs->orig_state_change = sk->sk_state_change;
	if (parent) {
		if (bs->orig_data_ready == btcp_sock_data_ready)
			bs->orig_data_ready = parent->orig_data_ready;
		if (bs->orig_write_space == btcp_sock_write_space)
			bs->orig_write_space = parent->orig_write_space;
		if (bs->orig_state_change == btcp_sock_state_change)
			bs->orig_state_change = parent->orig_state_change;
	}
	WARN_ON_ONCE(bs->orig_data_ready == btcp_sock_data_ready ||
		     bs->orig_write_space == btcp_sock_write_space ||
		     bs->orig_state_change == btcp_sock_state_change);
	__rcu_assign_sk_user_data_with_flags(sk, bs, SK_USER_DATA_NOCOPY);
	WRITE_ONCE(sk->sk_data_ready, btcp_sock_data_ready);
	WRITE_ONCE(sk->sk_write_space, btcp_sock_write_space);
	WRITE_ONCE(sk->sk_state_change, btcp_sock_state_change);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* Puts the originals back; our callbacks neither run nor start afterwards. */
static void btcp_sock_detach(struct btcp_sock *bs)
{
	struct sock *sk = bs->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	WRITE_ONCE(sk->sk_data_ready, bs->orig_data_ready);
	WRITE_ONCE(sk->sk_write_space, bs->orig_write_space);
	WRITE_ONCE(sk->sk_state_change, bs->orig_state_change);
	rcu_assign_sk_user_data(sk, NULL);
	bs->cb = NULL;
	bs->ctx = NULL;
	write_unlock_bh(&sk->sk_callback_lock);
}

static struct sockaddr_in btcp_sin(unsigned int addr, unsigned short port)
{
	return (struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(addr),
		.sin_port = htons(port),
	};
}

static int btcp_sock_create(struct net *net, struct btcp_sock **out)
{
	struct btcp_sock *bs;
	int err;

	bs = kzalloc(sizeof(*bs), GFP_KERNEL);
	if (!bs)
		return -ENOMEM;
	err = sock_create_kern(net, PF_INET, SOCK_STREAM, IPPROTO_TCP, &bs->sock);
	if (err) {
		kfree(bs);
		return err;
	}
	/* Installed before bind/listen/connect, so no event slips past. */
	btcp_sock_attach(bs, NULL);
	*out = bs;
	return 0;
}

int btcp_sock_listen(struct net *net, unsigned int addr, unsigned short port,
		     int backlog, struct btcp_sock **out)
{
	struct sockaddr_in sin = btcp_sin(addr, port);
	struct btcp_sock *bs;
	int err;

	err = btcp_sock_create(net, &bs);
	if (err)
		return err;
	sock_set_reuseaddr(bs->sock->sk);
	err = kernel_bind(bs->sock, (struct sockaddr *)&sin, sizeof(sin));
	if (!err)
		err = kernel_listen(bs->sock, backlog);
	if (err) {
		btcp_sock_release(bs);
		return err;
	}
	*out = bs;
	return 0;
}

int btcp_sock_accept(struct btcp_sock *listener, struct btcp_sock **out)
{
	struct sock *sk = listener->sock->sk;
	struct btcp_sock *bs;
	int err;

	/*
	 * Called on every run of the channel's work: a listener's empty
	 * queue, read without the lock like poll() does, costs no allocation
	 * (a racing arrival fires the listener's callback, and the next run
	 * takes it). A socket that does not listen gets kernel_accept()'s
	 * error.
	 */
	if (READ_ONCE(sk->sk_state) == TCP_LISTEN &&
	    reqsk_queue_empty(&inet_csk(sk)->icsk_accept_queue))
		return -EAGAIN;
	/* Allocate first: failing after kernel_accept() would drop a peer. */
	bs = kzalloc(sizeof(*bs), GFP_KERNEL);
	if (!bs)
		return -ENOMEM;
	err = kernel_accept(listener->sock, &bs->sock, O_NONBLOCK);
	if (err) {
		kfree(bs);
		return err;
	}
	btcp_sock_attach(bs, listener);
	*out = bs;
	return 0;
}

int btcp_sock_connect(struct net *net, unsigned int addr, unsigned short port,
		      btcp_sock_cb_t cb, void *ctx, struct btcp_sock **out)
{
	struct sockaddr_in sin = btcp_sin(addr, port);
	struct btcp_sock *bs;
	int err;

	err = btcp_sock_create(net, &bs);
	if (err)
		return err;
	btcp_sock_set_callback(bs, cb, ctx);
	err = kernel_connect(bs->sock, (struct sockaddr *)&sin, sizeof(sin), O_NONBLOCK);
	if (err && err != -EINPROGRESS) {
		btcp_sock_release(bs);
		return err;
	}
	*out = bs;
	return 0;
}

enum btcp_sock_state btcp_sock_state(const struct btcp_sock *bs)
{
	switch (READ_ONCE(bs->sock->sk->sk_state)) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
	case TCP_NEW_SYN_RECV:
		return BTCP_SOCK_CONNECTING;
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		return BTCP_SOCK_CONNECTED;
	case TCP_LISTEN:
		return BTCP_SOCK_LISTENING;
	case TCP_CLOSE:
		return BTCP_SOCK_CLOSED;
	default:
		return BTCP_SOCK_CLOSING;
	}
}

int btcp_sock_error(const struct btcp_sock *bs)
{
	return -READ_ONCE(bs->sock->sk->sk_err);
}

int btcp_sock_send(struct btcp_sock *bs, const void *buf, size_t len)
{
	struct kvec iov = {
		.iov_base = (void *)buf,
		.iov_len = min_t(size_t, len, INT_MAX),
	};
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

	return kernel_sendmsg(bs->sock, &msg, &iov, 1, iov.iov_len);
}

int btcp_sock_recv(struct btcp_sock *bs, void *buf, size_t len)
{
	struct kvec iov = {
		.iov_base = buf,
		.iov_len = min_t(size_t, len, INT_MAX),
	};
	struct msghdr msg = {};
	struct sock *sk = bs->sock->sk;

	/*
	 * Nothing queued, no error, not shut: what tcp_recvmsg() would say,
	 * without taking the socket lock (data arriving after this check
	 * fires the socket's callback, so the next run reads it).
	 */
	if (skb_queue_empty_lockless(&sk->sk_receive_queue) && !READ_ONCE(sk->sk_err) &&
	    !(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) &&
	    READ_ONCE(sk->sk_state) == TCP_ESTABLISHED)
		return -EAGAIN;
	return kernel_recvmsg(bs->sock, &msg, &iov, 1, iov.iov_len, MSG_DONTWAIT);
}

void btcp_sock_set_nodelay(struct btcp_sock *bs)
{
	tcp_sock_set_nodelay(bs->sock->sk);
}

void btcp_sock_set_user_timeout(struct btcp_sock *bs, unsigned int ms)
{
	/* Only fails for a negative value, which a u32 clamped to INT_MAX is not. */
	tcp_sock_set_user_timeout(bs->sock->sk, min_t(unsigned int, ms, INT_MAX));
}

int btcp_sock_shutdown(struct btcp_sock *bs, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	return kernel_sock_shutdown(bs->sock, how);
}

int btcp_sock_name(struct btcp_sock *bs, int peer, unsigned int *addr,
		   unsigned short *port)
{
	struct sockaddr_in sin = {};
	int len;

	len = peer ? kernel_getpeername(bs->sock, (struct sockaddr *)&sin) :
		     kernel_getsockname(bs->sock, (struct sockaddr *)&sin);
	if (len < 0)
		return len;
	if ((size_t)len < sizeof(sin) || sin.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	*addr = ntohl(sin.sin_addr.s_addr);
	*port = ntohs(sin.sin_port);
	return 0;
}

void btcp_sock_set_callback(struct btcp_sock *bs, btcp_sock_cb_t cb, void *ctx)
{
	struct sock *sk = bs->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	bs->cb = cb;
	bs->ctx = cb ? ctx : NULL;
	write_unlock_bh(&sk->sk_callback_lock);
}

void btcp_sock_release(struct btcp_sock *bs)
{
	btcp_sock_detach(bs);
	sock_release(bs->sock);
	kfree(bs);
}

void btcp_sock_set_abortive(struct btcp_sock *bs)
{
	sock_no_linger(bs->sock->sk);
}

struct net *btcp_init_net(void)
{
	return &init_net;
}

void btcp_msleep(unsigned int ms)
{
	msleep(ms);
}
