// SPDX-License-Identifier: GPL-2.0
/*
 * HMAC-SHA256 for the control channel through the kernel crypto API; see
 * glue_crypto.h and rust/hmac.rs.
 */
#include <crypto/hash.h>
#include <crypto/sha2.h>
#include <crypto/utils.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "glue_crypto.h"

struct btcp_hmac {
	struct crypto_shash *tfm;
};

int btcp_hmac_new(const void *key, unsigned int keylen, struct btcp_hmac **out)
{
	struct crypto_shash *tfm;
	struct btcp_hmac *h;
	int err;

	if (!keylen)
		return -EINVAL;
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm)) {
		kfree(h);
		return PTR_ERR(tfm);
	}
	err = -EINVAL;
	if (crypto_shash_digestsize(tfm) != SHA256_DIGEST_SIZE)
		goto err_free;
	err = crypto_shash_setkey(tfm, key, keylen);
	if (err)
		goto err_free;
	h->tfm = tfm;
	*out = h;
	return 0;

err_free:
	crypto_free_shash(tfm);
	kfree(h);
	return err;
}

int btcp_hmac_digest(struct btcp_hmac *h, const void *data, unsigned int len,
		     unsigned char *out)
{
	return crypto_shash_tfm_digest(h->tfm, data, len, out);
}

int btcp_hmac_verify(struct btcp_hmac *h, const void *data, unsigned int len,
		     const unsigned char *tag)
{
	u8 want[SHA256_DIGEST_SIZE];
	int err;

	err = crypto_shash_tfm_digest(h->tfm, data, len, want);
	if (!err && crypto_memneq(want, tag, sizeof(want)))
		err = -EBADMSG;
	memzero_explicit(want, sizeof(want));
	return err;
}

void btcp_hmac_free(struct btcp_hmac *h)
{
	crypto_free_shash(h->tfm);
	kfree(h);
}
