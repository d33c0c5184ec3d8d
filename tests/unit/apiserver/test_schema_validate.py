"""Strict field validation: real manifests pass untouched, a typo anywhere is named with
kube-apiserver's path and wording, and wrong JSON types fail as Go's decoder words it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from kin.apiserver.schema import catalog, validate
from kin.apiserver.schema.model import TypeDef

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: prod
  labels: {app: shop, tier: web}
  annotations: {deployment.kubernetes.io/revision: "3"}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {app: shop}
    matchExpressions: [{key: tier, operator: In, values: [web]}]
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: shop, tier: web}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: shop
      automountServiceAccountToken: false
      priorityClassName: high
      terminationGracePeriodSeconds: 45
      dnsPolicy: ClusterFirst
      dnsConfig: {options: [{name: ndots, value: "2"}], searches: [svc.cluster.local]}
      hostAliases: [{ip: 10.0.0.9, hostnames: [db.local]}]
      imagePullSecrets: [{name: regcred}]
      nodeSelector: {kubernetes.io/os: linux}
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 3000
        fsGroup: 2000
        fsGroupChangePolicy: OnRootMismatch
        supplementalGroups: [4000]
        seccompProfile: {type: RuntimeDefault}
        sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65535"}]
      initContainers:
      - name: migrate
        image: registry.local/shop:1.4.2
        command: [/app/migrate, --wait]
        envFrom: [{secretRef: {name: db}}]
      - name: proxy
        image: envoyproxy/envoy:v1.29
        restartPolicy: Always
      containers:
      - name: web
        image: registry.local/shop:1.4.2
        imagePullPolicy: IfNotPresent
        args: [--port=8080]
        workingDir: /app
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        - {name: metrics, containerPort: 9090}
        env:
        - {name: MODE, value: production}
        - name: DB_HOST
          valueFrom: {configMapKeyRef: {name: shop-config, key: db_host}}
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password, optional: false}}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - name: MEM_LIMIT
          valueFrom: {resourceFieldRef: {containerName: web, resource: limits.memory, divisor: 1Mi}}
        envFrom:
        - configMapRef: {name: shop-config}
          prefix: SHOP_
        resources:
          requests: {cpu: 250m, memory: 128Mi}
          limits: {cpu: 1, memory: 512Mi, ephemeral-storage: 1Gi}
        livenessProbe:
          httpGet:
            path: /healthz
            port: http
            httpHeaders: [{name: X-Probe, value: liveness}]
          initialDelaySeconds: 10
          periodSeconds: 10
          failureThreshold: 3
        readinessProbe:
          tcpSocket: {port: 8080}
          timeoutSeconds: 2
        startupProbe:
          exec: {command: [cat, /tmp/ready]}
          failureThreshold: 30
        lifecycle:
          preStop: {exec: {command: [sh, -c, sleep 5]}}
          postStart: {httpGet: {path: /warm, port: 8080, scheme: HTTP}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        volumeMounts:
        - {name: config, mountPath: /etc/shop, readOnly: true}
        - {name: cache, mountPath: /cache}
        - {name: data, mountPath: /data, subPath: shop}
        - {name: token, mountPath: /var/run/secrets/tokens}
        terminationMessagePolicy: FallbackToLogsOnError
      volumes:
      - name: config
        configMap:
          name: shop-config
          items: [{key: app.yaml, path: app.yaml, mode: 0444}]
          defaultMode: 0644
      - {name: tls, secret: {secretName: shop-tls, defaultMode: 0400}}
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
      - {name: data, persistentVolumeClaim: {claimName: shop-data}}
      - {name: host, hostPath: {path: /var/log, type: Directory}}
      - name: token
        projected:
          sources:
          - serviceAccountToken: {audience: vault, expirationSeconds: 3600, path: vault-token}
          - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
          - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
      - name: podinfo
        downwardAPI: {items: [{path: cpu, resourceFieldRef: {containerName: web, resource: requests.cpu}}]}
      - name: scratch
        ephemeral:
          volumeClaimTemplate:
            metadata: {labels: {kind: scratch}}
            spec:
              accessModes: [ReadWriteOnce]
              storageClassName: fast
              resources: {requests: {storage: 1Gi}}
      - {name: nfs, nfs: {server: nfs.local, path: /exports, readOnly: true}}
      - {name: csi, csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {a: b}}}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}]
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            preference: {matchExpressions: [{key: disktype, operator: In, values: [ssd]}]}
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: cache}}
            topologyKey: kubernetes.io/hostname
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector: {matchExpressions: [{key: app, operator: In, values: [shop]}]}
              topologyKey: topology.kubernetes.io/zone
              namespaceSelector: {}
      tolerations:
      - {key: dedicated, operator: Equal, value: web, effect: NoSchedule}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: shop}}
        matchLabelKeys: [pod-template-hash]
"""

FLANNEL_DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
  labels: {tier: node, app: flannel, k8s-app: flannel}
spec:
  selector: {matchLabels: {app: flannel}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {tier: node, app: flannel}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]
      hostNetwork: true
      priorityClassName: system-node-critical
      tolerations: [{operator: Exists, effect: NoSchedule}]
      serviceAccountName: flannel
      initContainers:
      - name: install-cni-plugin
        image: docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel2
        command: [cp]
        args: [-f, /flannel, /opt/cni/bin/flannel]
        volumeMounts: [{name: cni-plugin, mountPath: /opt/cni/bin}]
      containers:
      - name: kube-flannel
        image: docker.io/flannel/flannel:v0.25.6
        command: [/opt/bin/flanneld]
        args: [--ip-masq, --kube-subnet-mgr]
        resources: {requests: {cpu: 100m, memory: 50Mi}}
        securityContext:
          privileged: false
          capabilities: {add: [NET_ADMIN, NET_RAW]}
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: EVENT_QUEUE_DEPTH, value: "5000"}
        volumeMounts:
        - {name: run, mountPath: /run/flannel}
        - {name: flannel-cfg, mountPath: /etc/kube-flannel/}
        - {name: xtables-lock, mountPath: /run/xtables.lock}
      volumes:
      - {name: run, hostPath: {path: /run/flannel}}
      - {name: cni-plugin, hostPath: {path: /opt/cni/bin}}
      - {name: flannel-cfg, configMap: {name: kube-flannel-cfg}}
      - {name: xtables-lock, hostPath: {path: /run/xtables.lock, type: FileOrCreate}}
"""

RUNNING_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9c
  namespace: default
  uid: 8f1c2a7e-0d7e-4b4e-9d0a-3f1f5e2c6b11
  resourceVersion: "4711"
  creationTimestamp: "2024-05-01T10:00:00Z"
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c, uid: 1b2c, controller: true, blockOwnerDeletion: true}
  managedFields:
  - manager: kubelet
    operation: Update
    apiVersion: v1
    time: "2024-05-01T10:00:05Z"
    fieldsType: FieldsV1
    fieldsV1: {"f:status": {"f:conditions": {"k:{\\"type\\":\\"Ready\\"}": {".": {}}}}}
    subresource: status
spec:
  nodeName: node1
  containers: [{name: web, image: nginx, resources: {}}]
status:
  phase: Running
  hostIP: 10.0.0.2
  hostIPs: [{ip: 10.0.0.2}]
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}]
  startTime: "2024-05-01T10:00:01Z"
  qosClass: BestEffort
  conditions:
  - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2024-05-01T10:00:05Z"}
  containerStatuses:
  - name: web
    image: docker.io/library/nginx:latest
    imageID: docker.io/library/nginx@sha256:abc
    containerID: containerd://123
    ready: true
    started: true
    restartCount: 0
    state: {running: {startedAt: "2024-05-01T10:00:04Z"}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: "2024-05-01T09:00:00Z", finishedAt: "2024-05-01T09:59:00Z"}}
"""

NODE = """
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {kubernetes.io/hostname: node1}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
  taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
status:
  capacity: {cpu: "4", memory: 8023312Ki, pods: "110"}
  allocatable: {cpu: "4", memory: 7920912Ki, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status,
     lastHeartbeatTime: "2024-05-01T10:00:00Z", lastTransitionTime: "2024-05-01T09:00:00Z"}
  addresses: [{type: InternalIP, address: 10.0.0.2}, {type: Hostname, address: node1}]
  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}
  nodeInfo: {machineID: m, systemUUID: s, bootID: b, kernelVersion: 6.1.0, osImage: Debian GNU/Linux 12,
             containerRuntimeVersion: containerd://1.7.0, kubeletVersion: v1.32.0, kubeProxyVersion: v1.32.0,
             operatingSystem: linux, architecture: amd64}
  images: [{names: [docker.io/library/nginx:latest], sizeBytes: 67000000}]
"""

SMALL_OBJECTS = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ipFamilyPolicy: SingleStack
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP}
  - {name: https, port: 443, targetPort: 8443, appProtocol: https}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 3 * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    spec:
      backoffLimit: 2
      ttlSecondsAfterFinished: 3600
      podFailurePolicy:
        rules:
        - action: FailJob
          onExitCodes: {containerName: report, operator: In, values: [42]}
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: busybox, command: [sh, -c, date]}]
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
data: {password: czNjcjN0}
stringData: {user: admin}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
binaryData: {blob: AAEC}
immutable: true
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: node1, namespace: kube-node-lease}
spec: {holderIdentity: node1, leaseDurationSeconds: 40, renewTime: "2024-05-01T10:00:00.123456Z"}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node1
  targetRef: {kind: Pod, name: web-7d4b9c, namespace: default}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: web.17a, namespace: default}
eventTime: "2024-05-01T10:00:00.000001Z"
reportingController: kubelet
reportingInstance: node1
action: Pulling
reason: Pulling
regarding: {kind: Pod, name: web, namespace: default}
note: Pulling image nginx
type: Normal
"""


def typedef_of(obj: dict[str, Any]) -> TypeDef:
    group, _, version = obj["apiVersion"].rpartition("/")
    typedef = catalog.for_gvk(group, version, obj["kind"])
    assert typedef is not None
    return typedef


def documents() -> list[dict[str, Any]]:
    texts = [DEPLOYMENT, FLANNEL_DAEMONSET, RUNNING_POD, NODE, SMALL_OBJECTS]
    return [doc for text in texts for doc in yaml.safe_load_all(text)]


@pytest.mark.parametrize("obj", documents(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_real_manifests_have_no_problems(obj: dict[str, Any]) -> None:
    # JSON round trip: YAML's 0644 is the integer 420, dates must be strings, as kubectl sends
    problems = validate.check(json.loads(json.dumps(obj)), typedef_of(obj))
    assert problems.unknown == [] and problems.types == []


def deployment() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(DEPLOYMENT))


TYPOS = [
    (["specc"], 'unknown field "specc"'),
    (["metadata", "labelz"], 'unknown field "metadata.labelz"'),
    (["spec", "template", "spec", "containers", 0, "imagee"], 'unknown field "spec.template.spec.containers[0].imagee"'),
    (["spec", "template", "spec", "containers", 0, "Image"], 'unknown field "spec.template.spec.containers[0].Image"'),
    (
        ["spec", "template", "spec", "containers", 0, "livenessProbe", "httpGet", "pathh"],
        'unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.pathh"',
    ),
    (
        ["spec", "template", "spec", "volumes", 0, "configMap", "items", 0, "kee"],
        'unknown field "spec.template.spec.volumes[0].configMap.items[0].kee"',
    ),
    (
        ["spec", "template", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
         "nodeSelectorTerms", 0, "matchExpressions", 0, "operater"],
        'unknown field "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution'
        '.nodeSelectorTerms[0].matchExpressions[0].operater"',
    ),
    (["spec", "template", "spec", "initContainers", 1, "sidecar"], 'unknown field "spec.template.spec.initContainers[1].sidecar"'),
    (["spec", "template", "metadata", "containers"], 'unknown field "spec.template.metadata.containers"'),
    (["spec", "strategy", "rollingUpdate", "maxSurgee"], 'unknown field "spec.strategy.rollingUpdate.maxSurgee"'),
    (["status", "readyReplica"], 'unknown field "status.readyReplica"'),
]  # fmt: skip


def put(obj: Any, path: list[Any], value: object) -> None:
    for step in path[:-1]:
        obj = obj.setdefault(step, {}) if isinstance(step, str) else obj[step]
    obj[path[-1]] = value


@pytest.mark.parametrize(("path", "message"), TYPOS, ids=[m.split('"')[1] for _, m in TYPOS])
def test_a_typo_at_any_depth_is_named(path: list[Any], message: str) -> None:
    obj = deployment()
    put(obj, path, "x")
    assert validate.unknown_fields(obj, typedef_of(obj)) == [message]


def test_unknown_fields_come_in_document_order_and_free_form_is_free() -> None:
    obj = yaml.safe_load(RUNNING_POD)
    obj["spec"]["zzz"] = 1
    obj["metadata"]["aaa"] = 1
    obj["metadata"]["managedFields"][0]["fieldsV1"]["f:anything"] = {"nested": True}
    assert validate.unknown_fields(obj, typedef_of(obj)) == [
        'unknown field "metadata.aaa"',
        'unknown field "spec.zzz"',
    ]


def test_duplicate_fields_are_reported_with_their_path() -> None:
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"data":{}}'
    obj = validate.loads(body)
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {}}
    assert validate.unknown_fields(obj, typedef_of(obj)) == ['duplicate field "metadata.name"']


SPEC = ["spec", "template", "spec"]
TYPE_ERRORS = [
    (["spec", "replicas"], "3", "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (["spec", "replicas"], 1.5, "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (["spec", "replicas"], 2**31, "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (["metadata", "labels", "app"], 7, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ([*SPEC, "containers"], {"name": "x"}, "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
    ([*SPEC, "containers", 0, "ports", 0, "containerPort"], "80",
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"),
    ([*SPEC, "hostNetwork"], "true", "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.hostNetwork of type bool"),
    ([*SPEC, "affinity"], [], "json: cannot unmarshal array into Go struct field PodSpec.spec.template.spec.affinity of type v1.Affinity"),
    ([*SPEC, "containers", 0, "resources", "limits", "cpu"], "1x",
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ([*SPEC, "containers", 0, "livenessProbe", "httpGet", "port"], True, "json: cannot unmarshal bool into Go value of type int32"),
    ([*SPEC, "containers", 0, "livenessProbe", "httpGet", "port"], 80.5, "json: cannot unmarshal number 80.5 into Go value of type int32"),
    (["metadata", "creationTimestamp"], "yesterday",
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "message"), TYPE_ERRORS, ids=[m[:60] for _, _, m in TYPE_ERRORS]
)
def test_wrong_json_types_fail_as_go_says(path: list[Any], value: object, message: str) -> None:
    obj = deployment()
    put(obj, path, value)
    assert validate.type_errors(obj, typedef_of(obj)) == [message]


@pytest.mark.parametrize(
    ("quantity", "valid"),
    [
        ("100m", True), ("1.5Gi", True), (".5", True), ("1.", True), ("1e3", True),
        ("1E3", True), ("-1", True), ("+2k", True), ("5E", True), ("3n", True), ("7u", True),
        ("100K", False), ("1ki", False), ("1.2.3", False), ("1kM", False), ("Mi", False),
        ("1 Gi", False), ("", False),
    ],
)  # fmt: skip
def test_quantities_follow_parse_quantitys_grammar(quantity: str, valid: bool) -> None:
    obj = deployment()
    put(obj, [*SPEC, "containers", 0, "resources", "limits", "memory"], quantity)
    assert (validate.type_errors(obj, typedef_of(obj)) == []) is valid


def test_bytes_must_be_base64_and_null_is_fine_anywhere() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": None, "data": {"a": "not base64!"}}
    assert validate.type_errors(secret, typedef_of(secret)) == [
        "illegal base64 data at input byte 3"
    ]
    assert validate.type_errors([], typedef_of(secret)) == [
        "json: cannot unmarshal array into Go value of type v1.Secret"
    ]


def test_messages_read_as_kube_apiserver_writes_them() -> None:
    unknown = ['unknown field "spec.foo"', 'unknown field "spec.bar"']
    assert validate.strict_error("Deployment", "v1", unknown) == (
        'Deployment in version "v1" cannot be handled as a Deployment: '
        'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    )


def test_a_remembered_spec_with_a_key_repeated_is_still_reported() -> None:
    """A spec that fitted is remembered by its JSON; the same spec with a duplicate key
    inside has that JSON too once decoded, so it must never be answered from memory."""
    head = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":'
    clean = head + '[{"name":"c","image":"i"}]}}'
    twice = head + '[{"name":"c","image":"x","image":"i"}]}}'
    typedef = catalog.for_gvk("", "v1", "Pod")
    assert typedef is not None
    for _ in range(2):
        assert validate.check(validate.loads(clean), typedef).unknown == []
    assert validate.check(validate.loads(twice), typedef).unknown == [
        'duplicate field "spec.containers[0].image"'
    ]


def test_a_remembered_spec_that_failed_fails_again_with_its_problems() -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "spec": {"hostname": 7, "zzz": 1}}
    typedef = catalog.for_gvk("", "v1", "Pod")
    assert typedef is not None
    first, second = (validate.check(copy.deepcopy(body), typedef) for _ in range(2))
    assert first == second and second.unknown == ['unknown field "spec.zzz"']
    assert len(second.types) == 1


def _duplicates(value: object, path: str = "") -> list[str]:
    """Every duplicate key ``loads`` marked, with where it was."""
    found = [f"{path}.{key}" for key in getattr(value, "duplicates", ())]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _duplicates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _duplicates(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize(
    ("body", "duplicates"),
    [
        ('{"a":1,"a":2}', [".a"]),
        ('{"a":{"b":":x","b":1}}', [".a.b"]),  # a string that starts like a key's end
        ('{"k": " :", "k": 1}', [".k"]),
        ('{"a" :1, "b":[{"c":1},{"c":2,"c":3}]}', [".b[1].c"]),
        ('{\n  "k" : 1,\n  "k" : 2\n}', [".k"]),
        ('{"a":"\\u003a","a":1}', [".a"]),  # an escaped colon: the slow path counts
        ('{"a":"\\"","b":{"c":"d","c":"\\\\"}}', [".b.c"]),
        ('{"k":":","l":[":",{"m":"n:"}]}', []),
        ('{\n  "k": "v",\n  "l": [1, 2]\n}', []),
    ],
)
def test_every_duplicate_key_is_found_however_the_body_is_written(
    body: str, duplicates: list[str]
) -> None:
    for given in (body, body.encode()):
        value = validate.loads(given)
        assert _duplicates(value) == duplicates
        assert value == json.loads(body)


@pytest.mark.parametrize(
    "number", ["12345678901234567890123", "18446744073709551616", "-9223372036854775809"]
)
def test_integers_beyond_64_bits_stay_integers(number: str) -> None:
    """What Go's decoder words as out of range must reach the check as the number it was."""
    value = validate.loads(f'{{"replicas":{number}}}')
    assert isinstance(value, dict) and value == {"replicas": int(number)}
    assert type(value["replicas"]) is int


@pytest.mark.parametrize("body", ['{"x":NaN}', '{"x":Infinity}', '{"x":-Infinity}'])
def test_nan_and_infinity_are_refused(body: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON value"):
        validate.loads(body)
