# btcp: TCP handoff for content-aware web clusters, as a Rust kernel module.
# `make demo` and `make test` do all their own set-up (see README.md).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
KVARIANT ?= lab
export KVARIANT
# CLIPPY=1 builds the module through clippy-driver (the kernel's CLIPPY=1).
CLIPPY ?=

.PHONY: all deps kernel module tools core-test fuzz test test-faults test-debug test-vms test-failover demo bench bench-lard bench-scale bench-attack clean

all: module

deps:
	@bash scripts/deps.sh

kernel: deps
	@bash scripts/kernel.sh >/dev/null

module: kernel
	@$(MAKE) -s -C "$$(bash scripts/kernel.sh)" M=$(CURDIR) LLVM=1 $(if $(CLIPPY),CLIPPY=1) modules

# btcpctl, the configuration tool: target/release/btcpctl
tools: deps
	cargo build --release --locked -p btcpctl

core-test: deps
	cargo test -p btcp_core

# The HTTP parser under libFuzzer for FUZZ_SECS (part of `make test`).
FUZZ_SECS ?= 60
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECS)

test: deps
	@bash scripts/test.sh

# The lab half of the fault matrix (issue 4), one boot, a table at the end.
test-faults: module tools
	@bash scripts/test-faults.sh

# The lab suite on the debug kernel (KASAN, lockdep, kmemleak, ...).
test-debug: deps tools
	@bash scripts/test-debug.sh

demo: module tools
	@bash scripts/lab-show.sh demo 600

# Not a test: one VM per node; wrk against a back-end directly, btcp,
# HAProxy, nginx as a proxy and IPVS-DR, with 1-3 back-ends; each node's
# CPU time; tables, ratios and plots in out/bench/.
bench: module tools
	@bash scripts/bench.sh

# Not a test: LARD/R and LARD against weighted round-robin on the multi-VM
# lab (a SURGE-like workload, disk-bound back-ends): throughput, cache hit
# ratios, disk reads.
bench-lard: module tools
	@bash scripts/bench-lard.sh

# Not a test: held connections' memory, Connection: close at the default
# linger, forwarding rate with 1 and 2 vCPUs.
bench-scale: module tools
	@bash scripts/bench-scale.sh

# The multi-VM lab (one VM per node, qemu/run-cluster.sh): the remote
# handoff across VMs and each node's CPU time for a 64 MiB download; a
# back-end drained, unloaded and loaded again under wrk; back-end failures
# (its death, its server stopped and frozen) in one boot.
test-vms: module tools
	@bash qemu/run-cluster.sh --modules $(CURDIR)/btcp.ko --out out/vms tests/lab/vm/handoff.sh
	@bash qemu/run-cluster.sh --modules $(CURDIR)/btcp.ko --out out/vms-upgrade tests/lab/vm/upgrade.sh
	@$(MAKE) -s test-failover

# Failures under load in the multi-VM lab, one boot: a back-end's death,
# its server stopped and frozen, the front-end's death (two front-ends
# under keepalived); then one table of them all.
test-failover: module tools
	@bash qemu/run-cluster.sh --modules $(CURDIR)/btcp.ko --out out/vms-failures tests/lab/vm/chain.sh backend_death server_health fe_failover failover_table

# Not a test: a SYN flood against btcp and a back-end's own stack, slow
# heads from one address, blind injection; legitimate requests served.
bench-attack: module tools
	@bash scripts/lab-show.sh bench_attack 1200

clean:
	@kdir=$$(bash scripts/kernel.sh --dir 2>/dev/null); \
	  [ -d "$$kdir" ] && $(MAKE) -s -C "$$kdir" M=$(CURDIR) LLVM=1 clean || true
	rm -rf out target
