/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel TCP sockets for btcp's control channel (rust/socket.rs wraps them).
 *
 * Context: every function here may sleep and must be called from process
 * context (a workqueue, module init/exit, pernet init/exit), except the
 * event callback, which the glue calls from softirq (or from process
 * context with bottom halves disabled).
 *
 * Addresses and ports are in host byte order (0x7f000001 is 127.0.0.1).
 *
 * Network namespaces: kernel sockets hold no reference on their namespace
 * (sk_net_refcnt is 0, as for every sock_create_kern() socket, and sockets
 * accepted from them inherit that; only a passive reference keeps the
 * struct net allocated). Their owner must release every socket created in
 * a namespace no later than that namespace's pernet exit, abortively there
 * (btcp_sock_set_abortive()): 6.12 purges only TIME_WAIT sockets of a dead
 * namespace, so an orphan left in FIN_WAIT1/CLOSING/LAST_ACK by a graceful
 * close would run its retransmit timers in a dismantled namespace.
 */
#ifndef BTCP_GLUE_SOCK_H
#define BTCP_GLUE_SOCK_H

#include <linux/types.h>
#include <net/net_namespace.h>

/* One kernel TCP socket and the callbacks btcp installed on it; opaque. */
struct btcp_sock;

/*
 * Event callback: called after the socket's own sk_data_ready,
 * sk_write_space or sk_state_change, in atomic context (softirq, or process
 * context with bottom halves off) with the socket's sk_callback_lock held
 * for reading. It must not sleep, and must not call btcp_sock_set_callback()
 * or btcp_sock_release() on the same socket (they take that lock for
 * writing). Meant to queue work.
 */
typedef void (*btcp_sock_cb_t)(void *ctx);

/*
 * A TCP socket in net, bound to addr:port with SO_REUSEADDR and listening
 * with the given backlog. 0 and *out set, or -errno and *out untouched.
 */
int btcp_sock_listen(struct net *net, unsigned int addr, unsigned short port,
		     int backlog, struct btcp_sock **out);

/*
 * Takes one established connection off listener's accept queue, without
 * waiting: 0 and *out set, -EAGAIN when none is ready, or -errno. The new
 * socket has btcp's callbacks installed but no event callback yet.
 */
int btcp_sock_accept(struct btcp_sock *listener, struct btcp_sock **out);

/*
 * A TCP socket in net, connecting to addr:port without waiting, with cb(ctx)
 * (if cb is not NULL) installed as its event callback before the SYN goes
 * out: on loopback the handshake, or the RST that refuses it, is often
 * over before kernel_connect() returns. 0 and *out set when the connection
 * is established or under way (-EINPROGRESS is reported as 0: watch
 * btcp_sock_state()), or -errno and *out untouched; the callback is then
 * not running and will not be called again.
 */
int btcp_sock_connect(struct net *net, unsigned int addr, unsigned short port,
		      btcp_sock_cb_t cb, void *ctx, struct btcp_sock **out);

/* What btcp_sock_state() reports. */
enum btcp_sock_state {
	/* SYN sent or received, handshake not complete yet. */
	BTCP_SOCK_CONNECTING = 0,
	/* Established, and we may still send (ESTABLISHED or CLOSE_WAIT). */
	BTCP_SOCK_CONNECTED = 1,
	/* Listening. */
	BTCP_SOCK_LISTENING = 2,
	/* We shut down writing; the connection is winding down. */
	BTCP_SOCK_CLOSING = 3,
	/* Closed: the connection failed, was reset, or is over. */
	BTCP_SOCK_CLOSED = 4,
};

/* The socket's TCP state, summarised; lockless snapshot. */
enum btcp_sock_state btcp_sock_state(const struct btcp_sock *bs);

/*
 * The socket's pending error as -errno (sk_err, e.g. -ECONNREFUSED after a
 * failed connect, -ECONNRESET after a reset), without clearing it; 0 if
 * none. Lockless snapshot.
 */
int btcp_sock_error(const struct btcp_sock *bs);

/*
 * Queues up to len bytes (capped at INT_MAX) without waiting
 * (MSG_DONTWAIT | MSG_NOSIGNAL): the number of bytes queued (possibly fewer
 * than len), -EAGAIN when the send buffer is full (or the handshake is not
 * done yet), or -errno (-EPIPE after shutdown, -ECONNRESET, ...).
 */
int btcp_sock_send(struct btcp_sock *bs, const void *buf, size_t len);

/*
 * Receives up to len bytes (capped at INT_MAX) without waiting
 * (MSG_DONTWAIT): the number of bytes received, 0 when the peer has closed
 * its side and everything was read, -EAGAIN when nothing is there now, or
 * -errno.
 */
int btcp_sock_recv(struct btcp_sock *bs, void *buf, size_t len);

/* Sets TCP_NODELAY. */
void btcp_sock_set_nodelay(struct btcp_sock *bs);

/* Sets TCP_USER_TIMEOUT: the connection is aborted (ETIMEDOUT) once sent
 * data, or its SYN, has gone unacknowledged for ms milliseconds. */
void btcp_sock_set_user_timeout(struct btcp_sock *bs, unsigned int ms);

/* kernel_sock_shutdown(): how is SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2). */
int btcp_sock_shutdown(struct btcp_sock *bs, int how);

/* The peer's (peer != 0) or our own address and port. 0 or -errno. */
int btcp_sock_name(struct btcp_sock *bs, int peer, unsigned int *addr,
		   unsigned short *port);

/*
 * Installs cb(ctx) as the socket's event callback, replacing the previous
 * one (cb NULL: none). Once this returns, no call of the previous callback
 * is running or will start, so the caller may free the previous ctx.
 * Events that happened before are not replayed: check the socket's state
 * afterwards.
 */
void btcp_sock_set_callback(struct btcp_sock *bs, btcp_sock_cb_t cb, void *ctx);

/*
 * Puts back the socket's original callbacks (once this returns, the event
 * callback is not running and will not be called again), closes the
 * socket (FIN, or RST if unread data is left) and frees bs.
 */
void btcp_sock_release(struct btcp_sock *bs);

/*
 * Makes the coming btcp_sock_release() abortive (SO_LINGER with timeout 0):
 * it sends an RST and leaves no FIN_WAIT/TIME_WAIT socket and no timer
 * behind. For pernet exit.
 */
void btcp_sock_set_abortive(struct btcp_sock *bs);

/* The initial network namespace, which is never torn down. */
struct net *btcp_init_net(void);

/* msleep(): process context only. */
void btcp_msleep(unsigned int ms);

#endif
