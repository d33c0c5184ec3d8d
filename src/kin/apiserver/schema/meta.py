"""meta/v1: the metadata every object carries, selectors, Status and DeleteOptions.

Field names and protobuf numbers are those of k8s.io/apimachinery's meta/v1 as kubectl
1.32 compiles them; finalizers are a set and ownerReferences merge by uid, which is what
strategic merge patch and apply need to keep other writers' entries.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

META = Group("meta")

META.add(
    "ObjectMeta",
    "name str 1, generateName str 2, namespace str 3, selfLink str 4, uid str 5, "
    "resourceVersion str 6, generation int64 7, creationTimestamp time 8, "
    "deletionTimestamp time 9, deletionGracePeriodSeconds *int64 10, labels {str} 11, "
    "annotations {str} 12, ownerReferences [OwnerReference] 13 merge=uid, "
    "finalizers [str] 14 set, managedFields [ManagedFieldsEntry] 17",
)

META.add(
    "ListMeta", "selfLink str 1, resourceVersion str 2, continue str 3, remainingItemCount *int64 4"
)

META.add(
    "OwnerReference",
    "apiVersion str 5 req, kind str 1 req, name str 3 req, uid str 4 req, "
    "controller *bool 6, blockOwnerDeletion *bool 7",
    atomic=True,
)

META.add(
    "ManagedFieldsEntry",
    "manager str 1, operation str 2, apiVersion str 3, time time 4, fieldsType str 6, "
    "fieldsV1 fields 7, subresource str 8",
)

META.add(
    "LabelSelector",
    "matchLabels {str} 1, matchExpressions [LabelSelectorRequirement] 2",
    atomic=True,
)

META.add("LabelSelectorRequirement", "key str 1 req, operator str 2 req, values [str] 3")

META.kind(
    "Status",
    "metadata ListMeta 1, status str 2, message str 3, reason str 4, "
    "details StatusDetails 5, code int32 6",
    description="Status is the result of an operation that does not return an object.",
)

META.add(
    "StatusDetails",
    "name str 1, group str 2, kind str 3, uid str 6, causes [StatusCause] 4, "
    "retryAfterSeconds int32 5",
)

META.add("StatusCause", "reason str 1, message str 2, field str 3")

META.kind(
    "DeleteOptions",
    "gracePeriodSeconds *int64 1, preconditions Preconditions 2, orphanDependents *bool 3, "
    "propagationPolicy *str 4, dryRun [str] 5, "
    "ignoreStoreReadErrorWithClusterBreakingPotential *bool 6",
    description="DeleteOptions may be sent with a DELETE request.",
)

META.add("Preconditions", "uid *str 1, resourceVersion *str 2")

META.add(
    "Condition",
    "type str 1 req, status str 2 req, observedGeneration int64 3, "
    "lastTransitionTime time 4 req, reason str 5 req, message str 6 req",
)

TYPES = META.types
