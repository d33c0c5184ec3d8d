"""Storage kinds: core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1
StorageClass.

What a kind cluster's ``standard`` StorageClass and its local-path provisioner use. A
PersistentVolume's source is Go's inlined ``PersistentVolumeSource``; kin declares the
sources whose types it has (``hostPath``, ``local``, ``nfs``, ``csi`` and the ones a pod
volume shares with a PersistentVolume), so a PersistentVolume naming another in-tree
source (``rbd``, ``iscsi`` ...) is refused as an unknown field under strict validation.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

CORE = Group("core")
STORAGE = Group("storage")

CORE.kind(
    "PersistentVolume",
    "metadata meta.ObjectMeta 1, spec PersistentVolumeSpec 2, status PersistentVolumeStatus 3",
    description="PersistentVolume (PV) is a storage resource provisioned by an administrator.",
)

CORE.add("LocalVolumeSource", "path str 1 req, fsType *str 2")

CORE.add("SecretReference", "name str 1, namespace str 2", atomic=True)

CORE.add(
    "CSIPersistentVolumeSource",
    "driver str 1 req, volumeHandle str 2 req, readOnly bool 3, fsType str 4, "
    "volumeAttributes {str} 5, controllerPublishSecretRef SecretReference 6, "
    "nodeStageSecretRef SecretReference 7, nodePublishSecretRef SecretReference 8, "
    "controllerExpandSecretRef SecretReference 9, nodeExpandSecretRef SecretReference 10",
)

CORE.add(
    "GlusterfsPersistentVolumeSource",
    "endpoints str 1 req, path str 2 req, readOnly bool 3, endpointsNamespace *str 4",
)

CORE.add(
    "RBDPersistentVolumeSource",
    "monitors [str] 1 req, image str 2 req, fsType str 3, pool str 4, user str 5, "
    "keyring str 6, secretRef SecretReference 7, readOnly bool 8",
)

CORE.add(
    "ISCSIPersistentVolumeSource",
    "targetPortal str 1 req, iqn str 2 req, lun int32 3 req, iscsiInterface str 4, "
    "fsType str 5, readOnly bool 6, portals [str] 7, chapAuthDiscovery bool 8, "
    "chapAuthSession bool 11, secretRef SecretReference 10, initiatorName *str 12",
)

CORE.add(
    "CinderPersistentVolumeSource",
    "volumeID str 1 req, fsType str 2, readOnly bool 3, secretRef SecretReference 4",
)

CORE.add(
    "CephFSPersistentVolumeSource",
    "monitors [str] 1 req, path str 2, user str 3, secretFile str 4, "
    "secretRef SecretReference 5, readOnly bool 6",
)

CORE.add(
    "FlexPersistentVolumeSource",
    "driver str 1 req, fsType str 2, secretRef SecretReference 3, readOnly bool 4, options {str} 5",
)

CORE.add(
    "AzureFilePersistentVolumeSource",
    "secretName str 1 req, shareName str 2 req, readOnly bool 3, secretNamespace *str 4",
)

CORE.add(
    "ScaleIOPersistentVolumeSource",
    "gateway str 1 req, system str 2 req, secretRef SecretReference 3 req, sslEnabled bool 4, "
    "protectionDomain str 5, storagePool str 6, storageMode str 7, volumeName str 8, "
    "fsType str 9, readOnly bool 10",
)

CORE.add(
    "StorageOSPersistentVolumeSource",
    "volumeName str 1, volumeNamespace str 2, fsType str 3, readOnly bool 4, "
    "secretRef ObjectReference 5",
)

PERSISTENT_VOLUME_SOURCE = CORE.add(
    "PersistentVolumeSource",
    "gcePersistentDisk GCEPersistentDiskVolumeSource 1, "
    "awsElasticBlockStore AWSElasticBlockStoreVolumeSource 2, "
    "hostPath HostPathVolumeSource 3, glusterfs GlusterfsPersistentVolumeSource 4, "
    "nfs NFSVolumeSource 5, rbd RBDPersistentVolumeSource 6, "
    "iscsi ISCSIPersistentVolumeSource 7, cinder CinderPersistentVolumeSource 8, "
    "cephfs CephFSPersistentVolumeSource 9, fc FCVolumeSource 10, "
    "flocker FlockerVolumeSource 11, flexVolume FlexPersistentVolumeSource 12, "
    "azureFile AzureFilePersistentVolumeSource 13, "
    "vsphereVolume VsphereVirtualDiskVolumeSource 14, quobyte QuobyteVolumeSource 15, "
    "azureDisk AzureDiskVolumeSource 16, "
    "photonPersistentDisk PhotonPersistentDiskVolumeSource 17, "
    "portworxVolume PortworxVolumeSource 18, scaleIO ScaleIOPersistentVolumeSource 19, "
    "local LocalVolumeSource 20, storageos StorageOSPersistentVolumeSource 21, "
    "csi CSIPersistentVolumeSource 22",
)

CORE.add("VolumeNodeAffinity", "required NodeSelector 1")

CORE.add(
    "PersistentVolumeSpec",
    "capacity {quantity} 1, accessModes [str] 3, claimRef ObjectReference 4, "
    "persistentVolumeReclaimPolicy str 5, storageClassName str 6, mountOptions [str] 7, "
    "volumeMode *str 8, nodeAffinity VolumeNodeAffinity 9, volumeAttributesClassName *str 10",
    embeds=((2, PERSISTENT_VOLUME_SOURCE),),
)

CORE.add(
    "PersistentVolumeStatus",
    "phase str 1, message str 2, reason str 3, lastPhaseTransitionTime time 4",
)

CORE.kind(
    "PersistentVolumeClaim",
    "metadata meta.ObjectMeta 1, spec PersistentVolumeClaimSpec 2, "
    "status PersistentVolumeClaimStatus 3",
    description="PersistentVolumeClaim is a user's request for and claim to a persistent volume.",
)

CORE.add(
    "PersistentVolumeClaimStatus",
    "phase str 1, accessModes [str] 2, capacity {quantity} 3, "
    "conditions [PersistentVolumeClaimCondition] 4 merge=type, "
    "allocatedResources {quantity} 5, allocatedResourceStatuses {str} 7, "
    "currentVolumeAttributesClassName *str 8, modifyVolumeStatus ModifyVolumeStatus 9",
)

CORE.add("ModifyVolumeStatus", "targetVolumeAttributesClassName str 1, status str 2 req")

CORE.add(
    "PersistentVolumeClaimCondition",
    "type str 1 req, status str 2 req, lastProbeTime time 3, lastTransitionTime time 4, "
    "reason str 5, message str 6",
)

STORAGE.kind(
    "StorageClass",
    "metadata meta.ObjectMeta 1, provisioner str 2 req, parameters {str} 3, "
    "reclaimPolicy *str 4, mountOptions [str] 5, allowVolumeExpansion *bool 6, "
    "volumeBindingMode *str 7, allowedTopologies [core.TopologySelectorTerm] 8",
    description="StorageClass describes the parameters for a class of storage.",
)

CORE.add(
    "TopologySelectorTerm",
    "matchLabelExpressions [TopologySelectorLabelRequirement] 1",
)

CORE.add("TopologySelectorLabelRequirement", "key str 1 req, values [str] 2 req")

TYPES = CORE.types + STORAGE.types
