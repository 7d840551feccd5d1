package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/buildinfo"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/tombstone"
)

// newEncoder builds the record encoder that format names: JSON, or Avro
// with its schemas in the schema registry. It reads the registry's TLS
// files but makes no registry request; the Avro encoder registers each
// table shape's schemas when it first meets the shape, retrying while the
// registry is unreachable.
func newEncoder(cfg *config.Config, log *slog.Logger, rw *registryWatch) (tombstone.Encoder, error) {
	switch cfg.Format {
	case "json":
		return jsonEncoder{schema.NewJSONEncoder(buildinfo.Version())}, nil
	case "connect-json":
		enc, err := schema.NewConnectJSONEncoder(avroOptions(cfg), cfg.ConnectJSON.DecimalFormat == "numeric")
		if err != nil {
			return nil, fmt.Errorf("connect-json encoder: %w", err)
		}
		return connectJSONEncoder{enc}, nil
	case "avro":
		reg, err := registryClient(&cfg.SchemaRegistry, rw)
		if err != nil {
			return nil, err
		}
		enc, err := schema.NewAvroEncoder(reg, avroOptions(cfg), log)
		if err != nil {
			return nil, fmt.Errorf("avro encoder: %w", err)
		}
		return enc, nil
	}
	return nil, fmt.Errorf("format %q is not one of avro, json, connect-json", cfg.Format)
}

// avroOptions are the settings that shape sluice's Avro schemas (and
// those of connect-json, which follows mapping v2).
func avroOptions(cfg *config.Config) schema.AvroOptions {
	opts := schema.AvroOptions{
		TopicPrefix:    cfg.Kafka.TopicPrefix,
		UnsignedBigint: cfg.Avro.UnsignedBigint,
		Version:        buildinfo.Version(),
		Mapping:        cfg.Avro.Mapping,
		Connector:      cfg.Source.Type,
		Database:       cfg.Source.Database,
	}
	if pats := slices.Clone(cfg.Avro.TextColumns); len(pats) > 0 {
		opts.TextColumn = func(t *sluice.Table, col *sluice.Column) bool {
			// A masked or hashed column is a string already; a truncated
			// one is a string column, which text_columns does not take.
			return col.Transform == "" && sluice.MatchColumn(pats, t.Database, t.Name, col.Name)
		}
	}
	return opts
}

// registryClient builds a schema registry client from the settings: every
// URL (tried in order when one cannot be reached), basic authentication,
// TLS and the per-request timeout. It reads the TLS files and makes no
// request. A non-nil rw watches every request.
func registryClient(c *config.SchemaRegistryConfig, rw *registryWatch) (*sr.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg, err := c.TLS.Load("schema_registry.tls")
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tlsCfg
	var rt http.RoundTripper = tr
	if rw != nil {
		rw.next, rt = tr, rw
	}
	opts := []sr.ClientOpt{
		sr.URLs(slices.Clone(c.URLs)...), // sr.URLs rewrites its argument
		sr.HTTPClient(&http.Client{Timeout: c.RequestTimeout, Transport: rt}),
		sr.UserAgent("sluice/" + buildinfo.Version()),
	}
	if c.Username != "" {
		opts = append(opts, sr.BasicAuth(c.Username, c.Password.Reveal()))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w; check schema_registry.urls", err)
	}
	return cl, nil
}

// checkRegistry asks the registry for its global compatibility level, a
// read that needs a reachable registry and accepted credentials. It blocks
// for at most one request timeout per URL.
func checkRegistry(ctx context.Context, c *config.SchemaRegistryConfig) sluice.Problems {
	reg, err := registryClient(c, nil)
	if err != nil {
		return sluice.Problems{{Message: err.Error()}}
	}
	res := reg.Compatibility(ctx)
	if len(res) == 0 {
		return sluice.Problems{{Message: "schema registry: no answer to GET /config"}}
	}
	if err := res[0].Err; err != nil {
		return sluice.Problems{{Message: registryProblem(c, err)}}
	}
	return nil
}

// registryProblem turns a failed registry request into a message naming
// the cause and the fix. The URLs hold no credentials (Validate refuses
// them), so they may be shown.
func registryProblem(c *config.SchemaRegistryConfig, err error) string {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusUnauthorized:
			if c.Username == "" {
				return fmt.Sprintf("schema registry %s requires authentication (401): set schema_registry.username and schema_registry.password (or password_file)", re.URL)
			}
			return fmt.Sprintf("schema registry %s refused the credentials of user %q (401): check schema_registry.username and schema_registry.password", re.URL, c.Username)
		case http.StatusForbidden:
			return fmt.Sprintf("schema registry %s denied user %q access (403): grant the user read and write access to the subjects of sluice's topics", re.URL, c.Username)
		case http.StatusNotFound:
			return fmt.Sprintf("schema registry %s answered 404: schema_registry.urls must be the registry's base URL (the one that serves /subjects and /config)", re.URL)
		}
		return fmt.Sprintf("schema registry %s answered %d: %v; check that the registry is healthy", re.URL, re.StatusCode, err)
	}
	return fmt.Sprintf("schema registry not reachable: %v; check schema_registry.urls and that the registry is running", err)
}

// jsonEncoder adapts schema's JSON encoder to tombstone.Encoder; JSON needs
// no registry, so ctx is unused.
type jsonEncoder struct{ *schema.JSONEncoder }

func (e jsonEncoder) Key(_ context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	return e.JSONEncoder.Key(t, row)
}

func (e jsonEncoder) Value(_ context.Context, ev *sluice.Event) ([]byte, error) {
	return e.JSONEncoder.Value(ev)
}

// connectJSONEncoder adapts schema's Connect JSON encoder to
// tombstone.ReplacingEncoder; it needs no registry, so ctx is unused.
type connectJSONEncoder struct{ *schema.ConnectJSONEncoder }

func (e connectJSONEncoder) Key(_ context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	return e.ConnectJSONEncoder.Key(t, row)
}

func (e connectJSONEncoder) Value(_ context.Context, ev *sluice.Event) ([]byte, error) {
	return e.ConnectJSONEncoder.Value(ev)
}

func (e connectJSONEncoder) ValueReplacing(_ context.Context, ev *sluice.Event, dst []sluice.Replacement) ([]byte, []sluice.Replacement, error) {
	return e.ConnectJSONEncoder.ValueReplacing(ev, dst)
}

func (e jsonEncoder) TransactionKey(_ context.Context, _, id string) ([]byte, error) {
	return e.JSONEncoder.TransactionKey(id), nil
}

func (e jsonEncoder) TransactionValue(_ context.Context, _ string, b *sluice.TransactionBoundary) ([]byte, error) {
	return e.JSONEncoder.TransactionValue(b), nil
}

func (e connectJSONEncoder) TransactionKey(_ context.Context, _, id string) ([]byte, error) {
	return e.ConnectJSONEncoder.TransactionKey(id), nil
}

func (e connectJSONEncoder) TransactionValue(_ context.Context, _ string, b *sluice.TransactionBoundary) ([]byte, error) {
	return e.ConnectJSONEncoder.TransactionValue(b), nil
}
