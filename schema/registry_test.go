package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/retry"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLoggedAvro returns an encoder whose log goes to the returned buffer
// and whose retries do not wait.
func newLoggedAvro(t *testing.T, reg *srfake.Registry) (*AvroEncoder, *syncBuffer, *atomic.Int64) {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	enc, err := NewAvroEncoder(cl, AvroOptions{TopicPrefix: "p"}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sleeps := &atomic.Int64{}
	enc.reg.sleep = func(ctx context.Context, d time.Duration) error {
		sleeps.Add(1)
		return ctx.Err()
	}
	return enc, logs, sleeps
}

func regTable(cols ...sluice.Column) *sluice.Table {
	all := append([]sluice.Column{{Name: "id", Kind: sluice.KindInt, SourceType: "int"}}, cols...)
	return &sluice.Table{Database: "d", Name: "t", Columns: all, Key: []int{0}, PrimaryKey: true}
}

func rowFor(t *sluice.Table) sluice.Row {
	row := make(sluice.Row, len(t.Columns))
	row[0] = int64(1)
	for i := 1; i < len(row); i++ {
		switch t.Columns[i].Kind {
		case sluice.KindInt:
			row[i] = int64(i)
		case sluice.KindString:
			row[i] = "s"
		}
	}
	return row
}

// countPosts counts schema registrations (POST …/versions).
func countPosts(reg *srfake.Registry) *atomic.Int64 {
	n := &atomic.Int64{}
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			n.Add(1)
		}
		return false
	})
	return n
}

func TestRegistryRegistersOncePerShape(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	posts := countPosts(reg)
	enc, _, _ := newLoggedAvro(t, reg)
	ctx := context.Background()
	tbl := regTable()
	for i := 0; i < 50; i++ {
		if _, err := enc.Key(ctx, tbl, rowFor(tbl)); err != nil {
			t.Fatal(err)
		}
		if _, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := posts.Load(); got != 2 {
		t.Errorf("%d registrations for one shape, want 2 (key and value)", got)
	}
	// An equal shape in a new *Table (the binlog re-reads the table map)
	// registers nothing new: the (subject, schema) pair is remembered.
	again := regTable()
	if _, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: again, After: rowFor(again)}); err != nil {
		t.Fatal(err)
	}
	if got := posts.Load(); got != 2 {
		t.Errorf("%d registrations after an equal shape, want 2", got)
	}
	for _, subject := range []string{"p.d.t-key", "p.d.t-value"} {
		if !reg.SubjectExists(subject) {
			t.Errorf("subject %s not registered", subject)
		}
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	enc, _, _ := newLoggedAvro(t, reg)
	tables := []*sluice.Table{regTable(), regTable(sluice.Column{Name: "x", Kind: sluice.KindString, SourceType: "text", Nullable: true})}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				tbl := tables[(g+i)%2]
				if _, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRegistryRetriesWhileUnavailable: 503s and refused connections are
// retried with a logged cause; the record waits for its schema.
func TestRegistryRetriesWhileUnavailable(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	var failures atomic.Int64
	failures.Store(3)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error_code":50003,"message":"leader not known"}`))
			return true
		}
		return false
	})
	enc, logs, sleeps := newLoggedAvro(t, reg)
	tbl := regTable()
	b, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("value % x", b)
	}
	if sleeps.Load() != 3 {
		t.Errorf("%d retries, want 3", sleeps.Load())
	}
	if got := strings.Count(logs.String(), "schema registry unavailable, retrying"); got != 3 {
		t.Errorf("%d retry log lines, want 3:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "leader not known") {
		t.Errorf("retry log lacks the cause:\n%s", logs)
	}
}

// TestRegistryRetryWaits: the waits between attempts follow the retry
// policy: from 100 ms, doubling, within its jitter, never above 10 s; each
// retry is logged with its attempt number and wait.
func TestRegistryRetryWaits(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	const failures = 10
	var left atomic.Int64
	left.Store(failures)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && left.Add(-1) >= 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error_code":429,"message":"slow down"}`))
			return true
		}
		return false
	})
	enc, logs, _ := newLoggedAvro(t, reg)
	var mu sync.Mutex
	var waits []time.Duration
	enc.reg.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	tbl := regTable()
	if _, err := enc.Key(context.Background(), tbl, rowFor(tbl)); err != nil {
		t.Fatal(err)
	}
	if len(waits) != failures {
		t.Fatalf("%d waits, want %d", len(waits), failures)
	}
	mid := 100 * time.Millisecond
	for i, d := range waits {
		if d > 10*time.Second || d < mid*8/10 || d > mid*12/10 {
			t.Errorf("wait %d = %v, want within ±20%% of %v and at most 10s", i+1, d, mid)
		}
		mid = min(2*mid, 10*time.Second)
		if want := fmt.Sprintf("attempt=%d wait=%v", i+1, d); !strings.Contains(logs.String(), want) {
			t.Errorf("no retry line with %q:\n%s", want, logs)
		}
	}
}

func TestRegistryDownUntilCancelled(t *testing.T) {
	reg := srfake.New()
	url := reg.URL()
	reg.Close() // nothing listens any more
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewAvroEncoder(cl, AvroOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var tries atomic.Int64
	enc.reg.sleep = func(ctx context.Context, d time.Duration) error {
		if tries.Add(1) == 5 {
			cancel()
		}
		return retry.Wait(ctx, time.Millisecond)
	}
	tbl := regTable()
	b, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)})
	if b != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("value %v, error %v; want context.Canceled", b, err)
	}
	if !strings.Contains(err.Error(), `subject "d.t-key"`) {
		t.Errorf("error does not name the subject: %v", err)
	}
}

func TestRegistryIncompatible(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	enc, logs, sleeps := newLoggedAvro(t, reg)
	ctx := context.Background()
	v1 := regTable(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint"})
	if _, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: v1, After: rowFor(v1)}); err != nil {
		t.Fatal(err)
	}
	// The registry enforces BACKWARD: narrowing bigint to varchar fails.
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "p.d.t-value/versions") {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"p.d.t-value\""}`))
			return true
		}
		return false
	})
	v2 := regTable(sluice.Column{Name: "n", Kind: sluice.KindString, SourceType: "varchar"})
	_, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: v2, After: rowFor(v2)})
	if err == nil {
		t.Fatal("incompatible schema accepted")
	}
	for _, want := range []string{`subject "p.d.t-value"`, "incompatible", "reader schema string not compatible with writer schema long", "compatibility to NONE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict {
		t.Errorf("error chain lost the registry's answer: %v", err)
	}
	if sleeps.Load() != 0 {
		t.Errorf("a 409 was retried %d times", sleeps.Load())
	}
	if !strings.Contains(logs.String(), "schema change is not backward compatible") || !strings.Contains(logs.String(), "p.d.t-value") {
		t.Errorf("no narrowing warning logged:\n%s", logs)
	}
}

func TestRegistryRefusesCredentials(t *testing.T) {
	reg := srfake.New(srfake.WithAuth("Basic dTpw"))
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()), sr.BasicAuth("u", "wrong-password"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewAvroEncoder(cl, AvroOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc.reg.sleep = func(context.Context, time.Duration) error { t.Error("a 401 was retried"); return errors.New("stop") }
	tbl := regTable()
	_, err = enc.Key(context.Background(), tbl, rowFor(tbl))
	if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error %v", err)
	}
}

// TestAvroEvolutionBackward registers successive shapes of one table and
// proves each value schema BACKWARD compatible with the one before (srfake
// checks nothing itself).
func TestAvroEvolutionBackward(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	enc, logs, _ := newLoggedAvro(t, reg)
	ctx := context.Background()
	shapes := []*sluice.Table{
		regTable(),
		regTable(sluice.Column{Name: "note", Kind: sluice.KindString, SourceType: "varchar", Nullable: true}),
		// ADD COLUMN … NOT NULL: its default keeps BACKWARD.
		regTable(sluice.Column{Name: "note", Kind: sluice.KindString, SourceType: "varchar", Nullable: true},
			sluice.Column{Name: "qty", Kind: sluice.KindInt, SourceType: "int"}),
		// widening int to bigint
		regTable(sluice.Column{Name: "note", Kind: sluice.KindString, SourceType: "varchar", Nullable: true},
			sluice.Column{Name: "qty", Kind: sluice.KindInt, SourceType: "bigint"}),
		// DROP COLUMN note
		regTable(sluice.Column{Name: "qty", Kind: sluice.KindInt, SourceType: "bigint"}),
	}
	for _, tbl := range shapes {
		if _, err := enc.Value(ctx, &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)}); err != nil {
			t.Fatal(err)
		}
	}
	for v := 2; v <= len(shapes); v++ {
		older, ok1 := reg.GetSchema("p.d.t-value", v-1)
		newer, ok2 := reg.GetSchema("p.d.t-value", v)
		if !ok1 || !ok2 {
			t.Fatalf("version %d or %d missing", v-1, v)
		}
		if err := AvroBackwardCompatible(newer.Schema.Schema, older.Schema.Schema); err != nil {
			t.Errorf("version %d cannot read version %d: %v", v, v-1, err)
		}
	}
	if strings.Contains(logs.String(), "not backward compatible") {
		t.Errorf("warning for compatible changes:\n%s", logs)
	}
	// The key never changed, so it has one version.
	if _, ok := reg.GetSchema("p.d.t-key", 2); ok {
		t.Error("key schema changed with non-key columns")
	}
}

func TestAvroBackwardCompatible(t *testing.T) {
	schemaOf := func(cols ...sluice.Column) string {
		_, v, err := AvroSchemas(regTable(cols...), AvroOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint"})
	for _, tc := range []struct {
		name  string
		newer string
		ok    bool
	}{
		{"same", base, true},
		{"add nullable", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint"}, sluice.Column{Name: "m", Kind: sluice.KindDate, SourceType: "date", Nullable: true}), true},
		{"add not null", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint"}, sluice.Column{Name: "m", Kind: sluice.KindDecimal, SourceType: "decimal(5,2)", Precision: 5, Scale: 2}), true},
		{"drop", schemaOf(), true},
		{"widen to double", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindDouble, SourceType: "double"}), true},
		{"make nullable", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint", Nullable: true}), true},
		{"narrow to int", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "int"}), false},
		{"narrow to float", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindFloat, SourceType: "float"}), true},
		{"to string", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindString, SourceType: "text"}), false},
		{"to bigint unsigned", schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint unsigned", Unsigned: true}), false},
	} {
		err := AvroBackwardCompatible(tc.newer, base)
		if (err == nil) != tc.ok {
			t.Errorf("%s: compatible error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	nullable := schemaOf(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint", Nullable: true})
	if err := AvroBackwardCompatible(base, nullable); err == nil {
		t.Error("NULL to NOT NULL passed as backward compatible")
	}
	if err := AvroBackwardCompatible("{", base); err == nil {
		t.Error("invalid schema accepted")
	}
}

func TestAvroBackwardCompatibleNamesField(t *testing.T) {
	_, older, _ := AvroSchemas(regTable(sluice.Column{Name: "qty", Kind: sluice.KindInt, SourceType: "bigint"}), AvroOptions{})
	_, newer, _ := AvroSchemas(regTable(sluice.Column{Name: "qty", Kind: sluice.KindInt, SourceType: "int"}), AvroOptions{})
	err := AvroBackwardCompatible(newer, older)
	if err == nil || !strings.Contains(err.Error(), "before.qty: reader schema int not compatible with writer schema long") {
		t.Errorf("error %v", err)
	}
}

// TestRegistryWarnsAfterRestart: a narrowing found on a subject's first use
// (the previous version registered by an earlier run) is still logged.
func TestRegistryWarnsAfterRestart(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	first, _, _ := newLoggedAvro(t, reg)
	v1 := regTable(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "bigint"})
	if _, err := first.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: v1, After: rowFor(v1)}); err != nil {
		t.Fatal(err)
	}
	second, logs, _ := newLoggedAvro(t, reg) // a new process
	v2 := regTable(sluice.Column{Name: "n", Kind: sluice.KindInt, SourceType: "int"})
	if _, err := second.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: v2, After: rowFor(v2)}); err != nil {
		t.Fatal(err) // srfake accepts anything
	}
	if !strings.Contains(logs.String(), "not backward compatible") || !strings.Contains(logs.String(), "after.n: reader schema int not compatible with writer schema long") &&
		!strings.Contains(logs.String(), "before.n: reader schema int not compatible with writer schema long") {
		t.Errorf("no warning naming the field:\n%s", logs)
	}
	// the unchanged key subject gives no warning
	if strings.Contains(logs.String(), `subject=p.d.t-key cause`) {
		t.Errorf("warning for the unchanged key:\n%s", logs)
	}
}

func TestAvroShapeCacheBounded(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	enc, _, _ := newLoggedAvro(t, reg)
	enc.shapeLimit = 3
	for i := 0; i < 10; i++ {
		tbl := regTable()
		tbl.Name = fmt.Sprintf("t%d", i)
		if _, err := enc.Value(context.Background(), &sluice.Event{Op: sluice.OpCreate, Table: tbl, After: rowFor(tbl)}); err != nil {
			t.Fatal(err)
		}
		n := 0
		enc.shapes.Range(func(_, _ any) bool { n++; return true })
		if n > 3 {
			t.Fatalf("%d shapes cached, limit 3", n)
		}
	}
}
