/* SPDX-License-Identifier: GPL-2.0 */
/*
 * btcp's generic netlink family "btcp" (rust/glue_genl.c): run-time
 * configuration and the text views of /proc/net/btcp/ over netlink, per
 * network namespace. The command and attribute numbers are ABI: btcpctl
 * (userspace-tools/btcpctl/src/nl.rs) mirrors them, and
 * Documentation/btcpctl.md describes them.
 */
#ifndef BTCP_GLUE_GENL_H
#define BTCP_GLUE_GENL_H

#include <linux/types.h>

struct net;

#define BTCP_GENL_NAME "btcp"
#define BTCP_GENL_VERSION 1

enum btcp_genl_cmd {
	BTCP_CMD_UNSPEC = 0,
	BTCP_CMD_CONFIG_GET = 1, /* reply: CONFIG; CAP_NET_ADMIN */
	BTCP_CMD_CONFIG_SET = 2, /* CONFIG [, CONFIG_OLD]; CAP_NET_ADMIN */
	BTCP_CMD_STATS_GET = 3,	 /* reply: TEXT (/proc/net/btcp/counters) */
	BTCP_CMD_FLOWS_GET = 4,	 /* dump only: TEXT chunks (/proc/net/btcp/flows) */
	BTCP_CMD_METRICS_GET = 5, /* dump only: METRIC attributes, whole ones per message */
};

enum btcp_genl_attr {
	BTCP_A_UNSPEC = 0,
	BTCP_A_CONFIG = 1,	/* NLA_STRING: the whole configuration text */
	BTCP_A_TEXT = 2,	/* NLA_STRING: rendered text, whole lines */
	BTCP_A_CONFIG_OLD = 3,	/* NLA_STRING: set only if the config is still this */
	/* NLA_NESTED, in replies only: one figure (rust/btcp-core/src/metrics.rs,
	 * module attr, has its attributes and their types). */
	BTCP_A_METRIC = 4,
};
#define BTCP_A_MAX BTCP_A_METRIC

/*
 * Registers the family; the pernet ops (btcp_pernet_register) must be
 * registered first and stay so until btcp_genl_unregister() returns, which
 * waits for running commands. A dump in progress holds a module reference.
 */
int btcp_genl_register(void);
void btcp_genl_unregister(void);

#ifndef __BINDGEN__
/* Between the two C files of the glue; btcp_glue.c implements them. */

/*
 * Renders /proc/net/btcp/<file> of net's btcp state into a kvmalloc'd
 * buffer (*buf, *len; kvfree it), through the state's show(). 0 or -errno.
 */
int btcp_pernet_render(struct net *net, unsigned int file, char **buf, size_t *len);

/*
 * Replaces net's configuration with text (len bytes), all or nothing, as a
 * write to /proc/net/btcp/config does; if old is not NULL, only while the
 * configuration still renders as old (old_len bytes), else -EAGAIN. On
 * error, err (err_len bytes, NUL-terminated) says why, possibly empty.
 */
int btcp_pernet_configure(struct net *net, const char *text, size_t len,
			  const char *old, size_t old_len, char *err, size_t err_len);
#endif

#endif
