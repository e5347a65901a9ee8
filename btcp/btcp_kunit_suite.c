// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of btcp's kernel shell. The cases are Rust functions in
 * btcp/btcp_kunit.rs: each returns 0 when all its checks held, or the line
 * of the first check that failed.
 */
#include <kunit/test.h>
#include <linux/module.h>

#define BTCP_RUST_CASE(name)                                                  \
	int btcp_kunit_##name(void);                                          \
	static void name(struct kunit *test)                                  \
	{                                                                     \
		int line = btcp_kunit_##name();                               \
		KUNIT_EXPECT_EQ_MSG(test, line, 0,                            \
				    "check failed at line %d of the case's .rs file", \
				    line);                                    \
	}

BTCP_RUST_CASE(skb_read_linear)
BTCP_RUST_CASE(skb_read_bounds)
BTCP_RUST_CASE(counters_classify_skb)
BTCP_RUST_CASE(counters_ignore_non_tcp)
BTCP_RUST_CASE(counters_render)
BTCP_RUST_CASE(rewrite_checksums)
BTCP_RUST_CASE(hmac_rfc4231)
BTCP_RUST_CASE(sock_roundtrip)
BTCP_RUST_CASE(sock_refused)
BTCP_RUST_CASE(table_reclaims_oldest)
BTCP_RUST_CASE(table_wheel)
BTCP_RUST_CASE(table_entry_size)
BTCP_RUST_CASE(table_walk)

static struct kunit_case btcp_cases[] = {
	KUNIT_CASE(skb_read_linear),
	KUNIT_CASE(skb_read_bounds),
	KUNIT_CASE(counters_classify_skb),
	KUNIT_CASE(counters_ignore_non_tcp),
	KUNIT_CASE(counters_render),
	KUNIT_CASE(rewrite_checksums),
	KUNIT_CASE(hmac_rfc4231),
	KUNIT_CASE(sock_roundtrip),
	KUNIT_CASE(sock_refused),
	KUNIT_CASE(table_reclaims_oldest),
	KUNIT_CASE(table_wheel),
	KUNIT_CASE(table_entry_size),
	KUNIT_CASE(table_walk),
	{}
};

static struct kunit_suite btcp_suite = {
	.name = "btcp",
	.test_cases = btcp_cases,
};
kunit_test_suite(btcp_suite);

MODULE_DESCRIPTION("KUnit tests for btcp's kernel shell");
MODULE_LICENSE("GPL");
