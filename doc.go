// Package sluice is the shared vocabulary of the sluice change-data-capture
// daemon: the change event, its operation, the shape of a table and its
// columns, and the source position an event was read at.
//
// Sources (package snapshot, binlog and pgoutput) produce [Event] values;
// package tombstone turns them into Kafka records; package sink produces those
// records and commits the [Position] once Kafka acknowledged them. This
// package imports nothing of sluice's own, so every other package can depend
// on it.
//
// Values in a [Row] are canonical: each [Kind] documents the one Go type its
// values have, whichever path (snapshot or stream) produced them. That is what
// lets the snapshot read and the stream render the same row byte for byte.
package sluice
