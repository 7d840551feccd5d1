package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/tombstone"
)

// The sample tables as sluice maps them from MariaDB.
var (
	mysqlCustomers = &sluice.Table{Database: "shop", Name: "customers", Key: []int{0}, PrimaryKey: true, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "int"},
		{Name: "name", Kind: sluice.KindString, SourceType: "varchar", Nullable: true},
		{Name: "email", Kind: sluice.KindString, SourceType: "varchar", Nullable: true},
		{Name: "created_at", Kind: sluice.KindDateTime, SourceType: "datetime(6)", Scale: 6, Nullable: true},
	}}
	mysqlOrders = &sluice.Table{Database: "shop", Name: "orders", Key: []int{0}, PrimaryKey: true, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true},
		{Name: "customer_id", Kind: sluice.KindInt, SourceType: "int", Nullable: true},
		{Name: "total", Kind: sluice.KindDecimal, SourceType: "decimal(10,2)", Precision: 10, Scale: 2, Nullable: true},
		{Name: "status", Kind: sluice.KindEnum, SourceType: "enum", Members: []string{"new", "paid", "shipped"}, Nullable: true},
		{Name: "placed_at", Kind: sluice.KindTimestamp, SourceType: "timestamp(3)", Scale: 3, Nullable: true},
	}}
	// A PostgreSQL table with the kinds whose Avro has a string fallback
	// or a logical type of its own.
	pgKinds = &sluice.Table{Database: "shop", Name: "kinds", Key: []int{0}, PrimaryKey: true, Columns: []sluice.Column{
		{Name: "id", Kind: sluice.KindInt, SourceType: "bigint"},
		{Name: "amount", Kind: sluice.KindDecimal, SourceType: "numeric(10,2)", Precision: 10, Scale: 2, Nullable: true},
		{Name: "day", Kind: sluice.KindDate, SourceType: "date", Nullable: true},
		{Name: "at", Kind: sluice.KindDateTime, SourceType: "timestamp without time zone", Scale: 6, Nullable: true},
		{Name: "blob", Kind: sluice.KindBytes, SourceType: "bytea", Nullable: true},
		{Name: "ratio", Kind: sluice.KindDouble, SourceType: "double precision", Nullable: true},
		{Name: "ok", Kind: sluice.KindBool, SourceType: "boolean"},
		{Name: "tags", Kind: sluice.KindArray, SourceType: "text[]", Nullable: true,
			Elem: &sluice.Column{Name: "tags", Kind: sluice.KindString, SourceType: "text"}},
	}}
)

// avroFixture is sluice's Avro encoder and the quickstart's decoder on one
// fake registry.
type avroFixture struct {
	prefix string
	enc    *schema.AvroEncoder
	dec    *avroDecoder
}

func newAvroFixture(t *testing.T, prefix string) *avroFixture {
	t.Helper()
	return newAvroFixtureMapping(t, prefix, "")
}

// newAvroFixtureMapping is newAvroFixture with an Avro mapping.
func newAvroFixtureMapping(t *testing.T, prefix, mapping string) *avroFixture {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := schema.NewAvroEncoder(cl, schema.AvroOptions{TopicPrefix: prefix, Version: "test", Mapping: mapping, Connector: "mysql"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &avroFixture{prefix: prefix, enc: enc, dec: newAvroDecoder(cl)}
}

// records encodes ev as sluice does (a delete gives a tombstone too) and
// decodes each record as the quickstart's consumer does.
func (f *avroFixture) records(t *testing.T, ev *sluice.Event) []record {
	t.Helper()
	ctx := context.Background()
	recs, err := tombstone.NewBuilder(f.prefix, f.enc).Append(ctx, nil, ev)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var out []record
	for i, r := range recs {
		out = append(out, decodeKafkaRecord(ctx, f.dec, &kgo.Record{Topic: r.Topic, Offset: int64(i), Key: r.Key, Value: r.Value, Headers: r.Headers}))
	}
	return out
}

func TestAvroRecordsPrintLikeJSON(t *testing.T) {
	for _, mapping := range []string{schema.AvroMappingV1, schema.AvroMappingV2} {
		t.Run(mapping, func(t *testing.T) { testAvroRecordsPrintLikeJSON(t, mapping) })
	}
}

func testAvroRecordsPrintLikeJSON(t *testing.T, mapping string) {
	f := newAvroFixtureMapping(t, "quickstart.mysql", mapping)
	src := sluice.Source{Connector: "mysql", Name: "quickstart-mysql", Snapshot: true}
	got := f.records(t, &sluice.Event{Op: sluice.OpRead, Table: mysqlCustomers, Source: src,
		After: sluice.Row{int64(1), "Ada Lovelace", "ada@example.com", "2024-01-15 09:30:00.123456"}})
	got = append(got, f.records(t, &sluice.Event{Op: sluice.OpDelete, Table: mysqlOrders, Source: src,
		Before: sluice.Row{uint64(18446744073709551615), int64(3), "1234.56", "shipped", "2024-03-13T12:45:30.999Z"}})...)
	want := []string{
		`quickstart.mysql.shop.customers [partition 0, offset 0] key {"id":1}  op r (read by the snapshot)
    after  {"id":1,"name":"Ada Lovelace","email":"ada@example.com","created_at":"2024-01-15 09:30:00.123456"}`,
		`quickstart.mysql.shop.orders [partition 0, offset 0] key {"id":18446744073709551615}  op d (delete)
    before {"id":18446744073709551615,"customer_id":3,"total":"1234.56","status":"shipped","placed_at":"2024-03-13T12:45:30.999Z"}`,
		`quickstart.mysql.shop.orders [partition 0, offset 1] key {"id":18446744073709551615}  TOMBSTONE (null value)`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if s := got[i].format(); s != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, s, want[i])
		}
	}
	if keyID(got[1].Key) != "18446744073709551615" || !got[2].Tombstone || got[1].Op != "d" {
		t.Errorf("decoded: key id %q, op %q, tombstone %v", keyID(got[1].Key), got[1].Op, got[2].Tombstone)
	}
	if len(f.dec.schemas) != 4 {
		t.Errorf("%d schemas cached, want 4 (a key and a value schema per table)", len(f.dec.schemas))
	}
}

func TestAvroPostgresKindsAndUnavailableHeader(t *testing.T) {
	f := newAvroFixture(t, "quickstart.pg")
	src := sluice.Source{Connector: "postgresql", Name: "quickstart-pg", Position: sluice.Position{LSN: 42}}
	tags := sluice.Array{Dims: []int{2}, Elems: []any{"a", nil}}
	after := sluice.Row{int64(7), "NaN", "2024-02-29", "2024-03-01 10:00:00.5", []byte{0xde, 0xad}, 0.1, true, tags}
	before := sluice.Row{int64(7), nil, nil, nil, nil, nil, false, nil}
	got := f.records(t, &sluice.Event{Op: sluice.OpUpdate, Table: pgKinds, Source: src,
		Before: before, After: after, BeforeUnavailable: []int{1, 2, 3, 4, 5, 6, 7}})
	if len(got) != 1 {
		t.Fatalf("%d records", len(got))
	}
	want := `quickstart.pg.shop.kinds [partition 0, offset 0] key {"id":7}  op u (update)
    before {"id":7,"amount":null,"day":null,"at":null,"blob":null,"ratio":null,"ok":false,"tags":null}
    after  {"id":7,"amount":"NaN","day":"2024-02-29","at":"2024-03-01 10:00:00.5","blob":"3q0=","ratio":0.1,"ok":true,"tags":{"elements":["a",null],"dims":[2],"lower":[]}}
    header sluice.unavailable.before: ["amount","day","at","blob","ratio","ok","tags"]`
	if s := got[0].format(); s != want {
		t.Errorf("format:\n got %s\nwant %s", s, want)
	}

	after[1] = "12.50"
	got = f.records(t, &sluice.Event{Op: sluice.OpCreate, Table: pgKinds, Source: src, After: after})
	if s := got[0].format(); !strings.Contains(s, `"amount":"12.50"`) || strings.Contains(s, "header") {
		t.Errorf("decimal branch of the numeric union, no header: %s", s)
	}
}

func TestAvroUndecodableValue(t *testing.T) {
	f := newAvroFixture(t, "quickstart.mysql")
	ctx := context.Background()
	// Schema id 99 is not in the registry.
	r := decodeKafkaRecord(ctx, f.dec, &kgo.Record{Topic: "quickstart.mysql.shop.orders", Key: []byte(`{"id":1}`), Value: []byte{0, 0, 0, 0, 99, 2}})
	if r.Op != "" || r.Tombstone || !strings.Contains(r.format(), "value not decodable: fetch schema 99 from the registry") {
		t.Errorf("format = %s", r.format())
	}
}

func TestBranchMatches(t *testing.T) {
	s, err := parseWriterSchema(`{"type":"record","name":"R","namespace":"a.b","fields":[
		{"name":"x","type":["null",{"type":"record","name":"In","fields":[{"name":"v","type":"int"}]},"string"]},
		{"name":"y","type":["null","In"]},
		{"name":"d","type":["null",{"type":"bytes","logicalType":"decimal","precision":4,"scale":1},"string"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		branch any
		key    string
		want   bool
	}{
		{"In", "a.b.In", true},
		{"In", "string", false},
		{"string", "string", true},
		{map[string]any{"type": "bytes", "logicalType": "decimal"}, "bytes.decimal", true},
		{map[string]any{"type": "bytes", "logicalType": "decimal"}, "string", false},
		{map[string]any{"type": "record", "name": "In"}, "a.b.In", true},
	} {
		if got := s.branchMatches(tc.branch, "a.b", tc.key); got != tc.want {
			t.Errorf("branchMatches(%v, %q) = %v", tc.branch, tc.key, got)
		}
	}
}

func TestAvroUndecodableKeyIsShown(t *testing.T) {
	f := newAvroFixture(t, "quickstart.mysql")
	r := decodeKafkaRecord(context.Background(), f.dec, &kgo.Record{Topic: "t", Key: []byte{0, 0, 0, 1, 0, 2}, Value: []byte(`{"op":"c","after":{"id":1}}`)})
	if got := r.format(); r.Op != "c" || !strings.Contains(got, "\n    key not decodable: fetch schema 256") {
		t.Errorf("format = %s", got)
	}
}

func TestHintOf(t *testing.T) {
	for st, want := range map[string]fieldHint{
		"datetime(6)":                 {fsp: 6},
		"datetime":                    {fsp: 0},
		"timestamp(3)":                {fsp: 3},
		"timestamp(3) with time zone": {fsp: 3},
		"timestamp without time zone": {fsp: -1},
		"bigint unsigned":             {fsp: -1, integer: true},
		"decimal(20,0)":               {fsp: -1},
		"":                            noHint,
	} {
		if got := hintOf(st); got != want {
			t.Errorf("hintOf(%q) = %+v, want %+v", st, got, want)
		}
	}
}
