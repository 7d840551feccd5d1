// Package keys decides what identifies a row in Kafka: the key columns of
// its table (the primary key, or the columns the user configured for a
// table without one), nothing else.
//
// Where it sits: between the sources and package tombstone, which asks it
// whether an update moved a row to a new key and whether a table's records
// have a key at all. The key bytes themselves are rendered by the record
// encoder (schema.JSONEncoder.Key) from exactly the columns chosen here.
//
// What it promises (promise 3): a key is a function of the key columns'
// values only. The snapshot read, every insert, update and delete of a row,
// a restart and a change to any non-key column give the same key.
package keys
