//go:build integration

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/deploy/local"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/tombstone"
)

// TestAvroThroughTheRealRegistry encodes the sample tables' records with
// sluice's Avro encoder against the registry the quickstart runs (Apicurio,
// Confluent's API) and checks that the quickstart's consumer prints them
// from the schemas it fetches there by id.
func TestAvroThroughTheRealRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reg, err := local.StartRegistry(ctx, local.RegistryOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	cl, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := schema.NewAvroEncoder(cl, schema.AvroOptions{TopicPrefix: "quickstart.mysql", Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := tombstone.NewBuilder("quickstart.mysql", enc)
	src := sluice.Source{Connector: "mysql", Name: "quickstart-mysql"}
	var recs []*kgo.Record
	for _, ev := range []*sluice.Event{
		{Op: sluice.OpCreate, Table: mysqlCustomers, Source: src, After: sluice.Row{int64(4), "Edsger Dijkstra", nil, "2024-05-11 08:00:00.000000"}},
		{Op: sluice.OpDelete, Table: mysqlOrders, Source: src, Before: sluice.Row{uint64(1001), int64(1), "19.99", "paid", "2024-03-11T10:00:00.250Z"}},
	} {
		if recs, err = b.Append(ctx, recs, ev); err != nil {
			t.Fatalf("encode: %v", err)
		}
	}
	// A decoder of its own: every schema comes from the registry.
	dec := newAvroDecoder(cl)
	var got []string
	for i, r := range recs {
		r.Offset = int64(i)
		got = append(got, decodeKafkaRecord(ctx, dec, r).format())
	}
	want := []string{
		`quickstart.mysql.shop.customers [partition 0, offset 0] key {"id":4}  op c (insert)
    after  {"id":4,"name":"Edsger Dijkstra","email":null,"created_at":"2024-05-11 08:00:00.000000"}`,
		`quickstart.mysql.shop.orders [partition 0, offset 1] key {"id":1001}  op d (delete)
    before {"id":1001,"customer_id":1,"total":"19.99","status":"paid","placed_at":"2024-03-11T10:00:00.250Z"}`,
		`quickstart.mysql.shop.orders [partition 0, offset 2] key {"id":1001}  TOMBSTONE (null value)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(dec.schemas) != 4 {
		t.Errorf("%d schemas fetched, want 4", len(dec.schemas))
	}
}
