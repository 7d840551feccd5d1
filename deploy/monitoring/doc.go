// Package monitoring is the Grafana dashboard and the Prometheus alert
// rules in deploy/, and the metric names they use:
//
//	deploy/grafana/sluice.json            the dashboard (import it, or provision it)
//	deploy/prometheus/sluice-alerts.yaml  the alert rules (Prometheus rule_files)
//
// [UsedMetrics] reads both and returns every metric name their PromQL
// uses, with the places that use it: the dashboard's panel targets (rows'
// nested panels included), its template variables (Grafana's
// label_values(metric, label), label_names(selector) and
// query_result(expr)) and annotations, and each rule's expr. Names are
// found by a small PromQL tokenizer that skips functions, aggregations,
// keywords, label names in {...} and in by/without/on/ignoring/group_*
// lists, string literals, numbers, durations and Grafana variables.
// [ExposedBy] compares those names with the set a process serves.
//
// The package's tests hold the two files to the engine: every sluice_*
// name they use is one engine/metrics.go defines or one franz-go's kprom
// plugin serves with the engine's options, and a running engine serves
// it. They also check the files' structure: every alert has an expr,
// a severity (critical, warning or info), a summary, a description and a
// runbook link into docs/operations.md; every dashboard panel has a
// title and a query. docs/operations.md describes the metrics, the
// dashboard and each alert.
package monitoring
