#!/bin/bash
# btcp cluster configuration for the lab topology (source it after
# topology.sh): node ids fe=1 be1=2 be2=3 be3=4, every node a peer of every
# other, one cluster key, the front-end fronting the VIP.
#
#   cluster_config RULES [EXTRA]   `btcpctl restore` the config everywhere;
#                                  RULES is the front-end's rule text, EXTRA
#                                  more lines for every node; the front-end
#                                  fronts $CLUSTER_SERVICES (`;` between
#                                  them, e.g. "VIP:80;VIP:443 tls"), by
#                                  default VIP:80
#   cluster_wait_up                wait until fe's channel to all peers is up
#   cluster_web_pool               (multi-VM lab) nginx on be1-be3 and fe's
#                                  default a round-robin pool of them
#   vm_counter NODE NAME           (multi-VM lab) one of NODE's counters
#   cluster_vrrp_conf NODE PRIO PEER  keepalived's configuration for NODE
#                                  sharing the VIP with PEER by VRRP
#                                  (unicast, no preemption)
#
# In the multi-VM lab (qemu/vms.sh sourced) the nodes are the VMs that
# exist (VM_NODES) and each is configured in its VM, through in_vm.

# shellcheck disable=SC2034 # used by the scripts that source this
declare -A LAB_NODE_ID=([fe]=1 [be1]=2 [be2]=3 [be3]=4)
LAB_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Configured through btcpctl over generic netlink, as an operator would
# (`make tools` builds it).
LAB_BTCPCTL=${BTCPCTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/btcpctl}

# cluster_bes: the back-ends there are (in the multi-VM lab, those with a VM).
cluster_bes() {
  local n
  for n in "${LAB_BES[@]}"; do
    [ -z "${VM_NODES+set}" ] || [[ " ${VM_NODES[*]} " == *" $n "* ]] && echo "$n"
  done
}

cluster_config() {
  local rules=$1 extra=${2:-} n p s cfg bes services
  mapfile -t bes < <(cluster_bes)
  for n in fe "${bes[@]}"; do
    cfg="node ${LAB_NODE_ID[$n]} $(ns_ip "$n")"
    for p in fe "${bes[@]}"; do
      [ "$p" = "$n" ] || cfg+=$'\n'"peer ${LAB_NODE_ID[$p]} $(ns_ip "$p")"
    done
    if [ "$n" = fe ]; then
      IFS=';' read -r -a services <<<"${CLUSTER_SERVICES:-$LAB_VIP:80}"
      for s in "${services[@]}"; do cfg+=$'\n'"service $s"; done
      cfg+=$'\n'"rules $rules"
    fi
    cfg+=$'\n'"key $LAB_KEY"
    [ -z "$extra" ] || cfg+=$'\n'"$extra"
    if [ -n "${VM_NODES+set}" ]; then
      in_vm "$n" "printf '%s\n' $(printf %q "$cfg") | $LAB_BTCPCTL restore -" || return 1
    else
      printf '%s\n' "$cfg" | in_ns "$n" "$LAB_BTCPCTL" restore - || return 1
    fi
  done
}

cluster_wait_up() {
  local up _ want cmd="grep -c '^ctrl_peer .* up ' /proc/net/btcp/counters"
  want=$(cluster_bes | wc -l)
  # 30 s: a VM's peers come up later than namespaces in one guest do.
  for _ in $(seq 150); do
    if [ -n "${VM_NODES+set}" ]; then up=$(in_vm fe "$cmd"); else up=$(in_ns fe bash -c "$cmd"); fi
    [ "$up" = "$want" ] && return 0
    sleep 0.2
  done
  return 1
}

cluster_vrrp_conf() {
  cat <<EOF
global_defs { router_id $1 }
vrrp_instance btcp {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority $2
  advert_int 1
  unicast_src_ip $(ns_ip "$1")
  unicast_peer { $(ns_ip "$3") }
  virtual_ipaddress { $LAB_VIP/$LAB_PREFIX dev eth0 }
}
EOF
}

# vm_counter NODE NAME: a counter of NODE's /proc/net/btcp/counters.
vm_counter() { in_vm "$1" "awk -v k=$2 '\$1 == k { print \$2 }' /proc/net/btcp/counters"; }

cluster_web_pool() {
  local n
  for n in be1 be2 be3; do
    in_vm "$n" "$LAB_DIR/content.sh $n >/dev/null && $LAB_DIR/nginx.sh start $n" || return 1
  done
  cluster_config "default=2" && cluster_wait_up &&
    in_vm fe "$LAB_BTCPCTL pool add web --policy wrr --nodes 2,3,4 && $LAB_BTCPCTL rule default web"
}
