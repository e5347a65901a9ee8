/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of btcp's kernel shell: what Rust cannot reach directly in 6.12
 * (inline helpers, struct layouts, registration boilerplate). bindgen turns
 * this header into rust/bindings_generated.rs; only the btcp_* items and the
 * constants allowlisted in Kbuild are generated, everything else is taken
 * from the kernel crate's bindings.
 */
#ifndef BTCP_GLUE_H
#define BTCP_GLUE_H

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/skbuff.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include "glue_sock.h"
#include "glue_crypto.h"
#include "glue_genl.h"
#include "glue_params.h"

/* The files of /proc/net/btcp/. */
enum btcp_proc_file {
	BTCP_PROC_COUNTERS = 0,
	BTCP_PROC_FLOWS = 1,
	BTCP_PROC_CONFIG = 2, /* also writable */
	/* No file: METRICS_GET's attributes (binary), rendered alike. */
	BTCP_PROC_METRICS = 3,
};

/*
 * Callbacks into Rust for per-network-namespace state. Every namespace,
 * existing and future, gets one opaque state from init(); hook() runs in
 * softirq or process context with that state; work() runs in process
 * context on btcp's workqueue, when kicked (btcp_pernet_kick; tick 0) and
 * every BTCP_TICK_MS (tick 1); show() renders a /proc/net/btcp file (into
 * /proc's seq_file, or one the glue sets up for netlink) and config() takes
 * a whole new configuration text (a write to the config file, or netlink's
 * CONFIG_SET): 0 or -errno, and on error it may say why in err, err_len
 * bytes (BTCP_CONFIG_ERR_MAX), NUL-terminated. The glue serialises config()
 * calls of a namespace. exit() runs once no hook, work, reader or netlink
 * command can see the state any more.
 */
struct btcp_pernet_ops {
	void *(*init)(struct net *net);
	void (*exit)(void *state);
	unsigned int (*hook)(void *state, unsigned int hooknum,
			     struct sk_buff *skb, unsigned int *tunnel_src);
	void (*work)(void *state, int tick);
	int (*show)(void *state, unsigned int file, struct seq_file *m);
	int (*config)(void *state, const unsigned char *text, size_t len,
		      char *err, size_t err_len);
};

#define BTCP_TICK_MS 100
/* The most a write to /proc/net/btcp/config or a CONFIG_SET may carry. */
#define BTCP_CONFIG_MAX 4096
/* The room config() has to say why it refused, NUL included: what an
 * extended netlink ack carries (NETLINK_MAX_FMTMSG_LEN). */
#define BTCP_CONFIG_ERR_MAX 80

/* Queues the namespace's work(); any context. No-op once it is exiting. */
void btcp_pernet_kick(struct net *net);

/* Monotonic clock in milliseconds, and the kernel's CSPRNG. */
unsigned long long btcp_now_ms(void);
void btcp_random_bytes(void *buf, size_t len);

int btcp_pernet_register(const struct btcp_pernet_ops *ops);
void btcp_pernet_unregister(void);

/* sk_buff access for the IPv4 hooks, where skb->data is the IP header. */
unsigned int btcp_skb_len(const struct sk_buff *skb);
unsigned int btcp_skb_gso_size(const struct sk_buff *skb);
int btcp_skb_from_neighbour(const struct sk_buff *skb, unsigned int addr);
const void *btcp_skb_header_pointer(const struct sk_buff *skb, unsigned int offset,
				    unsigned int len, void *buffer);
struct sk_buff *btcp_skb_alloc(unsigned int len);
void btcp_skb_free(struct sk_buff *skb);
void *btcp_skb_put(struct sk_buff *skb, unsigned int len);

/* spin_lock_bh for state shared between hooks and process context. */
void btcp_spin_lock_bh(spinlock_t *lock);
void btcp_spin_unlock_bh(spinlock_t *lock);

/*
 * One field rewrite of an IPv4/TCP packet, as the core describes it:
 * offset from the start of the IP header, 2 or 4 bytes, old and new value
 * in host order. An address rewrite also fixes the IP header checksum and
 * the TCP pseudo-header sum.
 */
struct btcp_edit {
	unsigned short offset;
	unsigned char width;
	unsigned char is_addr;
	unsigned int old_val;
	unsigned int new_val;
};

/*
 * Applies edits to skb (IPv4 hooks: skb->data at the IP header), making it
 * writable first and fixing checksums with the kernel's helpers, which are
 * right for CHECKSUM_PARTIAL, GSO and GRO packets. 0 or -errno; on error the
 * packet must be dropped (some edits may have been applied).
 */
int btcp_skb_rewrite(struct sk_buff *skb, const struct btcp_edit *edits, unsigned int n);

/*
 * Sends a complete IPv4 packet (checksums already valid) from namespace
 * net, routed by its destination, through LOCAL_OUT and POST_ROUTING.
 * btcp's hooks do not see it. Process or softirq context.
 */
int btcp_send_ip(struct net *net, const void *pkt, unsigned int len);

/*
 * Delivers a complete IPv4 packet (checksums valid) to the local stack of
 * net as if it had arrived on the interface that leads to its source:
 * input route, LOCAL_IN, then TCP. What the stack sends in answer meets
 * btcp's hooks synchronously, from within this call.
 */
int btcp_inject_ip(struct net *net, const void *pkt, unsigned int len);

/*
 * Ends a TIME-WAIT socket of net's TCP on the 4-tuple of a segment from
 * saddr:sport to daddr:dport (host order), as the stack itself does
 * for a SYN it accepts in TIME-WAIT. Returns 1 if one was ended, 0 if the
 * 4-tuple has no socket, -EBUSY if it has one in another state (left
 * alone). Process or softirq context, no btcp lock held.
 */
int btcp_timewait_recycle(struct net *net, unsigned int saddr, unsigned short sport,
			  unsigned int daddr, unsigned short dport);

/* What btcp_listener() reports of a listening socket's accept queue. */
struct btcp_listener_info {
	/* Connections established and waiting to be accepted. */
	unsigned int queued;
	/* The queue's limit (the listen() backlog). */
	unsigned int limit;
	/* How long the oldest of them has waited, in ms; 0 if none (or it
	 * came from a SYN cookie: no SYN/ACK time is kept for those). */
	unsigned int oldest_ms;
};

/*
 * Finds the TCP socket of net that a SYN to daddr:dport (host order) would
 * reach, as TCP input finds it (a listener on the address or a wildcard,
 * one of a reuseport group): 1 and *info filled if there is one, 0 if not.
 * Process context, no btcp lock held.
 */
int btcp_listener(struct net *net, unsigned int daddr, unsigned short dport,
		  struct btcp_listener_info *info);

/* Whether addr (host order) is one of net's own addresses: 1 or 0. */
int btcp_addr_is_local(struct net *net, unsigned int addr);

/*
 * A verdict of btcp's own that hook() may return: send the packet on
 * towards its (rewritten) destination. The glue then drops its input
 * route, routes it as locally sent and hands it to ip_local_out(), whose
 * hooks btcp skips, and tells netfilter NF_STOLEN (NF_DROP if there is no
 * route).
 */
#define BTCP_VERDICT_OUTPUT 0x100

/*
 * Another: send the packet on towards its (rewritten) destination inside
 * an IPIP header from *tunnel_src (host order), which hook() set. The glue
 * routes the outer packet and hands it to ip_local_out() as for
 * BTCP_VERDICT_OUTPUT (IPVS's tunnel mode builds the same packet).
 */
#define BTCP_VERDICT_TUNNEL 0x101

/*
 * Strips the outer IPv4 header, the first inner_off bytes, of an IPIP
 * packet in PRE_ROUTING, so the inner packet goes on through the hooks and
 * ip_rcv_finish() as if it had arrived as it is (a tunnel device's receive,
 * without the device). The inner header is checked as ip_rcv() checked the
 * outer. 0, or -errno and the packet must be dropped.
 */
int btcp_skb_decap(struct sk_buff *skb, unsigned int inner_off);

/*
 * Cut a TCP segment's payload to its first @keep bytes (a request that
 * moves is held at the front-end): the FIN after the bytes cut goes too,
 * a GRO packet becomes one segment, the IPv4 total length and both
 * checksums are set anew. 0, or a negative errno (drop the packet).
 */
int btcp_skb_trim_payload(struct sk_buff *skb, unsigned int keep);

/* Wall-clock milliseconds (control-channel counters survive reloads). */
unsigned long long btcp_real_ms(void);

/* seq_file output; returns 0 or -1 when the buffer overflowed (seq_file retries). */
int btcp_seq_write(struct seq_file *m, const void *data, size_t len);

#endif
