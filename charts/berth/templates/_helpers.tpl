{{/*
Helpers shared by every template. The templates of this directory are shipped unchanged into
every chart `berth generate` writes; only Chart.yaml, values.yaml and values.schema.json differ.
*/}}

{{/*
Expand the name of the chart.
*/}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "berth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "berth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The app.kubernetes.io/version label: the image tag, or the first 12 hex digits of the digest
when the image has no tag.
*/}}
{{- define "berth.version" -}}
{{- if .Values.image.tag }}
{{- .Values.image.tag | toString }}
{{- else if .Values.image.digest }}
{{- .Values.image.digest | trimPrefix "sha256:" | trunc 12 }}
{{- else }}
{{- .Chart.AppVersion }}
{{- end }}
{{- end }}

{{/*
The image reference exactly as written in berth.yaml: repository[:tag][@digest].
*/}}
{{- define "berth.image" -}}
{{- .Values.image.repository }}
{{- with .Values.image.tag }}:{{ . }}{{ end }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
Selector labels: the only labels a selector uses (they must never change on upgrade).
*/}}
{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
Labels of the pod template: every common label except helm.sh/chart, so a chart upgrade
alone does not roll the pods.
*/}}
{{- define "berth.podLabels" -}}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ include "berth.version" . | quote }}
app.kubernetes.io/component: daemon
app.kubernetes.io/part-of: {{ include "berth.name" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end }}

{{/*
Common labels of every object.
*/}}
{{- define "berth.labels" -}}
helm.sh/chart: {{ include "berth.chart" . | quote }}
{{ include "berth.podLabels" . }}
{{- end }}

{{/*
Create the name of the service account to use.
*/}}
{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Linter exemptions: deliberate decisions, emitted as explicit annotations so kube-linter,
checkov, Polaris and kube-score report them as skipped instead of as silent findings. Each one
names the berth.yaml setting behind it and appears only when that setting is used. berth's plain
manifests (k8s/<name>.yaml) carry exactly the same annotations. Not exempted on purpose: no
resources at all (resources: {}), which stays visible as a finding.
The README of the chart explains each one.
*/}}

{{/*
On every object: no object sets metadata.namespace (checkov CKV_K8S_21).
Output: a YAML map, empty when linterAnnotations.enabled is false.
*/}}
{{- define "berth.commonAnnotations" -}}
{{- if .Values.linterAnnotations.enabled -}}
checkov.io/skip1: CKV_K8S_21=the namespace is chosen at apply time (kubectl -n, helm -n)
{{- end }}
{{- end }}

{{/*
On the workload (Deployment or DaemonSet), in addition to berth.commonAnnotations.
Output: a YAML map, empty when linterAnnotations.enabled is false.
*/}}
{{- define "berth.workloadAnnotations" -}}
{{- if .Values.linterAnnotations.enabled }}
{{- $out := include "berth.commonAnnotations" . | fromYaml }}
{{- $deployment := eq .Values.workload "Deployment" }}
{{- $pullPolicy := ne .Values.image.pullPolicy "Always" }}
{{- $hostPath := false }}
{{- range .Values.volumes }}{{ if .hostPath }}{{ $hostPath = true }}{{ end }}{{ end }}
{{- $secretEnv := false }}
{{- range .Values.env }}{{ if and .valueFrom (hasKey (default (dict) .valueFrom) "secretKeyRef") }}{{ $secretEnv = true }}{{ end }}{{ end }}
{{- $spread := and $deployment .Values.topologySpread.enabled }}
{{- if $pullPolicy }}
{{- $_ := set $out "checkov.io/skip2" "CKV_K8S_15=pull policy IfNotPresent is deliberate; the image is pinned and Always ties every pod start to the registry" }}
{{- $_ := set $out "polaris.fairwinds.com/pullPolicyNotAlways-exempt" "true" }}
{{- end }}
{{- if not .Values.image.digest }}
{{- $_ := set $out "checkov.io/skip3" "CKV_K8S_43=the image is pinned by tag; set a digest in berth.yaml to pin by digest" }}
{{- end }}
{{- if .Values.host.network }}
{{- $_ := set $out "checkov.io/skip4" "CKV_K8S_19=host network requested in berth.yaml (host.network)" }}
{{- $_ := set $out "ignore-check.kube-linter.io/host-network" "host network requested in berth.yaml (host.network)" }}
{{- $_ := set $out "polaris.fairwinds.com/hostNetworkSet-exempt" "true" }}
{{- end }}
{{- if .Values.host.pid }}
{{- $_ := set $out "checkov.io/skip5" "CKV_K8S_17=host PID namespace requested in berth.yaml (host.pid)" }}
{{- $_ := set $out "ignore-check.kube-linter.io/host-pid" "host PID namespace requested in berth.yaml (host.pid)" }}
{{- $_ := set $out "polaris.fairwinds.com/hostPIDSet-exempt" "true" }}
{{- end }}
{{- if .Values.security.capabilities }}
{{- $_ := set $out "checkov.io/skip6" "CKV_K8S_25=capabilities added in berth.yaml (security.capabilities); all others are dropped" }}
{{- end }}
{{- if $secretEnv }}
{{- $_ := set $out "checkov.io/skip7" "CKV_K8S_35=secret environment variables declared in berth.yaml (env)" }}
{{- end }}
{{- $_ := set $out "checkov.io/skip8" "CKV2_K8S_6=the daemon traffic is not known to berth; add a NetworkPolicy for your cluster" }}
{{- if $spread }}
{{- $_ := set $out "ignore-check.kube-linter.io/no-anti-affinity" "pods are spread across nodes by topologySpreadConstraints" }}
{{- end }}
{{- if $hostPath }}
{{- $_ := set $out "ignore-check.kube-linter.io/sensitive-host-mounts" "hostPath volumes requested in berth.yaml (volumes)" }}
{{- end }}
{{- if not $deployment }}
{{- $_ := set $out "polaris.fairwinds.com/topologySpreadConstraint-exempt" "true" }}
{{- end }}
{{- $kubeScore := list "container-ephemeral-storage-request-and-limit" }}
{{- if $pullPolicy }}{{ $kubeScore = append $kubeScore "container-image-pull-policy" }}{{ end }}
{{- $kubeScore = append $kubeScore "pod-networkpolicy" }}
{{- if $spread }}{{ $kubeScore = append $kubeScore "deployment-has-host-podantiaffinity" }}{{ end }}
{{- /* kube-score's ignore names checks only: each reason beside it (as berth's manifests). */}}
{{- $_ := set $out "kube-score.berth.io/container-ephemeral-storage-request-and-limit" "berth.yaml has no ephemeral-storage setting; the daemon writes to its volumes, not its root file system" }}
{{- if $pullPolicy }}
{{- $_ := set $out "kube-score.berth.io/container-image-pull-policy" "pull policy IfNotPresent is deliberate; the image is pinned and Always ties every pod start to the registry" }}
{{- end }}
{{- $_ := set $out "kube-score.berth.io/pod-networkpolicy" "the daemon traffic is not known to berth; add a NetworkPolicy for your cluster" }}
{{- if $spread }}
{{- $_ := set $out "kube-score.berth.io/deployment-has-host-podantiaffinity" "pods are spread across nodes by topologySpreadConstraints" }}
{{- end }}
{{- /* Settings the description states (berth's lint::declared): each skip names the setting. */}}
{{- $sec := .Values.security }}
{{- $uid := $sec.runAsUser | int64 }}
{{- if not $sec.readOnlyRootFilesystem }}
{{- $r := "a writable root file system is requested in berth.yaml (security.readOnlyRootFilesystem: false)" }}
{{- $_ := set $out "checkov.io/skip9" (printf "CKV_K8S_22=%s" $r) }}
{{- $kubeScore = append $kubeScore "container-security-context-readonlyrootfilesystem" }}
{{- $_ := set $out "kube-score.berth.io/container-security-context-readonlyrootfilesystem" $r }}
{{- end }}
{{- if lt $uid 10000 }}
{{- $r := printf "runAsUser %d (runAsGroup and fsGroup follow it) is set in berth.yaml (security.runAsUser)" $uid }}
{{- if eq $uid 0 }}
{{- $_ := set $out "checkov.io/skip10" (printf "CKV_K8S_23=%s" $r) }}
{{- end }}
{{- $_ := set $out "checkov.io/skip11" (printf "CKV_K8S_40=%s" $r) }}
{{- $kubeScore = append $kubeScore "container-security-context-user-group-id" }}
{{- $_ := set $out "kube-score.berth.io/container-security-context-user-group-id" $r }}
{{- end }}
{{- if has "SYS_ADMIN" $sec.capabilities }}
{{- $_ := set $out "checkov.io/skip12" "CKV_K8S_39=SYS_ADMIN is added in berth.yaml (security.capabilities)" }}
{{- end }}
{{- $res := .Values.resources | default dict }}
{{- $req := $res.requests | default dict }}
{{- $lim := $res.limits | default dict }}
{{- if or $req $lim }}
{{- $missing := list }}
{{- $ids := list }}
{{- range $check := list (list "requests.cpu" $req "cpu" "checkov.io/skip13" "CKV_K8S_10") (list "limits.cpu" $lim "cpu" "checkov.io/skip14" "CKV_K8S_11") (list "requests.memory" $req "memory" "checkov.io/skip15" "CKV_K8S_12") (list "limits.memory" $lim "memory" "checkov.io/skip16" "CKV_K8S_13") }}
{{- if not (hasKey (index $check 1) (index $check 2)) }}
{{- $missing = append $missing (index $check 0) }}
{{- $ids = append $ids (list (index $check 3) (index $check 4)) }}
{{- end }}
{{- end }}
{{- if $missing }}
{{- $r := printf "berth.yaml sets resources without %s (resources)" (join ", " $missing) }}
{{- range $ids }}
{{- $_ := set $out (index . 0) (printf "%s=%s" (index . 1) $r) }}
{{- end }}
{{- $kubeScore = append $kubeScore "container-resources" }}
{{- $_ := set $out "kube-score.berth.io/container-resources" $r }}
{{- end }}
{{- end }}
{{- if and $deployment (lt (.Values.replicas | int64) 2) }}
{{- $r := printf "replicas: %d is set in berth.yaml" (.Values.replicas | int64) }}
{{- $kubeScore = append $kubeScore "deployment-replicas" }}
{{- $_ := set $out "kube-score.berth.io/deployment-replicas" $r }}
{{- end }}
{{- $_ := set $out "kube-score/ignore" (join "," $kubeScore) }}
{{- toYaml $out }}
{{- end }}
{{- end }}
