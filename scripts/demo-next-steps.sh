#!/usr/bin/env bash
# Printed by `make demo` after the seed's cluster is up: what to try next.
name=${1:-myk8s}
cat <<TXT

kin cluster "$name" is up: two nodes, each a set of Linux namespaces, with flannel (VXLAN).
kubectl's context is kin-$name. Try:

  kubectl get node -o wide                        # Ready, INTERNAL-IP on the kin network, kin:// runtime
  kubectl get pod -A                              # control plane, kube-flannel-ds, kube-proxy, coredns
  kubectl create deployment web --image=busybox --replicas=3 -- python3 -m http.server 8080
  kubectl get pod -o wide                         # pods on $name-worker, IPs from 10.244.1.0/24
  kubectl exec deploy/web -- ping -c1 10.244.0.0  # to the control plane's flannel.1, through VXLAN
  kin exec $name-worker -- tcpdump -nni eth0 -T vxlan udp port 8472   # and watch it go (Ctrl-C)
  kin exec $name-worker -- crictl pods            # the sandboxes (pause) on the worker
  kin exec $name-worker -- ip -br addr            # eth0, cni0, flannel.1 and the pods' veths
  kubectl create service nodeport web --tcp=80:8080 --node-port=31000
  curl -s localhost:31000 | head -3               # host 31000 -> $name-worker -> kube-proxy -> a pod
  kubectl exec deploy/web -- getent hosts web     # the Service's cluster IP, from the cluster DNS
  kin exec $name-worker -- iptables-save -t nat | grep KUBE-SVC   # kube-proxy's rules in the node
  kin get port-mappings --name $name              # host 31000/31001 -> $name-worker, as in the seed
  kin stop cluster --name $name && kin start cluster --name $name --wait 60s   # pods keep their IPs

The README's walkthrough goes through the seed note step by step. When you are done:

  kin delete cluster --name $name
TXT
