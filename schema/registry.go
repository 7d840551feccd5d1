package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice/internal/retry"
)

// registryCacheLimit bounds the remembered (subject, schema) → id pairs
// and the last schema seen per subject.
const registryCacheLimit = 4096

// registryRetry is the registry client's use of the retry policy: the
// first wait 100 ms, doubling to 10 s, retried until the caller's context
// ends.
var registryRetry = retry.Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second}

// registry registers Avro schemas with a Confluent-compatible schema
// registry and remembers the ids it was given. It is safe for concurrent
// use.
type registry struct {
	cl  *sr.Client
	log *slog.Logger

	// sleep waits d or until ctx ends (retry.Wait); tests replace it so
	// that they do not wait.
	sleep func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	ids  map[registryKey]int // (subject, schema text) → id
	last map[string]string   // subject → last schema text registered
}

type registryKey struct{ subject, schema string }

func newRegistry(cl *sr.Client, log *slog.Logger) *registry {
	return &registry{cl: cl, log: log, sleep: retry.Wait,
		ids: map[registryKey]int{}, last: map[string]string{}}
}

// register returns the id of schema under subject, registering it when
// this registry has not seen the pair. It blocks and retries while the
// registry is unreachable, times out or answers 5xx, 408 or 429, until ctx
// ends, waiting between attempts as package internal/retry's policy says
// (from 100 ms, doubling to 10 s, with jitter) and logging each retry, its
// wait and its cause. A 409 (the subject's compatibility rules reject the
// schema) stops with an error naming the subject, the incompatible change
// and the fix; other 4xx answers stop with the registry's message. When a
// subject's schema changes in a way that is not BACKWARD compatible
// (compared with the last schema this registry registered for it, or on
// the subject's first use with the registry's latest version), it logs a
// warning before registering.
func (r *registry) register(ctx context.Context, subject, schema string) (uint32, error) {
	k := registryKey{subject, schema}
	r.mu.Lock()
	id, ok := r.ids[k]
	prev := r.last[subject]
	r.mu.Unlock()
	if ok {
		return uint32(id), nil
	}
	if prev == "" {
		// First use of the subject in this process: compare with what the
		// registry holds (best effort; the registration below retries).
		if latest, err := r.cl.SchemaByVersion(ctx, subject, -1); err == nil {
			prev = latest.Schema.Schema
			if have, want := avroMappingOf(prev), avroMappingOf(schema); have != want {
				return 0, fmt.Errorf("register schema under subject %q: the subject holds schemas of Avro mapping %s (version %d) and sluice is set to write mapping %s, whose schemas are not compatible with them; fix: set avro.mapping: %s to keep writing these topics as before, or move to mapping %s with a new kafka.topic_prefix (or after deleting the topics and their subjects), see docs/records.md",
					subject, have, latest.Version, want, have, want)
			}
		}
	}
	if prev != "" && prev != schema {
		if err := AvroBackwardCompatible(schema, prev); err != nil {
			r.log.Warn("schema change is not backward compatible: consumers using the new schema cannot read older records; see docs/records.md (evolution policy)",
				"subject", subject, "cause", err.Error())
		}
	}
	backoff := retry.New(registryRetry)
	for {
		got, err := r.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
		if err == nil {
			if got < 0 || int64(got) > int64(^uint32(0)) {
				return 0, fmt.Errorf("register schema under subject %q: the registry returned id %d, which does not fit the wire format's 4 bytes", subject, got)
			}
			r.remember(k, got)
			r.log.Info("registered avro schema", "subject", subject, "id", got)
			return uint32(got), nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("register schema under subject %q: %w (last registry error: %v)", subject, ctx.Err(), err)
		}
		var re *sr.ResponseError
		if errors.As(err, &re) {
			switch {
			case re.StatusCode == http.StatusConflict:
				return 0, r.incompatible(ctx, subject, schema, re)
			case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
				return 0, fmt.Errorf("register schema under subject %q: the registry refused the credentials (HTTP %d): %w; fix: check the schema registry user and password", subject, re.StatusCode, err)
			case re.StatusCode < 500 && re.StatusCode != http.StatusRequestTimeout && re.StatusCode != http.StatusTooManyRequests:
				return 0, fmt.Errorf("register schema under subject %q: the registry refused it (HTTP %d, error code %d): %w", subject, re.StatusCode, re.ErrorCode, err)
			}
		}
		wait, _ := backoff.Next() // no bound on attempts: ctx ends them
		r.log.Warn("schema registry unavailable, retrying", "subject", subject, "attempt", backoff.Retries(), "wait", wait, "cause", err.Error())
		if err := r.sleep(ctx, wait); err != nil {
			return 0, fmt.Errorf("register schema under subject %q: %w (the registry kept failing)", subject, err)
		}
	}
}

// avroMappingOf returns the mapping an Avro schema was built with: the
// sluice.mapping property of its top-level record, v1 when absent.
func avroMappingOf(schema string) string {
	var top struct {
		Mapping string `json:"sluice.mapping"`
	}
	if json.Unmarshal([]byte(schema), &top) != nil || top.Mapping == "" {
		return AvroMappingV1
	}
	return top.Mapping
}

func (r *registry) remember(k registryKey, id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) >= registryCacheLimit {
		clear(r.ids)
	}
	if len(r.last) >= registryCacheLimit {
		clear(r.last)
	}
	r.ids[k] = id
	r.last[k.subject] = k.schema
}

// incompatible builds the error for a 409: it fetches the subject's latest
// schema (best effort, once) to name the change the registry rejected.
func (r *registry) incompatible(ctx context.Context, subject, schema string, re *sr.ResponseError) error {
	change := re.Message
	if latest, err := r.cl.SchemaByVersion(ctx, subject, -1); err == nil {
		if cerr := AvroBackwardCompatible(schema, latest.Schema.Schema); cerr != nil {
			change = cerr.Error()
		} else if change == "" {
			change = "the subject's compatibility level rejects it (it is BACKWARD compatible with the latest version, so the level is FORWARD, FULL or a transitive one)"
		}
	}
	return fmt.Errorf("register schema under subject %q: the registry rejects it as incompatible with the subject's earlier versions (%s): %w; fix: if the table change is intended, set the subject's compatibility to NONE (PUT /config/%s {\"compatibility\":\"NONE\"}) or move the table to a new topic prefix, then restart sluice",
		subject, change, re, subject)
}
