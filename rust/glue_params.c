// SPDX-License-Identifier: GPL-2.0
/*
 * btcp's module parameters (insmod btcp.ko max_flows=... ), listed by
 * modinfo and shown under /sys/module/btcp/parameters/. Read-only once
 * loaded: each namespace sizes its tables from them when it is created.
 * 0, the default, means "sized from memory", as nf_conntrack_max is.
 */
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include "glue_params.h"

static unsigned int max_flows;
module_param(max_flows, uint, 0444);
MODULE_PARM_DESC(max_flows,
		 "Most flows in each of a namespace's two tables (front-end, back-end); lingering flows are reclaimed, live ones refused beyond it (0: one per 32 KiB of memory, 4096 to 1048576)");

static unsigned int max_request_kb;
module_param(max_request_kb, uint, 0444);
MODULE_PARM_DESC(max_request_kb,
		 "KiB of request bytes a namespace's front-end buffers at once, across its flows (0: 1/64 of memory, at least 1024)");

static unsigned int hash_buckets;
module_param(hash_buckets, uint, 0444);
MODULE_PARM_DESC(hash_buckets,
		 "Slots of each namespace's lock-free flow filter, rounded up to a power of two, 1024 to 1048576 (0: about max_flows)");

static unsigned int lard_targets;
module_param(lard_targets, uint, 0444);
MODULE_PARM_DESC(lard_targets,
		 "Targets in each of a namespace's two LARD tables (lard, lard-r pools), 40 bytes each; size it to hold the working set (0: max_flows / 8, 4096 to 65536)");

static unsigned long btcp_ram_bytes(void)
{
	return totalram_pages() << PAGE_SHIFT;
}

unsigned int btcp_param_max_flows(void)
{
	if (max_flows)
		return max_flows;
	return clamp_t(unsigned long, btcp_ram_bytes() >> 15, 4096, 1 << 20);
}

unsigned long btcp_param_max_request_bytes(void)
{
	if (max_request_kb)
		return (unsigned long)max_request_kb << 10;
	return max_t(unsigned long, btcp_ram_bytes() >> 6, 1UL << 20);
}

unsigned int btcp_param_lard_targets(void)
{
	if (lard_targets)
		return min_t(unsigned int, lard_targets, 1 << 20);
	return clamp_t(unsigned int, btcp_param_max_flows() / 8, 4096, 65536);
}

unsigned int btcp_param_hash_buckets(void)
{
	return hash_buckets ? hash_buckets : btcp_param_max_flows();
}
