"""flanneld: gives each node a pod subnet and carries pod traffic between nodes.

As Flannel does: a subnet manager hands out leases (the Kubernetes API, where a lease is
``Node.spec.podCIDR``, or etcd v3), a backend programs the kernel for every lease
(``vxlan``: ``flannel.1`` with neighbour, FDB and route entries; ``host-gw``: plain
routes; ``udp``: ``flannel0`` and userspace encapsulation), and ``/run/flannel/subnet.env``
tells the CNI ``flannel`` plugin the node's subnet and MTU. ``netconf`` reads
``net-conf.json`` with Flannel's rules, ``subnetenv`` writes and reads ``subnet.env``.
"""
