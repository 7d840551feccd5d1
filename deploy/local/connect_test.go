//go:build integration

package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

func TestConnectPOMNamesTheJars(t *testing.T) {
	pom := string(connectPOM)
	for _, s := range []string{
		"<kafka.version>" + connectVersion + "</kafka.version>",
		"<artifactId>connect-runtime</artifactId>", "<artifactId>connect-json</artifactId>",
		"<artifactId>debezium-connector-jdbc</artifactId>", "<debezium.version>3.5.0.Final</debezium.version>",
		"<artifactId>apicurio-registry-utils-converter</artifactId>", "<apicurio.version>" + registryVersion + "</apicurio.version>",
	} {
		if !strings.Contains(pom, s) {
			t.Errorf("connect-pom.xml lacks %s", s)
		}
	}
	for _, p := range connectProfiles {
		if !strings.Contains(pom, "<id>"+p.profile+"</id>") {
			t.Errorf("connect-pom.xml lacks profile %s", p.profile)
		}
	}
}

func TestConnectWorkerProperties(t *testing.T) {
	p := parseProperties(t, connectConfig{Bootstrap: "127.0.0.1:9092", Port: 8083, Offsets: "/d/connect.offsets", PluginPath: "/c/plugins"}.render())
	for k, want := range map[string]string{
		"bootstrap.servers":                 "127.0.0.1:9092",
		"listeners":                         "http://127.0.0.1:8083",
		"offset.storage.file.filename":      "/d/connect.offsets",
		"plugin.path":                       "/c/plugins",
		"key.converter":                     "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                   "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":      "true",
		"value.converter.schemas.enable":    "true",
		"rest.advertised.port":              "8083",
		"task.shutdown.graceful.timeout.ms": "5000",
	} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
}

func TestTraceSummary(t *testing.T) {
	trace := strings.Join([]string{
		"org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.",
		"\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)",
		"\tat org.apache.kafka.connect.runtime.WorkerSinkTask.poll(WorkerSinkTask.java:345)",
		"\tat org.apache.kafka.connect.runtime.WorkerSinkTask.iteration(WorkerSinkTask.java:247)",
		"Caused by: java.lang.NoSuchMethodError: 'void com.fasterxml.Thing.x()'",
		"\tat org.hibernate.A.b(A.java:1)",
		"\t... 12 more",
	}, "\n")
	want := strings.Join([]string{
		"org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.",
		"\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)",
		"\tat org.apache.kafka.connect.runtime.WorkerSinkTask.poll(WorkerSinkTask.java:345)",
		"Caused by: java.lang.NoSuchMethodError: 'void com.fasterxml.Thing.x()'",
		"\tat org.hibernate.A.b(A.java:1)",
	}, "\n")
	if got := traceSummary(trace); got != want {
		t.Errorf("traceSummary:\n%s\nwant:\n%s", got, want)
	}
	st := ConnectorStatus{State: "RUNNING", Tasks: []TaskStatus{{ID: 0, State: "RUNNING"}, {ID: 1, State: "FAILED", Trace: trace}}}
	if err := st.Failure(); err == nil || !strings.Contains(err.Error(), "task 1 FAILED") || !strings.Contains(err.Error(), "NoSuchMethodError") {
		t.Errorf("Failure() = %v, want task 1's failure with its cause", err)
	}
}

func TestStartConnectNeedsBootstrap(t *testing.T) {
	_, err := StartConnect(t.Context(), ConnectOptions{})
	if err == nil || !strings.Contains(err.Error(), "Bootstrap") {
		t.Fatalf("StartConnect without Bootstrap: %v, want an error naming Bootstrap", err)
	}
}

// connectField is a field of a Kafka Connect schema in JsonConverter's
// {"schema":…,"payload":…} form.
type connectField struct {
	Field    string         `json:"field"`
	Type     string         `json:"type"`
	Optional bool           `json:"optional"`
	Name     string         `json:"name,omitempty"`
	Fields   []connectField `json:"fields,omitempty"`
}

// customerEnvelope returns the key and value of a Debezium-shaped change
// event of table customers (id int32 key, name string) in JsonConverter's
// envelope; after nil with op "d" is a delete.
func customerEnvelope(t *testing.T, id int32, op string, before, after map[string]any) (key, value []byte) {
	t.Helper()
	row := []connectField{{Field: "id", Type: "int32"}, {Field: "name", Type: "string", Optional: true}}
	keySchema := connectField{Type: "struct", Name: "sluice.test.customers.Key", Fields: row[:1]}
	valueSchema := connectField{Type: "struct", Name: "sluice.test.customers.Envelope", Fields: []connectField{
		{Field: "before", Type: "struct", Optional: true, Name: "sluice.test.customers.Value", Fields: row},
		{Field: "after", Type: "struct", Optional: true, Name: "sluice.test.customers.Value", Fields: row},
		{Field: "op", Type: "string"},
		{Field: "ts_ms", Type: "int64", Optional: true},
	}}
	var err error
	key, err = json.Marshal(map[string]any{"schema": keySchema, "payload": map[string]any{"id": id}})
	if err != nil {
		t.Fatal(err)
	}
	value, err = json.Marshal(map[string]any{"schema": valueSchema, "payload": map[string]any{
		"before": before, "after": after, "op": op, "ts_ms": time.Now().UnixMilli(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return key, value
}

// confluentAvro encodes native with codec in Confluent's wire format:
// magic byte 0, the schema id in four bytes big-endian, the Avro binary.
func confluentAvro(t *testing.T, codec *goavro.Codec, id int, native map[string]any) []byte {
	t.Helper()
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(id))
	out, err := codec.BinaryFromNative(out, native)
	if err != nil {
		t.Fatalf("encode %v: %v", native, err)
	}
	return out
}

// waitRows polls query on pg's database db until its rows, each as
// its values in fmt.Sprint's form joined by spaces, equal want. Meanwhile it fails at once when the
// connector or one of its tasks fails.
func waitRows(t *testing.T, ctx context.Context, pg *Postgres, db, query string, c *Connect, connector string, want []string) {
	t.Helper()
	conn, err := pg.Conn(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got []string
	var lastErr error
	for {
		st, err := c.ConnectorStatus(ctx, connector)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Failure(); err != nil {
			t.Fatalf("connector %s: %v", connector, err)
		}
		got, lastErr = nil, nil
		rows, err := conn.Query(ctx, query)
		if err == nil {
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				s := make([]string, len(vals))
				for i, v := range vals {
					s[i] = fmt.Sprint(v)
				}
				got = append(got, strings.Join(s, " "))
			}
			lastErr = rows.Err()
		} else {
			lastErr = err
		}
		if lastErr == nil && reflect.DeepEqual(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: rows %q (last error %v), want %q; connector %s: %s%s", query, got, lastErr, want, connector, st, logTails(filepath.Join(c.Dir(), "connect.log")))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func TestConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()

	began := time.Now()
	if err := InstallConnect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("InstallConnect: %v", time.Since(began).Round(time.Millisecond))

	k, err := StartKafka(ctx, KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	reg, err := StartRegistry(ctx, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()

	dir := t.TempDir()
	began = time.Now()
	c, err := StartConnect(ctx, ConnectOptions{Dir: dir, Bootstrap: k.Bootstrap()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("StartConnect: %v, REST API at %s", time.Since(began).Round(time.Millisecond), c.URL())

	// The sink logs in as a role of its own, to a database it owns.
	const role, password, db = "sink", "sink-secret", "sinkdb"
	if err := pg.CreateRole(ctx, role, password); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "", "CREATE DATABASE "+db+" OWNER "+role); err != nil {
		t.Fatal(err)
	}
	jdbcURL := fmt.Sprintf("jdbc:postgresql://%s/%s", pg.Addr(), db)

	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Bootstrap()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const jsonTopic, avroTopic = "connect_json", "connect_avro"
	for _, topic := range []string{jsonTopic, avroTopic} {
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
		}
	}

	// JSON with schemas: Debezium change events, an update and a delete
	// with its tombstone among them.
	var recs []*kgo.Record
	add := func(id int32, op string, before, after map[string]any) {
		key, value := customerEnvelope(t, id, op, before, after)
		recs = append(recs, &kgo.Record{Topic: jsonTopic, Key: key, Value: value})
	}
	add(1, "c", nil, map[string]any{"id": 1, "name": "one"})
	add(2, "c", nil, map[string]any{"id": 2, "name": "two"})
	add(1, "u", map[string]any{"id": 1, "name": "one"}, map[string]any{"id": 1, "name": "uno"})
	add(3, "c", nil, map[string]any{"id": 3, "name": "three"})
	add(3, "d", map[string]any{"id": 3, "name": "three"}, nil)
	key3, _ := customerEnvelope(t, 3, "d", nil, nil)
	recs = append(recs, &kgo.Record{Topic: jsonTopic, Key: key3})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	sink := func(topic, table string) map[string]string {
		return map[string]string{
			"connector.class":        connectJDBCSink,
			"tasks.max":              "1",
			"topics":                 topic,
			"connection.url":         jdbcURL,
			"connection.username":    role,
			"connection.password":    password,
			"insert.mode":            "upsert",
			"delete.enabled":         "true",
			"primary.key.mode":       "record_key",
			"schema.evolution":       "basic",
			"collection.name.format": table,
		}
	}
	jsonCfg := sink(jsonTopic, "customers")
	for _, side := range []string{"key", "value"} {
		jsonCfg[side+".converter"] = "org.apache.kafka.connect.json.JsonConverter"
		jsonCfg[side+".converter.schemas.enable"] = "true"
	}
	if err := c.CreateConnector(ctx, "json-sink", jsonCfg); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRunning(ctx, "json-sink"); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, pg, db, "SELECT id, name FROM customers ORDER BY id", c, "json-sink", []string{"1 uno", "2 two"})

	// Avro in Confluent's wire format, its schemas registered through the
	// Confluent API and read back by Apicurio's converter by content id.
	src, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	const (
		keySchema   = `{"type":"record","name":"OrderKey","namespace":"shop","fields":[{"name":"id","type":"int"}]}`
		valueSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"int"},{"name":"item","type":"string"},{"name":"qty","type":"long"}]}`
	)
	codecs := map[string]*goavro.Codec{}
	ids := map[string]int{}
	for side, schema := range map[string]string{"key": keySchema, "value": valueSchema} {
		ss, err := src.CreateSchema(ctx, avroTopic+"-"+side, sr.Schema{Schema: schema, Type: sr.TypeAvro})
		if err != nil {
			t.Fatalf("register %s schema: %v", side, err)
		}
		ids[side] = ss.ID
		if codecs[side], err = goavro.NewCodec(schema); err != nil {
			t.Fatal(err)
		}
	}
	var avroRecs []*kgo.Record
	for _, o := range []struct {
		id   int32
		item string
		qty  int64
	}{{1, "apple", 3}, {2, "pear", 5}, {1, "apple", 4}} {
		avroRecs = append(avroRecs, &kgo.Record{
			Topic: avroTopic,
			Key:   confluentAvro(t, codecs["key"], ids["key"], map[string]any{"id": o.id}),
			Value: confluentAvro(t, codecs["value"], ids["value"], map[string]any{"id": o.id, "item": o.item, "qty": o.qty}),
		})
	}
	if err := cl.ProduceSync(ctx, avroRecs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	avroCfg := sink(avroTopic, "orders")
	apicurio := strings.TrimSuffix(reg.URL(), registryAPI) + "/apis/registry/v2"
	for _, side := range []string{"key", "value"} {
		p := side + ".converter"
		avroCfg[p] = connectAvroConverter
		avroCfg[p+".apicurio.registry.url"] = apicurio
		avroCfg[p+".apicurio.registry.as-confluent"] = "true"
		avroCfg[p+".apicurio.registry.use-id"] = "contentId"
		avroCfg[p+".apicurio.registry.headers.enabled"] = "false"
	}
	if err := c.CreateConnector(ctx, "avro-sink", avroCfg); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRunning(ctx, "avro-sink"); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, pg, db, "SELECT id, item, qty FROM orders ORDER BY id", c, "avro-sink", []string{"1 apple 4", "2 pear 5"})

	// The REST API's errors name the problem.
	if err := c.CreateConnector(ctx, "json-sink", jsonCfg); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("creating json-sink again: %v, want HTTP 409", err)
	}
	bad := sink(jsonTopic, "customers")
	bad["connector.class"] = "com.example.NoSuchConnector"
	if err := c.CreateConnector(ctx, "bad-sink", bad); err == nil || !strings.Contains(err.Error(), "NoSuchConnector") {
		t.Errorf("creating a connector of an unknown class: %v, want an error naming it", err)
	}
	// A sink that cannot reach its database fails its task; WaitRunning
	// says so with the trace.
	unreachable := sink(jsonTopic, "customers")
	unreachable["connection.url"] = "jdbc:postgresql://127.0.0.1:1/" + db
	// c3p0 tries 30 times, a second apart, unless told otherwise; the
	// sink passes hibernate.* settings on.
	unreachable["hibernate.c3p0.acquireRetryAttempts"] = "2"
	unreachable["hibernate.c3p0.acquireRetryDelay"] = "100"
	if err := c.CreateConnector(ctx, "unreachable-sink", unreachable); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	err = c.WaitRunning(ctx, "unreachable-sink")
	t.Logf("WaitRunning(unreachable-sink) after %v: %v", time.Since(began).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "FAILED") || !strings.Contains(err.Error(), "Caused by") {
		t.Errorf("WaitRunning(unreachable-sink): %v, want a FAILED task with its trace", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 15*time.Second)
	err = c.WaitRunning(short, "no-such-sink")
	cancelShort()
	if err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Errorf("WaitRunning(no-such-sink): %v, want an error saying the worker does not know it", err)
	}

	if err := c.DeleteConnector(ctx, "json-sink"); err != nil {
		t.Fatal(err)
	}
	var ce *connectError
	if _, err := c.ConnectorStatus(ctx, "json-sink"); !errors.As(err, &ce) || ce.status != 404 {
		t.Errorf("status after delete: %v, want HTTP 404", err)
	}
	if err := c.DeleteConnector(ctx, "json-sink"); err == nil {
		t.Error("deleting json-sink twice: no error")
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left behind: %q", ps)
	}
	if exists(dir) {
		t.Errorf("%s not removed by Stop", dir)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
