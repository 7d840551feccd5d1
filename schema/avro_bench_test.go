package schema

import (
	"context"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/sluice-cdc/sluice"
)

// The Avro benchmarks use benchEvent, the 10-column row of the JSON
// benchmarks (BenchmarkJSONValue, BenchmarkJSONValueAlloc), so the figures
// compare directly.

func BenchmarkAvroValue(b *testing.B) {
	enc, _, _ := newTestAvro(b, AvroOptions{TopicPrefix: "sluice", Version: "1.0.0"})
	ev := benchEvent()
	ctx := context.Background()
	buf, err := enc.AppendValue(ctx, nil, ev) // registers the shape
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = enc.AppendValue(ctx, buf[:0], ev)
	}
}

// BenchmarkAvroMapping compares the mappings on the same row, each through
// the call records are built with (tombstone uses ValueReplacing), and
// connect-json beside them; run with -count to alternate them.
func BenchmarkAvroMapping(b *testing.B) {
	ev := benchEvent()
	ev.Source.Connector = "mysql"
	ctx := context.Background()
	for _, mapping := range []string{AvroMappingV1, AvroMappingV2} {
		b.Run("mapping="+mapping, func(b *testing.B) {
			enc, _, _ := newTestAvro(b, AvroOptions{TopicPrefix: "sluice", Version: "1.0.0", Mapping: mapping, Connector: "mysql"})
			var reps []sluice.Replacement
			buf, reps, err := enc.ValueReplacing(ctx, ev, reps)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				_, reps, _ = enc.ValueReplacing(ctx, ev, reps[:0])
			}
		})
	}
	b.Run("connect-json", func(b *testing.B) {
		enc, err := NewConnectJSONEncoder(AvroOptions{TopicPrefix: "sluice", Version: "1.0.0", Connector: "mysql"}, false)
		if err != nil {
			b.Fatal(err)
		}
		var reps []sluice.Replacement
		buf, reps, err := enc.ValueReplacing(ev, reps)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			_, reps, _ = enc.ValueReplacing(ev, reps[:0])
		}
	})
}

func BenchmarkAvroValueAlloc(b *testing.B) {
	enc, _, _ := newTestAvro(b, AvroOptions{TopicPrefix: "sluice", Version: "1.0.0"})
	ev := benchEvent()
	ctx := context.Background()
	if _, err := enc.Value(ctx, ev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Value(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAvroKey(b *testing.B) {
	enc, _, _ := newTestAvro(b, AvroOptions{TopicPrefix: "sluice"})
	ev := benchEvent()
	ctx := context.Background()
	if _, err := enc.Key(ctx, ev.Table, ev.After); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Key(ctx, ev.Table, ev.After); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoavroValue is the generic path the plan replaces: goavro's
// BinaryFromNative on the natives of the same envelope.
func BenchmarkGoavroValue(b *testing.B) {
	enc, _, cl := newTestAvro(b, AvroOptions{TopicPrefix: "sluice", Version: "1.0.0"})
	ev := benchEvent()
	wire, err := enc.Value(context.Background(), ev)
	if err != nil {
		b.Fatal(err)
	}
	native, schema := decodeWire(b, cl, wire)
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = codec.BinaryFromNative(buf[:0], native); err != nil {
			b.Fatal(err)
		}
	}
}
