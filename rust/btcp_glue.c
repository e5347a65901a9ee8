// SPDX-License-Identifier: GPL-2.0
/*
 * Per-netns registration of btcp's netfilter hooks and /proc/net/btcp,
 * plus inline sk_buff helpers, for the Rust side (rust/netfilter.rs,
 * rust/skb.rs). The policy lives in Rust; this file only wires it up.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
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
};

static unsigned int btcp_pernet_id __read_mostly;
static const struct btcp_pernet_ops *btcp_ops;

static unsigned int btcp_nf_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	return btcp_ops->hook(priv, state->hook, skb);
}

static int btcp_counters_show(struct seq_file *m, void *v)
{
	return btcp_ops->show(m->private, m);
}

static int __net_init btcp_net_init(struct net *net)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);
	struct proc_dir_entry *dir;
	unsigned int i;
	int err;

	pn->state = btcp_ops->init(net);
	if (!pn->state)
		return -ENOMEM;

	err = -ENOMEM;
	dir = proc_mkdir("btcp", net->proc_net);
	if (!dir)
		goto err_state;
	if (!proc_create_single_data("counters", 0444, dir, btcp_counters_show, pn->state))
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
	return 0;

err_proc:
	remove_proc_subtree("btcp", net->proc_net);
err_state:
	btcp_ops->exit(pn->state);
	pn->state = NULL;
	return err;
}

static void __net_exit btcp_net_exit(struct net *net)
{
	struct btcp_pernet *pn = net_generic(net, btcp_pernet_id);

	if (!pn->state)
		return;
	if (pn->hooks_registered)
		nf_unregister_net_hooks(net, pn->ops, BTCP_NHOOKS);
	/* Waits for open readers of the proc files to finish. */
	remove_proc_subtree("btcp", net->proc_net);
	/* No hook may still run with the state when Rust frees it. */
	synchronize_net();
	btcp_ops->exit(pn->state);
	pn->state = NULL;
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
	btcp_ops = ops;
	err = register_pernet_subsys(&btcp_net_ops);
	if (err)
		btcp_ops = NULL;
	return err;
}

void btcp_pernet_unregister(void)
{
	unregister_pernet_subsys(&btcp_net_ops);
	btcp_ops = NULL;
}

unsigned int btcp_skb_len(const struct sk_buff *skb)
{
	return skb->len;
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

int btcp_seq_write(struct seq_file *m, const void *data, size_t len)
{
	return seq_write(m, data, len);
}
