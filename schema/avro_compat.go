package schema

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// AvroBackwardCompatible reports whether a consumer that reads with the
// newer schema can read data written with the older one (the schema
// registry's BACKWARD rule, checked with Avro schema resolution). It returns
// nil when it can, and otherwise an error that names the first incompatible
// field by its path (e.g. "before.qty: reader schema int not compatible with
// writer schema long"). Tests use it where the registry (srfake) does not
// check.
func AvroBackwardCompatible(newer, older string) error {
	reader, err := avro.ParseWithCache(newer, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("check avro compatibility: parse the newer schema: %w", err)
	}
	writer, err := avro.ParseWithCache(older, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("check avro compatibility: parse the older schema: %w", err)
	}
	c := avro.NewSchemaCompatibility()
	if err := c.Compatible(reader, writer); err != nil {
		return fmt.Errorf("newer schema cannot read data of the older one: %s", describeIncompatible(c, reader, writer, ""))
	}
	return nil
}

// describeIncompatible finds the innermost place where reader cannot read
// writer, for an error message: hamba reports a mismatch inside a union only
// as "reader union lacking writer schema record".
func describeIncompatible(c *avro.SchemaCompatibility, reader, writer avro.Schema, path string) string {
	at := func(msg string) string {
		if path == "" {
			return msg
		}
		return path + ": " + msg
	}
	if r, ok := reader.(*avro.RefSchema); ok {
		reader = r.Schema()
	}
	if w, ok := writer.(*avro.RefSchema); ok {
		writer = w.Schema()
	}
	rr, rok := reader.(*avro.RecordSchema)
	wr, wok := writer.(*avro.RecordSchema)
	if rok && wok && rr.FullName() == wr.FullName() {
		for _, rf := range rr.Fields() {
			var wf *avro.Field
			for _, f := range wr.Fields() {
				if f.Name() == rf.Name() {
					wf = f
					break
				}
			}
			sub := rf.Name()
			if path != "" {
				sub = path + "." + rf.Name()
			}
			if wf == nil {
				if !rf.HasDefault() {
					return sub + ": field added without a default"
				}
				continue
			}
			if err := c.Compatible(rf.Type(), wf.Type()); err != nil {
				return describeIncompatible(c, rf.Type(), wf.Type(), sub)
			}
		}
	}
	ru, rok := reader.(*avro.UnionSchema)
	wu, wok := writer.(*avro.UnionSchema)
	if wok {
		for _, w := range wu.Types() {
			if err := c.Compatible(reader, w); err != nil {
				return describeIncompatible(c, reader, w, path)
			}
		}
	}
	if rok && !wok {
		// Drill into the reader branch of the writer's kind, if any.
		for _, r := range ru.Types() {
			if r.Type() == writer.Type() {
				return describeIncompatible(c, r, writer, path)
			}
		}
	}
	if err := c.Compatible(reader, writer); err != nil {
		return at(err.Error())
	}
	return at("incompatible")
}
