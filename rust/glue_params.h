/* SPDX-License-Identifier: GPL-2.0 */
/* btcp's module parameters, with their defaults sized from memory. */
#ifndef BTCP_GLUE_PARAMS_H
#define BTCP_GLUE_PARAMS_H

/* Most flows in each table of a namespace. */
unsigned int btcp_param_max_flows(void);
/* Bytes of request a namespace's front-end buffers at once. */
unsigned long btcp_param_max_request_bytes(void);

/* Entries of each of the namespace's two LARD target tables. */
unsigned int btcp_param_lard_targets(void);

/* Slots of the namespace's flow filter (before rounding). */
unsigned int btcp_param_hash_buckets(void);

#endif
