"""core/v1 volumes: VolumeSource with every in-tree source kubectl 1.32 knows, and references.

All thirty volume sources are here, deprecated ones included, because strict validation
must accept any manifest that a real API server accepts: leaving one out would turn a
valid ``cephfs:`` or ``gitRepo:`` volume into an "unknown field" error. The small
reference types (LocalObjectReference, ObjectReference, field and resource selectors)
live here because volumes, env and pods all use them; several embed
LocalObjectReference inline, as Go does, so ``name`` sits next to ``items``.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["LOCAL_OBJECT_REFERENCE", "TYPES", "VOLUME_SOURCE"]

CORE = Group("core")

LOCAL_OBJECT_REFERENCE = CORE.add(
    "LocalObjectReference",
    "name str 1",
    atomic=True,
)

CORE.add(
    "ObjectReference",
    "kind str 1, namespace str 2, name str 3, uid str 4, apiVersion str 5, "
    "resourceVersion str 6, fieldPath str 7",
    atomic=True,
)

CORE.add(
    "TypedLocalObjectReference",
    "apiGroup *str 1, kind str 2 req, name str 3 req",
    atomic=True,
)

CORE.add(
    "TypedObjectReference", "apiGroup *str 1, kind str 2 req, name str 3 req, namespace *str 4"
)

CORE.add(
    "ObjectFieldSelector",
    "apiVersion str 1, fieldPath str 2 req",
    atomic=True,
)

CORE.add(
    "ResourceFieldSelector",
    "containerName str 1, resource str 2 req, divisor quantity 3",
    atomic=True,
)

CORE.add("KeyToPath", "key str 1 req, path str 2 req, mode *int32 3")

CORE.add("HostPathVolumeSource", "path str 1 req, type *str 2")

CORE.add("EmptyDirVolumeSource", "medium str 1, sizeLimit quantity 2")

CORE.add(
    "GCEPersistentDiskVolumeSource",
    "pdName str 1 req, fsType str 2, partition int32 3, readOnly bool 4",
)

CORE.add(
    "AWSElasticBlockStoreVolumeSource",
    "volumeID str 1 req, fsType str 2, partition int32 3, readOnly bool 4",
)

CORE.add("GitRepoVolumeSource", "repository str 1 req, revision str 2, directory str 3")

CORE.add(
    "SecretVolumeSource",
    "secretName str 1, items [KeyToPath] 2, defaultMode *int32 3, optional *bool 4",
)

CORE.add("NFSVolumeSource", "server str 1 req, path str 2 req, readOnly bool 3")

CORE.add(
    "ISCSIVolumeSource",
    "targetPortal str 1 req, iqn str 2 req, lun int32 3 req, iscsiInterface str 4, "
    "fsType str 5, readOnly bool 6, portals [str] 7, chapAuthDiscovery bool 8, "
    "chapAuthSession bool 11, secretRef LocalObjectReference 10, initiatorName *str 12",
)

CORE.add("GlusterfsVolumeSource", "endpoints str 1 req, path str 2 req, readOnly bool 3")

CORE.add("PersistentVolumeClaimVolumeSource", "claimName str 1 req, readOnly bool 2")

CORE.add(
    "RBDVolumeSource",
    "monitors [str] 1 req, image str 2 req, fsType str 3, pool str 4, user str 5, "
    "keyring str 6, secretRef LocalObjectReference 7, readOnly bool 8",
)

CORE.add(
    "FlexVolumeSource",
    "driver str 1 req, fsType str 2, secretRef LocalObjectReference 3, readOnly bool 4, "
    "options {str} 5",
)

CORE.add(
    "CinderVolumeSource",
    "volumeID str 1 req, fsType str 2, readOnly bool 3, secretRef LocalObjectReference 4",
)

CORE.add(
    "CephFSVolumeSource",
    "monitors [str] 1 req, path str 2, user str 3, secretFile str 4, "
    "secretRef LocalObjectReference 5, readOnly bool 6",
)

CORE.add("FlockerVolumeSource", "datasetName str 1, datasetUUID str 2")

CORE.add("DownwardAPIVolumeSource", "items [DownwardAPIVolumeFile] 1, defaultMode *int32 2")

CORE.add(
    "DownwardAPIVolumeFile",
    "path str 1 req, fieldRef ObjectFieldSelector 2, "
    "resourceFieldRef ResourceFieldSelector 3, mode *int32 4",
)

CORE.add(
    "FCVolumeSource",
    "targetWWNs [str] 1, lun *int32 2, fsType str 3, readOnly bool 4, wwids [str] 5",
)

CORE.add("AzureFileVolumeSource", "secretName str 1 req, shareName str 2 req, readOnly bool 3")

CORE.add(
    "ConfigMapVolumeSource",
    "items [KeyToPath] 2, defaultMode *int32 3, optional *bool 4",
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "VsphereVirtualDiskVolumeSource",
    "volumePath str 1 req, fsType str 2, storagePolicyName str 3, storagePolicyID str 4",
)

CORE.add(
    "QuobyteVolumeSource",
    "registry str 1 req, volume str 2 req, readOnly bool 3, user str 4, group str 5, tenant str 6",
)

CORE.add(
    "AzureDiskVolumeSource",
    "diskName str 1 req, diskURI str 2 req, cachingMode *str 3, fsType *str 4, "
    "readOnly *bool 5, kind *str 6",
)

CORE.add("PhotonPersistentDiskVolumeSource", "pdID str 1 req, fsType str 2")

CORE.add("ProjectedVolumeSource", "sources [VolumeProjection] 1 req, defaultMode *int32 2")

CORE.add(
    "VolumeProjection",
    "secret SecretProjection 1, downwardAPI DownwardAPIProjection 2, "
    "configMap ConfigMapProjection 3, serviceAccountToken ServiceAccountTokenProjection 4, "
    "clusterTrustBundle ClusterTrustBundleProjection 5",
)

CORE.add(
    "SecretProjection",
    "items [KeyToPath] 2, optional *bool 4",
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add("DownwardAPIProjection", "items [DownwardAPIVolumeFile] 1")

CORE.add(
    "ConfigMapProjection",
    "items [KeyToPath] 2, optional *bool 4",
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "ServiceAccountTokenProjection", "audience str 1, expirationSeconds *int64 2, path str 3 req"
)

CORE.add(
    "ClusterTrustBundleProjection",
    "name *str 1, signerName *str 2, labelSelector meta.LabelSelector 3, optional *bool 5, "
    "path str 4 req",
)

CORE.add("PortworxVolumeSource", "volumeID str 1 req, fsType str 2, readOnly bool 3")

CORE.add(
    "ScaleIOVolumeSource",
    "gateway str 1 req, system str 2 req, secretRef LocalObjectReference 3 req, "
    "sslEnabled bool 4, protectionDomain str 5, storagePool str 6, storageMode str 7, "
    "volumeName str 8, fsType str 9, readOnly bool 10",
)

CORE.add(
    "StorageOSVolumeSource",
    "volumeName str 1, volumeNamespace str 2, fsType str 3, readOnly bool 4, "
    "secretRef LocalObjectReference 5",
)

CORE.add(
    "CSIVolumeSource",
    "driver str 1 req, readOnly *bool 2, fsType *str 3, volumeAttributes {str} 4, "
    "nodePublishSecretRef LocalObjectReference 5",
)

CORE.add("EphemeralVolumeSource", "volumeClaimTemplate PersistentVolumeClaimTemplate 1")

CORE.add(
    "PersistentVolumeClaimTemplate",
    "metadata meta.ObjectMeta 1, spec PersistentVolumeClaimSpec 2 req",
)

CORE.add(
    "PersistentVolumeClaimSpec",
    "accessModes [str] 1, selector meta.LabelSelector 4, "
    "resources VolumeResourceRequirements 2, volumeName str 3, storageClassName *str 5, "
    "volumeMode *str 6, dataSource TypedLocalObjectReference 7, "
    "dataSourceRef TypedObjectReference 8, volumeAttributesClassName *str 9",
)

CORE.add("VolumeResourceRequirements", "limits {quantity} 1, requests {quantity} 2")

CORE.add("ImageVolumeSource", "reference str 1, pullPolicy str 2")

VOLUME_SOURCE = CORE.add(
    "VolumeSource",
    "hostPath HostPathVolumeSource 1, emptyDir EmptyDirVolumeSource 2, "
    "gcePersistentDisk GCEPersistentDiskVolumeSource 3, "
    "awsElasticBlockStore AWSElasticBlockStoreVolumeSource 4, gitRepo GitRepoVolumeSource 5, "
    "secret SecretVolumeSource 6, nfs NFSVolumeSource 7, iscsi ISCSIVolumeSource 8, "
    "glusterfs GlusterfsVolumeSource 9, "
    "persistentVolumeClaim PersistentVolumeClaimVolumeSource 10, rbd RBDVolumeSource 11, "
    "flexVolume FlexVolumeSource 12, cinder CinderVolumeSource 13, "
    "cephfs CephFSVolumeSource 14, flocker FlockerVolumeSource 15, "
    "downwardAPI DownwardAPIVolumeSource 16, fc FCVolumeSource 17, "
    "azureFile AzureFileVolumeSource 18, configMap ConfigMapVolumeSource 19, "
    "vsphereVolume VsphereVirtualDiskVolumeSource 20, quobyte QuobyteVolumeSource 21, "
    "azureDisk AzureDiskVolumeSource 22, "
    "photonPersistentDisk PhotonPersistentDiskVolumeSource 23, "
    "projected ProjectedVolumeSource 26, portworxVolume PortworxVolumeSource 24, "
    "scaleIO ScaleIOVolumeSource 25, storageos StorageOSVolumeSource 27, "
    "csi CSIVolumeSource 28, ephemeral EphemeralVolumeSource 29, image ImageVolumeSource 30",
)

CORE.add(
    "Volume",
    "name str 1 req",
    embeds=((2, VOLUME_SOURCE),),
)

TYPES = CORE.types
