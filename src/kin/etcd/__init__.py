"""etcd v3 for kin's parts that keep state in it: the API server's etcd storage and
flanneld's etcd subnet manager. See ``client``."""
