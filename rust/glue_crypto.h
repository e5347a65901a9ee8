/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HMAC-SHA256 from the kernel crypto API, for authenticating control
 * channel frames (rust/hmac.rs wraps it).
 */
#ifndef BTCP_GLUE_CRYPTO_H
#define BTCP_GLUE_CRYPTO_H

#include <linux/types.h>

/* An "hmac(sha256)" transform keyed once; opaque. */
struct btcp_hmac;

/*
 * Allocates an hmac(sha256) transform and sets its key (copied; the
 * caller may wipe its buffer afterwards). An empty key is refused
 * (-EINVAL). Process context (may sleep). 0 and *out set, or -errno.
 */
int btcp_hmac_new(const void *key, unsigned int keylen, struct btcp_hmac **out);

/*
 * The 32-byte HMAC-SHA256 of data into out. Any context; concurrent calls
 * on one transform are fine (the key is read-only, the state on the
 * stack). 0 or -errno.
 */
int btcp_hmac_digest(struct btcp_hmac *h, const void *data, unsigned int len,
		     unsigned char *out);

/*
 * Checks a 32-byte tag against data in constant time (crypto_memneq).
 * 0 when it matches, -EBADMSG when not, or -errno if hashing failed.
 * Any context.
 */
int btcp_hmac_verify(struct btcp_hmac *h, const void *data, unsigned int len,
		     const unsigned char *tag);

/* Zeroises and frees the transform. Process context. */
void btcp_hmac_free(struct btcp_hmac *h);

#endif
