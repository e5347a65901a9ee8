// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "btcp" (see glue_genl.h and
 * Documentation/btcpctl.md). netnsok: every command acts on the caller's
 * network namespace, whose btcp state btcp_glue.c renders (through the
 * state's show(), as for /proc/net/btcp/) and configures (through its
 * config(), as a write to /proc/net/btcp/config). The caller's socket holds
 * its namespace, so the state outlives the command.
 *
 * Texts travel whole in one attribute; only the flow list, which grows with
 * the number of connections, is a dump of line-aligned chunks, all cut from
 * one snapshot rendered when the dump starts. The metrics are typed
 * attributes (METRIC, nested), dumped the same way from one snapshot.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include "btcp_glue.h"

static struct genl_family btcp_genl_family;
static bool btcp_genl_registered;

/* The longest text one attribute carries (nla_len is 16 bits, NUL included). */
#define BTCP_GENL_TEXT_MAX (U16_MAX - NLA_HDRLEN - 1)

static const struct nla_policy btcp_genl_policy[BTCP_A_MAX + 1] = {
	[BTCP_A_CONFIG] = { .type = NLA_STRING, .len = BTCP_CONFIG_MAX },
	[BTCP_A_TEXT] = { .type = NLA_STRING },
	[BTCP_A_CONFIG_OLD] = { .type = NLA_STRING },
	[BTCP_A_METRIC] = { .type = NLA_REJECT }, /* replies only */
};

/* The length of a validated NLA_STRING attribute, without its NUL. */
static size_t btcp_nla_strlen(const struct nlattr *a)
{
	size_t len = nla_len(a);
	const char *s = nla_data(a);

	if (len && !s[len - 1])
		len--;
	return len;
}

/* Adds text (len bytes) as a NUL-terminated string attribute. */
static int btcp_nla_put_text(struct sk_buff *skb, int type, const char *text, size_t len)
{
	struct nlattr *a;

	if (len > BTCP_GENL_TEXT_MAX)
		return -EMSGSIZE;
	a = nla_reserve(skb, type, len + 1);
	if (!a)
		return -EMSGSIZE;
	memcpy(nla_data(a), text, len);
	((char *)nla_data(a))[len] = '\0';
	return 0;
}

/* Answers a request with one attribute: the rendered file. */
static int btcp_genl_reply_file(struct genl_info *info, unsigned int file, int type)
{
	struct sk_buff *msg;
	size_t len;
	char *buf;
	void *hdr;
	int err;

	err = btcp_pernet_render(genl_info_net(info), file, &buf, &len);
	if (err)
		return err;
	err = -EMSGSIZE;
	if (len > BTCP_GENL_TEXT_MAX) {
		NL_SET_ERR_MSG(info->extack, "text too long for one attribute");
		goto out;
	}
	err = -ENOMEM;
	msg = genlmsg_new(nla_total_size(len + 1), GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &btcp_genl_family, 0, info->genlhdr->cmd);
	if (!hdr || btcp_nla_put_text(msg, type, buf, len)) {
		nlmsg_free(msg);
		err = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
out:
	kvfree(buf);
	return err;
}

static int btcp_genl_config_get(struct sk_buff *skb, struct genl_info *info)
{
	return btcp_genl_reply_file(info, BTCP_PROC_CONFIG, BTCP_A_CONFIG);
}

static int btcp_genl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	return btcp_genl_reply_file(info, BTCP_PROC_COUNTERS, BTCP_A_TEXT);
}

static int btcp_genl_config_set(struct sk_buff *skb, struct genl_info *info)
{
	const struct nlattr *text = info->attrs[BTCP_A_CONFIG];
	const struct nlattr *old = info->attrs[BTCP_A_CONFIG_OLD];
	char why[BTCP_CONFIG_ERR_MAX];
	int err;

	if (GENL_REQ_ATTR_CHECK(info, BTCP_A_CONFIG))
		return -EINVAL;
	err = btcp_pernet_configure(genl_info_net(info), nla_data(text), btcp_nla_strlen(text),
				    old ? nla_data(old) : NULL, old ? btcp_nla_strlen(old) : 0,
				    why, sizeof(why));
	if (err && why[0])
		NL_SET_ERR_MSG_FMT(info->extack, "%s", why);
	return err;
}

/* FLOWS_GET's dump state, in cb->ctx: the snapshot and how much is sent. */
struct btcp_genl_dump {
	char *buf;
	size_t len;
	size_t off;
	bool started;
};

static struct btcp_genl_dump *btcp_genl_dump_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct btcp_genl_dump) > sizeof(cb->ctx));
	return (struct btcp_genl_dump *)cb->ctx;
}

/* A dump's snapshot: the rendering of file, taken when the dump starts. */
static int btcp_genl_dump_start(struct netlink_callback *cb, unsigned int file)
{
	struct btcp_genl_dump *d = btcp_genl_dump_ctx(cb);

	*d = (struct btcp_genl_dump){};
	return btcp_pernet_render(sock_net(cb->skb->sk), file, &d->buf, &d->len);
}

static int btcp_genl_flows_start(struct netlink_callback *cb)
{
	return btcp_genl_dump_start(cb, BTCP_PROC_FLOWS);
}

/* One message per call: as many whole lines as fit (a line longer than a
 * message is cut), until the snapshot is sent; an empty one is one empty
 * chunk. */
static int btcp_genl_flows_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct btcp_genl_dump *d = btcp_genl_dump_ctx(cb);
	size_t room, n;
	int tail;
	void *hdr;

	if (d->started && d->off >= d->len)
		return 0;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &btcp_genl_family, NLM_F_MULTI, BTCP_CMD_FLOWS_GET);
	if (!hdr)
		return -EMSGSIZE;
	tail = skb_tailroom(skb) - NLA_HDRLEN - NLA_ALIGNTO - 1;
	if (tail < 64) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	room = min_t(size_t, tail, BTCP_GENL_TEXT_MAX);
	n = d->len - d->off;
	if (n > room) {
		/* Back to the end of the last whole line that fits, if any. */
		n = room;
		while (n && d->buf[d->off + n - 1] != '\n')
			n--;
		if (!n)
			n = room;
	}
	if (btcp_nla_put_text(skb, BTCP_A_TEXT, d->buf + d->off, n)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	d->off += n;
	d->started = true;
	return skb->len;
}

static int btcp_genl_dump_done(struct netlink_callback *cb)
{
	kvfree(btcp_genl_dump_ctx(cb)->buf);
	return 0;
}

static int btcp_genl_metrics_start(struct netlink_callback *cb)
{
	return btcp_genl_dump_start(cb, BTCP_PROC_METRICS);
}

/* The snapshot is a sequence of whole METRIC attributes, each carrying its
 * length: one message per call takes as many as fit. */
static int btcp_genl_metrics_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct btcp_genl_dump *d = btcp_genl_dump_ctx(cb);
	size_t n = 0, room, sz;
	const struct nlattr *a;
	void *hdr;

	if (d->started && d->off >= d->len)
		return 0;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &btcp_genl_family, NLM_F_MULTI, BTCP_CMD_METRICS_GET);
	if (!hdr)
		return -EMSGSIZE;
	room = skb_tailroom(skb);
	while (d->len - d->off - n >= NLA_HDRLEN) {
		a = (const struct nlattr *)(d->buf + d->off + n);
		sz = NLA_ALIGN(a->nla_len);
		/* Rendered by us: a bad length is a bug, not a reason to loop. */
		if (a->nla_len < NLA_HDRLEN || sz > d->len - d->off - n) {
			genlmsg_cancel(skb, hdr);
			return -EINVAL;
		}
		if (sz > room - n)
			break;
		n += sz;
	}
	if (!n && d->off < d->len) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	skb_put_data(skb, d->buf + d->off, n);
	genlmsg_end(skb, hdr);
	d->off += n;
	d->started = true;
	return skb->len;
}

/*
 * The configuration holds the cluster key, the flow table every client's
 * address and port: they need CAP_NET_ADMIN (GENL_ADMIN_PERM), as their
 * /proc files need root. Counters and metrics are public.
 */
static const struct genl_ops btcp_genl_ops[] = {
	{
		.cmd = BTCP_CMD_CONFIG_GET,
		.doit = btcp_genl_config_get,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = BTCP_CMD_CONFIG_SET,
		.doit = btcp_genl_config_set,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = BTCP_CMD_STATS_GET,
		.doit = btcp_genl_stats_get,
	},
	{
		.cmd = BTCP_CMD_FLOWS_GET,
		.start = btcp_genl_flows_start,
		.dumpit = btcp_genl_flows_dump,
		.done = btcp_genl_dump_done,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = BTCP_CMD_METRICS_GET,
		.start = btcp_genl_metrics_start,
		.dumpit = btcp_genl_metrics_dump,
		.done = btcp_genl_dump_done,
	},
};

/*
 * parallel_ops: the commands need no global genetlink lock; the state
 * locks itself, and configuration changes of a namespace are serialised by
 * btcp_pernet_configure(). resv_start_op 0: every command is strictly
 * validated against the policy.
 */
static struct genl_family btcp_genl_family = {
	.name = BTCP_GENL_NAME,
	.version = BTCP_GENL_VERSION,
	.maxattr = BTCP_A_MAX,
	.policy = btcp_genl_policy,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = btcp_genl_ops,
	.n_ops = ARRAY_SIZE(btcp_genl_ops),
	.resv_start_op = 0,
};

int btcp_genl_register(void)
{
	int err;

	if (btcp_genl_registered)
		return -EBUSY;
	err = genl_register_family(&btcp_genl_family);
	if (!err)
		btcp_genl_registered = true;
	return err;
}

/* A lookup of the family by name (btcpctl's first request) loads btcp.ko
 * where modprobe can find it. */
MODULE_ALIAS_GENL_FAMILY(BTCP_GENL_NAME);

void btcp_genl_unregister(void)
{
	if (!btcp_genl_registered)
		return;
	/* Takes genetlink's locks for writing, so it waits for running
	 * commands (parallel ones run under cb_lock for reading). */
	genl_unregister_family(&btcp_genl_family);
	btcp_genl_registered = false;
}
