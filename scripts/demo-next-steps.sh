#!/usr/bin/env bash
# Printed by `make demo` after the seed's cluster is up: what to try next.
name=${1:-myk8s}
cat <<TXT

kin cluster "$name" is up: two nodes, each a set of Linux namespaces. Try:

  kin get nodes --name $name
  kin get port-mappings --name $name              # host 31000/31001 -> $name-worker, as in the seed
  kin exec $name-worker -- hostname
  kin exec $name-worker -- ip -br addr            # eth0 on the kin network (kind's docker network)
  kin exec $name-control-plane -- ping -c1 $name-worker
  kin exec $name-worker -- ps -ef                 # PID 1 is the node's supervisor
  ip netns exec $name-worker tcpdump -ni eth0     # every packet is real kernel traffic
  ip netns exec kin-net bridge link               # the nodes' veths on the kin0 bridge

When you are done:

  kin delete cluster --name $name
TXT
