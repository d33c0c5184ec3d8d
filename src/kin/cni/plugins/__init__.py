"""kin's CNI plugins; each module exposes ``PLUGIN`` and ``main`` (see ``kin.cni.install``)."""
