package pgoutput

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// discard is a handler that keeps nothing.
type discard struct{}

func (discard) Change(context.Context, *sluice.Event) error      { return nil }
func (discard) Resumable(context.Context, sluice.Position) error { return nil }

// BenchmarkApplyInsert measures decoding one pgoutput insert of a
// three-column row into an event (fake type mapper: the cost of package
// schema's conversions is measured there).
func BenchmarkApplyInsert(b *testing.B) {
	r, _ := testReader(nil, map[uint32][]string{10: {"id"}})
	ctx := context.Background()
	if err := r.apply(ctx, 1, ordersRel('d', "id"), discard{}); err != nil {
		b.Fatal(err)
	}
	ins := msg('I').u32(10).u8('N').tuple(text("123456"), text("a note of some length"), text("and a body of some length too"))
	b.SetBytes(int64(len(ins)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.apply(ctx, 2, ins, discard{}); err != nil {
			b.Fatal(err)
		}
	}
}
