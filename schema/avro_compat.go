package schema

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// AvroBackwardCompatible reports whether a consumer that reads with the
// newer schema can read data written with the older one (the schema
// registry's BACKWARD rule, checked with Avro schema resolution). It returns
// nil when it can, and otherwise an error that names the incompatible
// change. Tests use it where the registry (srfake) does not check.
func AvroBackwardCompatible(newer, older string) error {
	reader, err := avro.ParseWithCache(newer, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("check avro compatibility: parse the newer schema: %w", err)
	}
	writer, err := avro.ParseWithCache(older, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("check avro compatibility: parse the older schema: %w", err)
	}
	if err := avro.NewSchemaCompatibility().Compatible(reader, writer); err != nil {
		return fmt.Errorf("newer schema cannot read data of the older one: %w", err)
	}
	return nil
}
