package engine

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
)

// router sends the records of the tables routing.topics matches to the
// route's topic. A routed table's shape gains one string column, the key
// field (routing.key_field), holding "database.table", appended to its
// columns and to its key, so that the keys of the topic's tables never
// collide and a compacted topic keeps one record per row of each table.
// Snapshot and stream events are routed alike. It is used from the
// source's goroutine only.
type router struct {
	routes []route
	field  string
	// shapes caches the routed shape of each table shape met, nil for a
	// table no route matches; cleared when it grows past
	// routedShapeLimit, as shapes come and go with DDL.
	shapes map[*sluice.Table]*routedShape
}

const routedShapeLimit = 4096

type route struct {
	expr  string
	re    *regexp.Regexp
	topic string
}

type routedShape struct {
	table *sluice.Table
	name  string // database.table, the key field's value
}

// newRouter compiles routing.topics; nil when there are no routes.
// Validate has checked the expressions.
func newRouter(c config.RoutingConfig) (*router, error) {
	if len(c.Topics) == 0 {
		return nil, nil
	}
	r := &router{field: c.KeyField, shapes: map[*sluice.Table]*routedShape{}}
	for expr, topic := range c.Topics {
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, fmt.Errorf("routing.topics: %q is not a regular expression: %w", expr, err)
		}
		r.routes = append(r.routes, route{expr: expr, re: re, topic: topic})
	}
	slices.SortFunc(r.routes, func(a, b route) int {
		if a.expr < b.expr {
			return -1
		}
		if a.expr > b.expr {
			return 1
		}
		return 0
	})
	return r, nil
}

// event returns ev routed: ev itself when no route matches its table,
// else a copy on the routed shape whose rows carry the key field.
func (r *router) event(ev *sluice.Event) (*sluice.Event, error) {
	s, err := r.shape(ev.Table)
	if err != nil || s == nil {
		return ev, err
	}
	out := *ev
	out.Table = s.table
	out.Before = withField(ev.Before, s.name)
	out.After = withField(ev.After, s.name)
	return &out, nil
}

func withField(row sluice.Row, name string) sluice.Row {
	if row == nil {
		return nil
	}
	out := make(sluice.Row, len(row)+1)
	copy(out, row)
	out[len(row)] = name
	return out
}

// shape returns the routed shape of t, nil when no route matches it.
func (r *router) shape(t *sluice.Table) (*routedShape, error) {
	if s, ok := r.shapes[t]; ok {
		return s, nil
	}
	name := t.Database + "." + t.Name
	var hit *route
	var topic string
	for i := range r.routes {
		rt := &r.routes[i]
		m := rt.re.FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		if hit != nil {
			return nil, fmt.Errorf("table %s matches two routing.topics expressions, %q and %q; fix: make the expressions exclusive", name, hit.expr, rt.expr)
		}
		hit, topic = rt, string(rt.re.ExpandString(nil, rt.topic, name, m))
	}
	var s *routedShape
	if hit != nil {
		for _, c := range t.Columns {
			if c.Name == r.field {
				return nil, fmt.Errorf("table %s has a column %q, the name routing.key_field gives the routed tables' key field; fix: choose another routing.key_field", name, r.field)
			}
		}
		rt := *t
		rt.Columns = append(slices.Clip(slices.Clone(t.Columns)), sluice.Column{Name: r.field, Kind: sluice.KindString, SourceType: "varchar"})
		if len(t.Key) > 0 {
			rt.Key = append(slices.Clone(t.Key), len(t.Columns))
		}
		rt.Topic = topic
		s = &routedShape{table: &rt, name: name}
	}
	if len(r.shapes) >= routedShapeLimit {
		clear(r.shapes)
	}
	r.shapes[t] = s
	return s, nil
}
