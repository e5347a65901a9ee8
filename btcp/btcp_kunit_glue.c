// SPDX-License-Identifier: GPL-2.0
/* The test module links its own copy of the glue (an object may belong to
 * one module only). */
#include "../rust/btcp_glue.c"
#include "../rust/glue_sock.c"
#include "../rust/glue_crypto.c"
#include "../rust/glue_params.c"
