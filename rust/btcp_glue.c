// SPDX-License-Identifier: GPL-2.0
/*
 * Per-netns registration of btcp's netfilter hooks and /proc/net/btcp,
 * plus inline sk_buff helpers, for the Rust side (rust/netfilter.rs,
 * rust/skb.rs). The policy lives in Rust; this file only wires it up.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <net/arp.h>
#include <net/checksum.h>
#include <net/dst.h>
#include <net/inet_connection_sock.h>
#include <net/inet_hashtables.h>
#include <net/inet_timewait_sock.h>
#include <net/ip.h>
#include <net/ip_tunnels.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/netns/generic.h>
#include "btcp_glue.h"

/*
 * Priorities: ingress before conntrack and raw (but after defrag), so the
 * BTCP layer sees what arrived before any other netfilter user rewrites it;
 * POST_ROUTING after source NAT, so it sees what will leave the node.
 */
#define BTCP_PRI_EARLY (NF_IP_PRI_CONNTRACK_DEFRAG + 50)
#define BTCP_PRI_LATE (NF_IP_PRI_NAT_SRC + 50)

static const unsigned int btcp_hooknums[] = {
	NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING,
};
#define BTCP_NHOOKS ARRAY_SIZE(btcp_hooknums)

struct btcp_pernet {
	void *state;
	struct nf_hook_ops ops[BTCP_NHOOKS];
	bool hooks_registered;
	/* Set at exit, read under RCU by kickers: see btcp_net_exit(). */
	bool dying;
	struct work_struct work;
	struct delayed_work tick;
	/* Serialises config() calls: /proc writes and netlink CONFIG_SETs. */
	struct mutex config_lock;
};

static unsigned int btcp_pernet_id __read_mostly;
static const struct btcp_pernet_ops *btcp_ops;
/* Unbound: the control channel's socket I/O must not hog a CPU's pool. */
static struct workqueue_struct *btcp_wq;

/*
 * Set while btcp hands a packet of its own to the stack on this CPU, so its
 * hooks, run synchronously from ip_local_out() or ip_local_deliver(), let
 * it through. Bottom halves are off meanwhile, so nothing else runs here.
 */
static DEFINE_PER_CPU(bool, btcp_in_own);

static int btcp_skb_output(struct net *net, struct sk_buff *skb);
static int btcp_skb_tunnel(struct net *net, struct sk_buff *skb, __be32 saddr);

static unsigned int btcp_nf_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	unsigned int verdict, tunnel_src = 0;

	if (this_cpu_read(btcp_in_own))
		return NF_ACCEPT;
	verdict = btcp_ops->hook(priv, state->hook, skb, &tunnel_src);
	if (verdict == BTCP_VERDICT_OUTPUT)
		return btcp_skb_output(state->net, skb) ? NF_DROP : NF_STOLEN;
	if (verdict == BTCP_VERDICT_TUNNEL)
		return btcp_skb_tunnel(state->net, skb, htonl(tunnel_src)) ? NF_DROP : NF_STOLEN;
	return verdict;
}

static void btcp_work_fn(struct work_struct *work)
{
	struct btcp_pernet *pn = container_of(work, struct btcp_pernet, work);

	btcp_ops->work(pn->state, 0);
}

static void btcp_tick_fn(struct work_struct *work)
{
	struct btcp_pernet *pn = container_of(to_delayed_work(work), struct btcp_pernet, tick);

	btcp_ops->work(pn->state, 1);
	if (!READ_ONCE(pn->dying))
		queue_delayed_work(btcp_wq, &pn->tick, msecs_to_jiffies(BTCP_TICK_MS));
}

void btcp_pernet_kick(struct net *net)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);

	rcu_read_lock();
	if (!READ_ONCE(pn->dying))
		queue_work(btcp_wq, &pn->work);
	rcu_read_unlock();
}

/* Each proc file's data is its enum btcp_proc_file; the namespace's
 * struct btcp_pernet is the parent directory's data. */
static int btcp_proc_show(struct seq_file *m, void *v)
{
	unsigned int file = (unsigned long)m->private;
	struct btcp_pernet *pn = proc_get_parent_data(file_inode(m->file));

	return btcp_ops->show(pn->state, file, m);
}

static int btcp_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, btcp_proc_show, pde_data(inode));
}

/* Renders a file of pn's state into a buffer of its own, as seq_read()
 * does: a show() that overflowed is run again with twice the room. */
#define BTCP_RENDER_MAX (64UL << 20)
static int btcp_render(struct btcp_pernet *pn, unsigned int file, char **bufp, size_t *lenp)
{
	struct seq_file m = {};
	size_t size = PAGE_SIZE;

	for (;;) {
		m.buf = kvmalloc(size, GFP_KERNEL);
		if (!m.buf)
			return -ENOMEM;
		m.size = size;
		m.count = 0;
		btcp_ops->show(pn->state, file, &m);
		if (!seq_has_overflowed(&m))
			break;
		kvfree(m.buf);
		if (size >= BTCP_RENDER_MAX)
			return -EFBIG;
		size *= 2;
	}
	*bufp = m.buf;
	*lenp = m.count;
	return 0;
}

int btcp_pernet_render(struct net *net, unsigned int file, char **buf, size_t *len)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);

	if (!pn->state)
		return -ENODEV;
	return btcp_render(pn, file, buf, len);
}

static int btcp_configure(struct btcp_pernet *pn, const char *text, size_t len,
			  const char *old, size_t old_len, char *err, size_t err_len)
{
	size_t cur_len;
	char *cur;
	int ret;

	err[0] = '\0';
	mutex_lock(&pn->config_lock);
	if (old) {
		ret = btcp_render(pn, BTCP_PROC_CONFIG, &cur, &cur_len);
		if (ret)
			goto out;
		if (cur_len != old_len || memcmp(cur, old, old_len)) {
			strscpy(err, "configuration changed meanwhile", err_len);
			ret = -EAGAIN;
		}
		kvfree(cur);
		if (ret)
			goto out;
	}
	ret = btcp_ops->config(pn->state, text, len, err, err_len);
	err[err_len - 1] = '\0';
out:
	mutex_unlock(&pn->config_lock);
	return ret;
}

int btcp_pernet_configure(struct net *net, const char *text, size_t len,
			  const char *old, size_t old_len, char *err, size_t err_len)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);

	if (!err_len)
		return -EINVAL;
	err[0] = '\0';
	if (!pn->state)
		return -ENODEV;
	return btcp_configure(pn, text, len, old, old_len, err, err_len);
}

/* A bad configuration is refused with EINVAL and its reason logged. */
static ssize_t btcp_config_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	struct btcp_pernet *pn = proc_get_parent_data(file_inode(file));
	char why[BTCP_CONFIG_ERR_MAX];
	char *buf;
	int err;

	if (count > BTCP_CONFIG_MAX)
		return -EFBIG;
	buf = memdup_user(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	err = btcp_configure(pn, buf, count, NULL, 0, why, sizeof(why));
	if (err && why[0])
		pr_warn("config: %s\n", why);
	kfree(buf);
	return err ? err : count;
}

static const struct proc_ops btcp_proc_ro_ops = {
	.proc_open = btcp_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static const struct proc_ops btcp_proc_rw_ops = {
	.proc_open = btcp_proc_open,
	.proc_read = seq_read,
	.proc_write = btcp_config_write,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int __net_init btcp_net_init(struct net *net)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);
	struct proc_dir_entry *dir;
	unsigned int i;
	int err;

	pn->state = btcp_ops->init(net);
	if (!pn->state)
		return -ENOMEM;

	pn->dying = false;
	mutex_init(&pn->config_lock);
	INIT_WORK(&pn->work, btcp_work_fn);
	INIT_DELAYED_WORK(&pn->tick, btcp_tick_fn);

	err = -ENOMEM;
	dir = proc_mkdir_data("btcp", 0555, net->proc_net, pn);
	if (!dir)
		goto err_state;
	/*
	 * config holds the cluster key, flows every client's address and
	 * port: root only.
	 */
	if (!proc_create_data("counters", 0444, dir, &btcp_proc_ro_ops,
			      (void *)(unsigned long)BTCP_PROC_COUNTERS) ||
	    !proc_create_data("flows", 0400, dir, &btcp_proc_ro_ops,
			      (void *)(unsigned long)BTCP_PROC_FLOWS) ||
	    !proc_create_data("config", 0600, dir, &btcp_proc_rw_ops,
			      (void *)(unsigned long)BTCP_PROC_CONFIG))
		goto err_proc;

	for (i = 0; i < BTCP_NHOOKS; i++) {
		pn->ops[i] = (struct nf_hook_ops){
			.hook = btcp_nf_hook,
			.priv = pn->state,
			.pf = NFPROTO_IPV4,
			.hooknum = btcp_hooknums[i],
			.priority = btcp_hooknums[i] == NF_INET_POST_ROUTING ?
				BTCP_PRI_LATE : BTCP_PRI_EARLY,
		};
	}
	err = nf_register_net_hooks(net, pn->ops, BTCP_NHOOKS);
	if (err)
		goto err_proc;
	pn->hooks_registered = true;
	queue_delayed_work(btcp_wq, &pn->tick, msecs_to_jiffies(BTCP_TICK_MS));
	return 0;

err_proc:
	remove_proc_subtree("btcp", net->proc_net);
err_state:
	btcp_ops->exit(pn->state);
	pn->state = NULL;
	mutex_destroy(&pn->config_lock);
	return err;
}

static void __net_exit btcp_net_exit(struct net *net)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);

	if (!pn->state)
		return;
	if (pn->hooks_registered)
		nf_unregister_net_hooks(net, pn->ops, BTCP_NHOOKS);
	/* Waits for open readers and writers of the proc files to finish.
	 * No netlink command runs: the caller's socket holds its namespace,
	 * and at unload the family is unregistered before these ops. */
	remove_proc_subtree("btcp", net->proc_net);
	/* After the grace period no hook runs with the state, and every kicker
	 * that saw dying == false has queued its work, which the cancels below
	 * then wait for or remove. */
	WRITE_ONCE(pn->dying, true);
	synchronize_net();
	cancel_delayed_work_sync(&pn->tick);
	cancel_work_sync(&pn->work);
	btcp_ops->exit(pn->state);
	pn->state = NULL;
	mutex_destroy(&pn->config_lock);
}

static struct pernet_operations btcp_net_ops = {
	.init = btcp_net_init,
	.exit = btcp_net_exit,
	.id = &btcp_pernet_id,
	.size = sizeof(struct btcp_pernet),
};

int btcp_pernet_register(const struct btcp_pernet_ops *ops)
{
	int err;

	/* One pernet_operations, so one registration at a time. */
	if (btcp_ops)
		return -EBUSY;
	btcp_wq = alloc_workqueue("btcp", WQ_UNBOUND, 0);
	if (!btcp_wq)
		return -ENOMEM;
	btcp_ops = ops;
	err = register_pernet_subsys(&btcp_net_ops);
	if (err) {
		btcp_ops = NULL;
		destroy_workqueue(btcp_wq);
	}
	return err;
}

void btcp_pernet_unregister(void)
{
	unregister_pernet_subsys(&btcp_net_ops);
	destroy_workqueue(btcp_wq);
	btcp_ops = NULL;
}

unsigned long long btcp_now_ms(void)
{
	return div_u64(ktime_get_ns(), NSEC_PER_MSEC);
}

void btcp_random_bytes(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

unsigned int btcp_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

/* The payload of each segment of a GSO/GRO packet; 0 for a plain one. */
unsigned int btcp_skb_gso_size(const struct sk_buff *skb)
{
	return skb_is_gso(skb) ? skb_shinfo(skb)->gso_size : 0;
}

/*
 * Whether the packet came over its link from the host at addr (host
 * order): its Ethernet source is the address the neighbour table holds
 * for addr on the device it arrived on (1, else 0). 0 without an
 * Ethernet header or a valid entry.
 */
int btcp_skb_from_neighbour(const struct sk_buff *skb, unsigned int addr)
{
	struct net_device *dev = skb->dev;
	struct neighbour *n;
	u8 ha[ETH_ALEN];
	bool from = false;

	if (!dev)
		return false;
	/* Only this host puts packets on its loopback: one of our own
	 * addresses sent it (our front-end side, forwarding to our back-end
	 * side after it took over a dead front-end's connections). */
	if (dev->flags & IFF_LOOPBACK)
		return inet_addr_type(dev_net(dev), htonl(addr)) == RTN_LOCAL;
	if (dev->type != ARPHRD_ETHER || !skb_mac_header_was_set(skb) ||
	    skb_mac_header_len(skb) < ETH_HLEN)
		return false;
	rcu_read_lock();
	n = __ipv4_neigh_lookup_noref(dev, (__force u32)htonl(addr));
	if (n && (READ_ONCE(n->nud_state) & NUD_VALID)) {
		neigh_ha_snapshot(ha, n, dev);
		from = ether_addr_equal(ha, eth_hdr(skb)->h_source);
	}
	rcu_read_unlock();
	return from;
}

const void *btcp_skb_header_pointer(const struct sk_buff *skb, unsigned int offset,
				    unsigned int len, void *buffer)
{
	if (offset > INT_MAX || len > INT_MAX)
		return NULL;
	return skb_header_pointer(skb, offset, len, buffer);
}

struct sk_buff *btcp_skb_alloc(unsigned int len)
{
	return alloc_skb(len, GFP_KERNEL);
}

void btcp_skb_free(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void *btcp_skb_put(struct sk_buff *skb, unsigned int len)
{
	if (skb_tailroom(skb) < len)
		return NULL;
	return skb_put(skb, len);
}

void btcp_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void btcp_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

int btcp_skb_rewrite(struct sk_buff *skb, const struct btcp_edit *edits, unsigned int n)
{
	unsigned int i, ihl, end = sizeof(struct iphdr);
	struct iphdr *iph;
	struct tcphdr *th;

	if (!pskb_may_pull(skb, sizeof(struct iphdr)))
		return -EINVAL;
	ihl = ((struct iphdr *)skb->data)->ihl * 4;
	if (ihl < sizeof(struct iphdr))
		return -EINVAL;
	end = ihl + sizeof(struct tcphdr);
	for (i = 0; i < n; i++) {
		if (edits[i].width != 2 && edits[i].width != 4)
			return -EINVAL;
		end = max_t(unsigned int, end, edits[i].offset + edits[i].width);
	}
	/* May reallocate the head: take pointers only afterwards. */
	if (skb_ensure_writable(skb, end))
		return -ENOMEM;
	iph = (struct iphdr *)skb->data;
	th = (struct tcphdr *)(skb->data + ihl);

	for (i = 0; i < n; i++) {
		const struct btcp_edit *e = &edits[i];
		u8 *p = skb->data + e->offset;
		__be32 old4 = htonl(e->old_val), new4 = htonl(e->new_val);
		__be16 old2 = htons(e->old_val), new2 = htons(e->new_val);
		const void *oldp = e->width == 4 ? (void *)&old4 : (void *)&old2;
		const void *newp = e->width == 4 ? (void *)&new4 : (void *)&new2;
		__wsum diff;

		/* The core computed the edit from what it saw: a mismatch
		 * means the packet changed under us, so refuse it. */
		if (memcmp(p, oldp, e->width))
			return -EINVAL;
		memcpy(p, newp, e->width);
		if (e->is_addr) {
			if (e->width != 4 || e->offset < 12 || e->offset > 16)
				return -EINVAL;
			csum_replace4(&iph->check, old4, new4);
			inet_proto_csum_replace4(&th->check, skb, old4, new4, true);
		} else if (e->offset < ihl) {
			diff = csum_sub(csum_partial(newp, e->width, 0),
					csum_partial(oldp, e->width, 0));
			csum_replace_by_diff(&iph->check, csum_shift(diff, e->offset));
		} else {
			/* Any alignment: TCP options need not be 16-bit aligned. */
			diff = csum_sub(csum_partial(newp, e->width, 0),
					csum_partial(oldp, e->width, 0));
			inet_proto_csum_replace_by_diff(&th->check, skb,
							csum_shift(diff, e->offset - ihl),
							false, false);
		}
	}
	return 0;
}


static struct sk_buff *btcp_skb_from_ip(const void *pkt, unsigned int len)
{
	const struct iphdr *iph = pkt;
	struct sk_buff *skb;

	if (len < sizeof(*iph) || len > IP_MAX_MTU || iph->ihl * 4 > len ||
	    ntohs(iph->tot_len) != len)
		return NULL;
	skb = alloc_skb(LL_MAX_HEADER + len, GFP_ATOMIC);
	if (!skb)
		return NULL;
	skb_reserve(skb, LL_MAX_HEADER);
	skb_reset_network_header(skb);
	skb_put_data(skb, pkt, len);
	skb_set_transport_header(skb, iph->ihl * 4);
	skb->protocol = htons(ETH_P_IP);
	return skb;
}

int btcp_send_ip(struct net *net, const void *pkt, unsigned int len)
{
	const struct iphdr *iph = pkt;
	struct flowi4 fl4 = {};
	struct sk_buff *skb;
	struct rtable *rt;
	bool was;
	int err;

	skb = btcp_skb_from_ip(pkt, len);
	if (!skb)
		return -EINVAL;
	fl4.daddr = iph->daddr;
	fl4.saddr = iph->saddr;
	fl4.flowi4_proto = iph->protocol;
	fl4.flowi4_flags = FLOWI_FLAG_ANYSRC;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt)) {
		kfree_skb(skb);
		return PTR_ERR(rt);
	}
	skb_dst_set(skb, &rt->dst);

	local_bh_disable();
	was = __this_cpu_read(btcp_in_own);
	__this_cpu_write(btcp_in_own, true);
	err = ip_local_out(net, NULL, skb);
	__this_cpu_write(btcp_in_own, was);
	local_bh_enable();
	return net_xmit_eval(err);
}

static int btcp_skb_output(struct net *net, struct sk_buff *skb)
{
	const struct iphdr *iph = ip_hdr(skb);
	struct flowi4 fl4 = {};
	struct rtable *rt;
	bool was;

	fl4.daddr = iph->daddr;
	fl4.saddr = iph->saddr;
	fl4.flowi4_proto = iph->protocol;
	fl4.flowi4_flags = FLOWI_FLAG_ANYSRC;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	/* As IPVS's direct routing does: the received packet becomes one we
	 * send. The checksum was fixed incrementally, so a received
	 * CHECKSUM_COMPLETE no longer describes it. */
	skb_dst_drop(skb);
	skb_dst_set(skb, &rt->dst);
	skb_forward_csum(skb);
	nf_reset_ct(skb);
	skb->pkt_type = PACKET_HOST;

	local_bh_disable();
	was = __this_cpu_read(btcp_in_own);
	__this_cpu_write(btcp_in_own, true);
	ip_local_out(net, NULL, skb);
	__this_cpu_write(btcp_in_own, was);
	local_bh_enable();
	return 0;
}

/* Sends skb inside IPIP from saddr; see BTCP_VERDICT_TUNNEL. */
static int btcp_skb_tunnel(struct net *net, struct sk_buff *skb, __be32 saddr)
{
	const struct iphdr *inner = ip_hdr(skb);
	__be16 df = inner->frag_off & htons(IP_DF);
	__be32 daddr = inner->daddr;
	u8 tos = inner->tos;
	struct flowi4 fl4 = {};
	struct rtable *rt;
	struct iphdr *iph;
	bool was;

	fl4.daddr = daddr;
	fl4.saddr = saddr;
	fl4.flowi4_proto = IPPROTO_IPIP;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	/* Room for the outer header (the head may be shared with a tap). */
	if (skb_cow_head(skb, LL_RESERVED_SPACE(rt->dst.dev) + sizeof(*iph))) {
		ip_rt_put(rt);
		return -ENOMEM;
	}
	skb_dst_drop(skb);
	skb_forward_csum(skb);
	nf_reset_ct(skb);
	/* GSO packets (GRO merged on the way in) are segmented as IPIP. */
	if (iptunnel_handle_offloads(skb, SKB_GSO_IPXIP4)) {
		ip_rt_put(rt);
		return -EINVAL;
	}
	skb_set_inner_ipproto(skb, IPPROTO_IPIP);
	skb_push(skb, sizeof(*iph));
	skb_reset_network_header(skb);
	memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
	iph = ip_hdr(skb);
	iph->version = 4;
	iph->ihl = sizeof(*iph) >> 2;
	iph->tos = tos;
	iph->frag_off = df;
	iph->protocol = IPPROTO_IPIP;
	iph->ttl = ip4_dst_hoplimit(&rt->dst);
	iph->saddr = saddr;
	iph->daddr = daddr;
	skb_dst_set(skb, &rt->dst);
	ip_select_ident(net, skb, NULL);
	skb->pkt_type = PACKET_HOST;

	/* ip_local_out() sets the total length and the header checksum. */
	local_bh_disable();
	was = __this_cpu_read(btcp_in_own);
	__this_cpu_write(btcp_in_own, true);
	ip_local_out(net, NULL, skb);
	__this_cpu_write(btcp_in_own, was);
	local_bh_enable();
	return 0;
}

int btcp_skb_trim_payload(struct sk_buff *skb, unsigned int keep)
{
	unsigned int ihl, doff, len;
	struct iphdr *iph;
	struct tcphdr *th;

	if (!pskb_may_pull(skb, sizeof(*iph)))
		return -EINVAL;
	ihl = ((struct iphdr *)skb->data)->ihl * 4;
	if (ihl < sizeof(*iph) || !pskb_may_pull(skb, ihl + sizeof(*th)))
		return -EINVAL;
	doff = ((struct tcphdr *)(skb->data + ihl))->doff * 4;
	if (doff < sizeof(*th) || keep > skb->len)
		return -EINVAL;
	len = ihl + doff + keep;
	if (len >= skb->len)
		return 0;
	if (pskb_trim(skb, len) || skb_ensure_writable(skb, len))
		return -ENOMEM;
	if (skb_is_gso(skb))
		skb_gso_reset(skb);
	/* May have reallocated the head: pointers only now. */
	iph = (struct iphdr *)skb->data;
	th = (struct tcphdr *)(skb->data + ihl);
	th->fin = 0;
	iph->tot_len = htons(len);
	ip_send_check(iph);
	th->check = 0;
	th->check = csum_tcpudp_magic(iph->saddr, iph->daddr, len - ihl, IPPROTO_TCP,
				      csum_partial(th, len - ihl, 0));
	skb->ip_summed = CHECKSUM_NONE;
	return 0;
}

int btcp_skb_decap(struct sk_buff *skb, unsigned int inner_off)
{
	const struct iphdr *iph;
	unsigned int ihl, len;

	if (!pskb_may_pull(skb, inner_off + sizeof(*iph)))
		return -EINVAL;
	iph = (const struct iphdr *)(skb->data + inner_off);
	ihl = iph->ihl * 4;
	if (iph->version != 4 || ihl < sizeof(*iph))
		return -EINVAL;
	if (!pskb_may_pull(skb, inner_off + ihl))
		return -EINVAL;
	iph = (const struct iphdr *)(skb->data + inner_off);
	len = ntohs(iph->tot_len);
	if (ip_fast_csum((const u8 *)iph, iph->ihl) || len < ihl ||
	    skb->len < inner_off + len)
		return -EINVAL;
	/* Pulls the outer header (checksum kept right), clears the outer
	 * packet's dst, conntrack and tunnel GSO bits. */
	if (__iptunnel_pull_header(skb, inner_off, htons(ETH_P_IP), false, false))
		return -ENOMEM;
	skb->skb_iif = skb->dev ? skb->dev->ifindex : 0;
	skb_reset_network_header(skb);
	skb_set_transport_header(skb, ihl);
	return pskb_trim_rcsum(skb, len) ? -ENOMEM : 0;
}

unsigned long long btcp_real_ms(void)
{
	return div_u64(ktime_get_real_ns(), NSEC_PER_MSEC);
}

int btcp_inject_ip(struct net *net, const void *pkt, unsigned int len)
{
	const struct iphdr *iph = pkt;
	struct flowi4 fl4 = {};
	struct net_device *dev;
	struct sk_buff *skb;
	struct rtable *rt;
	int err;

	skb = btcp_skb_from_ip(pkt, len);
	if (!skb)
		return -EINVAL;
	/* Arrive on the interface that leads back to the source, as the
	 * real packet would have. */
	fl4.daddr = iph->saddr;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt)) {
		kfree_skb(skb);
		return PTR_ERR(rt);
	}
	dev = rt->dst.dev;
	skb->dev = dev;
	skb->skb_iif = dev->ifindex;
	skb->pkt_type = PACKET_HOST;
	/* CHECKSUM_NONE: TCP verifies what we built. */

	local_bh_disable();
	rcu_read_lock();
	err = ip_route_input_noref(skb, iph->daddr, iph->saddr, iph->tos, dev);
	ip_rt_put(rt);
	if (err) {
		rcu_read_unlock();
		local_bh_enable();
		kfree_skb(skb);
		return err;
	}
	/* No btcp_in_own here: the packet meets only LOCAL_IN, where btcp
	 * lets everything through, while what the stack sends in answer,
	 * synchronously from this call, must meet btcp's hooks. */
	err = dst_input(skb);
	rcu_read_unlock();
	local_bh_enable();
	return err == NET_RX_SUCCESS ? 0 : -EIO;
}

int btcp_seq_write(struct seq_file *m, const void *data, size_t len)
{
	return seq_write(m, data, len);
}

int btcp_timewait_recycle(struct net *net, unsigned int saddr, unsigned short sport,
			  unsigned int daddr, unsigned short dport)
{
	struct sock *sk;
	int ret;

	/* The ehash bucket locks are taken in softirq (TCP input), so
	 * inet_twsk_deschedule_put() must run with BH off, as
	 * inet_twsk_purge() does: lockdep caught it once without. */
	local_bh_disable();
	rcu_read_lock();
	sk = __inet_lookup_established(net, net->ipv4.tcp_death_row.hashinfo,
				       htonl(saddr), htons(sport),
				       htonl(daddr), dport, 0, 0);
	rcu_read_unlock();
	if (!sk) {
		local_bh_enable();
		return 0;
	}
	/* The lookup took a reference; both branches drop it. */
	if (sk->sk_state == TCP_TIME_WAIT) {
		inet_twsk_deschedule_put(inet_twsk(sk));
		ret = 1;
	} else {
		sock_gen_put(sk);
		ret = -EBUSY;
	}
	local_bh_enable();
	return ret;
}

int btcp_addr_is_local(struct net *net, unsigned int addr)
{
	return inet_addr_type(net, htonl(addr)) == RTN_LOCAL;
}

int btcp_listener(struct net *net, unsigned int daddr, unsigned short dport,
		  struct btcp_listener_info *info)
{
	struct request_sock_queue *queue;
	struct request_sock *head;
	struct sock *sk;
	u64 synack_us = 0;

	/* Listeners are freed after an RCU grace period (SOCK_RCU_FREE), and
	 * the lookup takes no reference. */
	rcu_read_lock();
	sk = __inet_lookup_listener(net, net->ipv4.tcp_death_row.hashinfo, NULL, 0,
				    0, 0, htonl(daddr), dport, 0, 0);
	if (!sk || sk->sk_state != TCP_LISTEN) {
		rcu_read_unlock();
		return 0;
	}
	info->queued = READ_ONCE(sk->sk_ack_backlog);
	info->limit = READ_ONCE(sk->sk_max_ack_backlog);
	/* The queue's head is the oldest connection; the lock is the one
	 * accept() and TCP input (softirq) take to unlink and add. */
	queue = &inet_csk(sk)->icsk_accept_queue;
	spin_lock_bh(&queue->rskq_lock);
	head = queue->rskq_accept_head;
	if (head)
		synack_us = tcp_rsk(head)->snt_synack;
	spin_unlock_bh(&queue->rskq_lock);
	rcu_read_unlock();
	info->oldest_ms = 0;
	if (synack_us) {
		u64 now_us = tcp_clock_us();

		if (now_us > synack_us)
			info->oldest_ms = (unsigned int)min_t(u64, (now_us - synack_us) / 1000,
							      UINT_MAX);
	}
	return 1;
}
