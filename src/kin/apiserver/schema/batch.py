"""batch/v1: Job and CronJob, for ``kubectl create job|cronjob`` (sent as protobuf).

Job conditions carry a patch merge key but are declared atomic, as Kubernetes does;
the failure and success policies are complete so that real Job manifests validate.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

BATCH = Group("batch")

BATCH.kind(
    "Job",
    "metadata meta.ObjectMeta 1, spec JobSpec 2, status JobStatus 3",
    description="Job runs pods until a given number of them complete successfully.",
)

BATCH.add(
    "JobSpec",
    "parallelism *int32 1, completions *int32 2, activeDeadlineSeconds *int64 3, "
    "podFailurePolicy PodFailurePolicy 11, successPolicy SuccessPolicy 16, "
    "backoffLimit *int32 7, backoffLimitPerIndex *int32 12, maxFailedIndexes *int32 13, "
    "selector meta.LabelSelector 4, manualSelector *bool 5, "
    "template core.PodTemplateSpec 6 req, ttlSecondsAfterFinished *int32 8, "
    "completionMode *str 9, suspend *bool 10, podReplacementPolicy *str 14, "
    "managedBy *str 15",
)

BATCH.add("PodFailurePolicy", "rules [PodFailurePolicyRule] 1 req")

BATCH.add(
    "PodFailurePolicyRule",
    "action str 1 req, onExitCodes PodFailurePolicyOnExitCodesRequirement 2, "
    "onPodConditions [PodFailurePolicyOnPodConditionsPattern] 3",
)

BATCH.add(
    "PodFailurePolicyOnExitCodesRequirement",
    "containerName *str 1, operator str 2 req, values [int32] 3 req list=set",
)

BATCH.add("PodFailurePolicyOnPodConditionsPattern", "type str 1 req, status str 2 req")

BATCH.add("SuccessPolicy", "rules [SuccessPolicyRule] 1 req")

BATCH.add("SuccessPolicyRule", "succeededIndexes *str 1, succeededCount *int32 2")

BATCH.add(
    "JobStatus",
    "conditions [JobCondition] 1 merge=type list=atomic, startTime time 2, "
    "completionTime time 3, active int32 4, succeeded int32 5, failed int32 6, "
    "terminating *int32 11, completedIndexes str 7, failedIndexes *str 10, "
    "uncountedTerminatedPods UncountedTerminatedPods 8, ready *int32 9",
)

BATCH.add(
    "JobCondition",
    "type str 1 req, status str 2 req, lastProbeTime time 3, lastTransitionTime time 4, "
    "reason str 5, message str 6",
)

BATCH.add("UncountedTerminatedPods", "succeeded [str] 1 list=set, failed [str] 2 list=set")

BATCH.kind(
    "CronJob",
    "metadata meta.ObjectMeta 1, spec CronJobSpec 2, status CronJobStatus 3",
    description="CronJob creates jobs on a schedule.",
)

BATCH.add(
    "CronJobSpec",
    "schedule str 1 req, timeZone *str 8, startingDeadlineSeconds *int64 2, "
    "concurrencyPolicy str 3, suspend *bool 4, jobTemplate JobTemplateSpec 5 req, "
    "successfulJobsHistoryLimit *int32 6, failedJobsHistoryLimit *int32 7",
)

BATCH.add("JobTemplateSpec", "metadata meta.ObjectMeta 1, spec JobSpec 2")

BATCH.add(
    "CronJobStatus",
    "active [core.ObjectReference] 1, lastScheduleTime time 4, lastSuccessfulTime time 5",
)

TYPES = BATCH.types
