// Package admin is sluice's admin HTTP server: the operator's view of a
// running [engine.Engine] and its two controls.
//
//	GET  /metrics   Prometheus text format: the engine's sluice_* metrics,
//	                franz-go's sluice_kafka_* (kprom), Go and process metrics
//	GET  /healthz   liveness: 200 while the engine's goroutines run
//	GET  /readyz    readiness: 200 when streaming, not paused, nothing
//	                stalled and the acknowledged position within
//	                admin.ready_max_lag; 503 with the reason otherwise
//	GET  /status    the engine's Status as JSON (see [StatusJSON])
//	POST /pause     stop reading from the source (Engine.Pause)
//	POST /resume    read on (Engine.Resume)
//
// It sits beside the pipeline, not in it: every answer is read from the
// engine's state (Engine.Status, Ready, Healthy) or its metrics registry,
// and costs the pipeline nothing. The server holds no secrets and shows
// none: the configuration appears only as its digest. It has no
// authentication, which is why admin.listen defaults to loopback.
//
// `sluice run` starts it (cmd/sluice); `sluice status` reads /status.
package admin
