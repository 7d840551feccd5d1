package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduce measures records per second through Produce until Kafka
// (kfake) acknowledged them, with 110-byte values, a mark every 10 records
// and the checkpoint loop running.
func BenchmarkProduce(b *testing.B) {
	c := newCluster(b)
	cfg := testConfig(c)
	cfg.ProducerLinger = DefaultProducerLinger
	cl := newTestClient(b, cfg)
	ensure(b, cl, cfg, testTopic)
	p := New(cl, cfg, nil)
	stop := runProducer(p)
	defer stop()

	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%08d", i)
	}
	value := make([]byte, 110)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(value) + 8))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := p.Produce(ctx, &kgo.Record{Topic: testTopic, Key: keys[i%len(keys)], Value: value}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 9 {
			p.Mark(cpAt(uint64(i + 1)))
		}
	}
	p.Mark(cpAt(uint64(b.N)))
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.StopTimer()
	if cp, _ := p.Acked(); cp.Position.Offset != uint64(b.N) {
		b.Fatalf("acked %d of %d", cp.Position.Offset, b.N)
	}
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
