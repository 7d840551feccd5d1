package engine

import (
	"fmt"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/transform"
)

// newTransformer builds the column transforms the transforms settings
// name; nil when they name none, so that events then pass untouched and
// at no cost. Each call returns a Transformer of its own: one serves one
// goroutine.
func newTransformer(cfg *config.Config) (*transform.Transformer, error) {
	x := &cfg.Transforms
	tc := transform.Config{Mask: x.Mask, MaskWith: x.MaskWith, Hash: x.Hash, Salt: x.HashSalt.Reveal(),
		Truncate: x.Truncate, Connector: cfg.Source.Type}
	if tc.IsZero() {
		return nil, nil
	}
	return transform.New(tc)
}

// transformTables applies the column transforms to the captured shapes of
// the selected tables, for `sluice check`: each table whose transforms
// cannot work is an error (its shape is then left out of the result), and
// each pattern that matches no column of any table is a warning. Without
// transforms it returns tables as they are.
func transformTables(cfg *config.Config, tables []*sluice.Table) ([]*sluice.Table, sluice.Problems) {
	xf, err := newTransformer(cfg)
	if err != nil {
		return nil, sluice.Problems{{Message: err.Error()}}
	}
	if xf == nil {
		return tables, nil
	}
	var problems sluice.Problems
	out := make([]*sluice.Table, 0, len(tables))
	for _, t := range tables {
		d, err := xf.Table(t)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		out = append(out, d)
	}
	for _, p := range xf.Unmatched(tables) {
		problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf(
			"%s matches no column of the selected tables: it transforms nothing; check the db.table.column names, or remove it", p)})
	}
	return out, problems
}
