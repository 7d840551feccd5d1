package schema

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice"
)

// The records of the transaction topic, in Debezium's shape: the key
// {"id"} and the value {"status": "BEGIN"|"END", "id", "event_count",
// "data_collections": [{"data_collection", "event_count"}], "ts_ms"}, with
// event_count and data_collections null at BEGIN.

// Avro schemas of the transaction topic, with Debezium's record names.
const (
	avroTxKeySchema   = `{"type":"record","name":"TransactionMetadataKey","namespace":"io.debezium.connector.common","fields":[{"name":"id","type":"string"}]}`
	avroTxValueSchema = `{"type":"record","name":"TransactionMetadataValue","namespace":"io.debezium.connector.common","fields":[{"name":"status","type":"string"},{"name":"id","type":"string"},{"name":"event_count","type":["null","long"],"default":null},{"name":"data_collections","type":["null",{"type":"array","items":{"type":"record","name":"DataCollection","fields":[{"name":"data_collection","type":"string"},{"name":"event_count","type":"long"}]}}],"default":null},{"name":"ts_ms","type":"long"}]}`
)

// Connect JSON schemas of the transaction topic.
const (
	connectTxKeySchema   = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey"}`
	connectTxValueSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":false,"name":"io.debezium.connector.common.DataCollection"},"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue"}`
)

func txStatus(b *sluice.TransactionBoundary) string {
	if b.End {
		return "END"
	}
	return "BEGIN"
}

func txCommitMillis(b *sluice.TransactionBoundary) int64 {
	if b.CommitTime.IsZero() {
		return 0
	}
	return b.CommitTime.UnixMilli()
}

// appendTxPayload appends the JSON object of a transaction boundary.
func appendTxPayload(dst []byte, b *sluice.TransactionBoundary) []byte {
	dst = append(dst, `{"status":"`...)
	dst = append(dst, txStatus(b)...)
	dst = append(dst, `","id":`...)
	dst = appendString(dst, b.ID)
	if !b.End {
		dst = append(dst, `,"event_count":null,"data_collections":null`...)
	} else {
		dst = append(dst, `,"event_count":`...)
		dst = strconv.AppendInt(dst, b.Events, 10)
		dst = append(dst, `,"data_collections":[`...)
		for i, t := range b.Tables {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"data_collection":`...)
			dst = appendString(dst, t.Table)
			dst = append(dst, `,"event_count":`...)
			dst = strconv.AppendInt(dst, t.Events, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, txCommitMillis(b), 10)
	return append(dst, '}')
}

func appendTxKey(dst []byte, id string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, id)
	return append(dst, '}')
}

// TransactionKey renders the key of a transaction topic record, {"id":…}.
func (e *JSONEncoder) TransactionKey(id string) []byte { return appendTxKey(nil, id) }

// TransactionValue renders a transaction boundary as JSON.
func (e *JSONEncoder) TransactionValue(b *sluice.TransactionBoundary) []byte {
	return appendTxPayload(make([]byte, 0, 128+48*len(b.Tables)), b)
}

// TransactionKey renders the key of a transaction topic record with its
// Connect schema.
func (e *ConnectJSONEncoder) TransactionKey(id string) []byte {
	dst := append([]byte(`{"schema":`), connectTxKeySchema...)
	dst = append(dst, `,"payload":`...)
	return append(appendTxKey(dst, id), '}')
}

// TransactionValue renders a transaction boundary with its Connect schema.
func (e *ConnectJSONEncoder) TransactionValue(b *sluice.TransactionBoundary) []byte {
	dst := make([]byte, 0, len(connectTxValueSchema)+160+48*len(b.Tables))
	dst = append(append(append(dst, `{"schema":`...), connectTxValueSchema...), `,"payload":`...)
	return append(appendTxPayload(dst, b), '}')
}

// TransactionKey renders the key of a record of transaction topic topic in
// the Confluent wire format, registering the key schema under
// <topic>-key on first use (blocking and retrying like Key).
func (e *AvroEncoder) TransactionKey(ctx context.Context, topic, id string) ([]byte, error) {
	sid, err := e.reg.register(ctx, topic+"-key", avroTxKeySchema)
	if err != nil {
		return nil, fmt.Errorf("register avro key schema of transaction topic %s: %w", topic, err)
	}
	dst := make([]byte, 5, 6+len(id))
	binary.BigEndian.PutUint32(dst[1:], sid)
	return appendAvroString(dst, id), nil
}

// TransactionValue renders a transaction boundary as a record of topic in
// the Confluent wire format, registering the value schema under
// <topic>-value on first use.
func (e *AvroEncoder) TransactionValue(ctx context.Context, topic string, b *sluice.TransactionBoundary) ([]byte, error) {
	sid, err := e.reg.register(ctx, topic+"-value", avroTxValueSchema)
	if err != nil {
		return nil, fmt.Errorf("register avro value schema of transaction topic %s: %w", topic, err)
	}
	dst := make([]byte, 5, 64+32*len(b.Tables))
	binary.BigEndian.PutUint32(dst[1:], sid)
	dst = appendAvroString(dst, txStatus(b))
	dst = appendAvroString(dst, b.ID)
	if !b.End {
		dst = append(dst, 0, 0)
	} else {
		dst = append(dst, 2)
		dst = appendAvroLong(dst, b.Events)
		dst = append(dst, 2)
		if len(b.Tables) > 0 {
			dst = appendAvroLong(dst, int64(len(b.Tables)))
			for _, t := range b.Tables {
				dst = appendAvroString(dst, t.Table)
				dst = appendAvroLong(dst, t.Events)
			}
		}
		dst = append(dst, 0)
	}
	return appendAvroLong(dst, txCommitMillis(b)), nil
}
