package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/tombstone"
	"github.com/sluice-cdc/sluice/transform"
)

// VerifyOptions are the settings of [Engine.Verify]; zero values take the
// defaults.
type VerifyOptions struct {
	// Tables narrows the comparison to the selected tables matching these
	// patterns (database.table, schema.table; * and ? as in
	// tables.include). Empty compares every selected table.
	Tables []string
	// Wait bounds how long Verify waits for the stored checkpoint to
	// cover the point the tables were read at. Default 2 minutes.
	Wait time.Duration
	// Rechecks is how many times a difference is checked again, from a
	// new read of the tables and the topics, before it is reported: a
	// difference that went away was a change in flight. Default 3; a
	// negative value checks once.
	Rechecks int
	// RecheckDelay is the pause before each recheck. Default 2 s.
	RecheckDelay time.Duration
	// KeysPerPass bounds memory: the keys are split by hash into as many
	// passes as the tables' estimated rows need, each pass holding at
	// most about this many keys. Default 1,000,000.
	KeysPerPass int
	// Examples is how many differing keys per topic are shown with their
	// columns. Default 5.
	Examples int
	// Progress, when set, is called with one line per step.
	Progress func(format string, args ...any)
}

// VerifyReport is what [Engine.Verify] found, one entry per topic.
type VerifyReport struct {
	Topics []TopicVerify `json:"topics"`
	// Passes is the number of hash ranges the keys were split into.
	Passes int `json:"passes"`
	// Position is the source position the last read of the tables was
	// taken at.
	Position sluice.Position `json:"position"`
}

// Differences is the number of missing, extra and different keys.
func (r *VerifyReport) Differences() int64 {
	var n int64
	for _, t := range r.Topics {
		n += t.Missing + t.Extra + t.Different
	}
	return n
}

// TopicVerify is one topic's comparison with its tables.
type TopicVerify struct {
	Topic  string   `json:"topic"`
	Tables []string `json:"tables"`
	// Rows is the number of rows the tables held; Keys the number of keys
	// the compacted topic holds (last record per key, tombstones
	// deleting).
	Rows int64 `json:"rows"`
	Keys int64 `json:"keys"`
	// Missing keys are in a table and not in the topic, Extra keys in the
	// topic and in no table, Different keys in both with some column's
	// value not equal.
	Missing   int64           `json:"missing"`
	Extra     int64           `json:"extra"`
	Different int64           `json:"different"`
	Examples  []VerifyExample `json:"examples,omitempty"`
	// Skipped says why the topic was not compared (a table without key
	// columns has no keys to compare by).
	Skipped string `json:"skipped,omitempty"`
}

// VerifyExample is one differing key.
type VerifyExample struct {
	Kind string `json:"kind"` // missing, extra or different
	Key  string `json:"key"`
	// Columns are the columns whose values differ (kind different).
	Columns []string `json:"columns,omitempty"`
	// Table and Topic are the values of those columns on each side, as
	// canonical text (JSON for the JSON formats).
	Table map[string]string `json:"table,omitempty"`
	Topic map[string]string `json:"topic,omitempty"`
}

// ErrNoTableReader is returned by Verify for a source that cannot read
// its tables for a comparison.
var ErrNoTableReader = errors.New("engine: the source cannot read its tables for sluice verify")

// Verify compares what the compacted topics hold (the last record of each
// key, tombstones deleting) with the tables, every column, and reports
// missing, extra and different keys. It works against a live source and
// a running instance, and takes no lock, slot or lease and writes nothing
// to the source or the topics:
//
//  1. it reads the tables at one consistent point (a read-only
//     transaction, [TableReader]), running each row through the same
//     column transforms, routing and encoder as `sluice run`, so the
//     expected record is what sluice would write for the row now;
//  2. it waits until the stored checkpoint covers that point (every
//     change before it is in Kafka);
//  3. it reads the topics from their start to their last stable offsets,
//     read_committed, leaving out the records of changes after that
//     point (by the source position each record carries), and compares
//     each key's columns in a canonical form of the record's format;
//  4. keys that differ are checked again, from new reads, up to Rechecks
//     times; only a difference seen every time is reported.
//
// Memory is bounded by KeysPerPass: keys are split by a hash into
// passes, each reading the tables and the topics again for its share.
func (e *Engine) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	rd, ok := e.src.(TableReader)
	if !ok {
		return nil, ErrNoTableReader
	}
	if opts.Wait <= 0 {
		opts.Wait = 2 * time.Minute
	}
	if opts.Rechecks == 0 {
		opts.Rechecks = 3
	} else if opts.Rechecks < 0 {
		opts.Rechecks = 0
	}
	if opts.RecheckDelay <= 0 {
		opts.RecheckDelay = 2 * time.Second
	}
	if opts.KeysPerPass <= 0 {
		opts.KeysPerPass = 1_000_000
	}
	if opts.Examples <= 0 {
		opts.Examples = 5
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	cfg := &e.cfg
	sel := selection(cfg)
	if len(opts.Tables) > 0 {
		sel.Include = opts.Tables
		if err := sel.Validate(); err != nil {
			return nil, fmt.Errorf("verify --tables: %w", err)
		}
	}
	client, err := sink.NewClient(ctx, e.kcfg.Plain()) // never the running instance's transactional id
	if err != nil {
		return nil, err
	}
	defer client.Close()
	enc, err := newEncoder(cfg, e.log, nil)
	if err != nil {
		return nil, err
	}
	var reg *sr.Client
	if cfg.Format == "avro" {
		if reg, err = registryClient(&cfg.SchemaRegistry, nil); err != nil {
			return nil, err
		}
	}
	dec, err := schema.NewRecordDecoder(cfg.Format, reg)
	if err != nil {
		return nil, err
	}
	v := &verifier{e: e, opts: opts, rd: rd, sel: sel, client: client, dec: dec,
		build: tombstone.NewBuilder(cfg.Kafka.TopicPrefix, enc), topics: map[string]*vtopic{}}
	if v.route, err = newRouter(cfg.Routing); err != nil {
		return nil, err
	}
	if v.xf, err = newTransformer(cfg); err != nil {
		return nil, err
	}
	return v.run(ctx)
}

// TableReader is implemented by sources that can read the selected tables
// at one consistent point without a lock, a slot or any write (sluice
// verify). ReadTables hands h every row of the tables sel selects as an
// OpRead event and returns a source position at or after the point read:
// every change committed before the rows were read lies before it.
type TableReader interface {
	ReadTables(ctx context.Context, sel *sluice.Selection, h sluice.Handler) (sluice.Position, error)
}

// verifier is one Verify call's state.
type verifier struct {
	e      *Engine
	opts   VerifyOptions
	rd     TableReader
	sel    *sluice.Selection
	client *kgo.Client
	dec    *schema.RecordDecoder
	build  *tombstone.Builder
	route  *router
	xf     *transform.Transformer
	topics map[string]*vtopic

	passes int
	pos    sluice.Position
}

// vtopic is what is known of one topic: its tables, the names of the
// columns seen (a key's column hashes are indexed by them), the counts.
type vtopic struct {
	name    string
	tables  map[string]bool
	names   []string
	index   map[string]int
	skipped string
	report  TopicVerify
}

func (t *vtopic) column(name string) int {
	i, ok := t.index[name]
	if !ok {
		i = len(t.names)
		t.names = append(t.names, name)
		t.index[name] = i
	}
	return i
}

// vdiff is one key's difference.
type vdiff struct {
	kind string
	cols []string
}

// vround is one read of both sides for the keys of one pass.
type vround struct {
	pass  int
	table map[string]map[string][]uint64 // topic → key → column hashes
	topic map[string]map[string][]uint64
	// later are the keys whose records from some offset on lie after
	// the point the tables were read at: topic → key.
	later map[string]map[string]bool
	// watch are the keys whose values are kept for the examples; the
	// texts hold those values: topic → key → column → text.
	watch      map[string]map[string]bool
	tableTexts map[string]map[string]map[string]string
	topicTexts map[string]map[string]map[string]string
	plan       []sluice.TableEstimate
	recs       []*kgo.Record
}

// errOverflow says a pass held more keys than KeysPerPass allows.
var errOverflow = errors.New("verify: a pass holds too many keys")

func (v *verifier) run(ctx context.Context) (*VerifyReport, error) {
	v.passes = 0 // set from the first read's estimates
	for pass := 0; v.passes == 0 || pass < v.passes; pass++ {
		if err := v.pass(ctx, pass); errors.Is(err, errOverflow) {
			v.passes *= 2
			v.opts.Progress("%v: starting over in %d passes", err, v.passes)
			for _, t := range v.topics {
				t.report = TopicVerify{}
			}
			pass = -1
			continue
		} else if err != nil {
			return nil, err
		}
	}
	r := &VerifyReport{Passes: v.passes, Position: v.pos}
	for _, name := range slices.Sorted(mapKeys(v.topics)) {
		t := v.topics[name]
		rep := t.report
		rep.Topic, rep.Tables, rep.Skipped = name, slices.Sorted(mapKeys(t.tables)), t.skipped
		if rep.Skipped != "" {
			rep.Missing, rep.Extra, rep.Different, rep.Examples = 0, 0, 0, nil
		}
		r.Topics = append(r.Topics, rep)
	}
	return r, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pass compares the keys of one hash range: a first round, then rechecks
// of what differed.
func (v *verifier) pass(ctx context.Context, pass int) error {
	var prev map[string]map[string]vdiff // topic → key → difference
	var last *vround
	for round := 0; round <= v.opts.Rechecks; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(v.opts.RecheckDelay):
			}
		}
		r := &vround{pass: pass, table: map[string]map[string][]uint64{}, topic: map[string]map[string][]uint64{},
			later: map[string]map[string]bool{}}
		if prev != nil {
			r.watch = map[string]map[string]bool{}
			for topic, keys := range prev {
				sorted := slices.Sorted(mapKeys(keys))
				r.watch[topic] = map[string]bool{}
				for _, k := range sorted[:min(len(sorted), v.opts.Examples)] {
					r.watch[topic][k] = true
				}
			}
			r.tableTexts, r.topicTexts = map[string]map[string]map[string]string{}, map[string]map[string]map[string]string{}
		}
		if err := v.round(ctx, r, round); err != nil {
			return err
		}
		cur := v.compare(r)
		if prev != nil {
			// Only what differed every time counts.
			for topic, keys := range cur {
				for k, d := range keys {
					if p, ok := prev[topic][k]; !ok || p.kind != d.kind {
						delete(keys, k)
					}
				}
			}
		}
		if round == 0 {
			for topic, t := range v.topics {
				t.report.Rows += int64(len(r.table[topic]))
				t.report.Keys += int64(len(r.topic[topic]))
			}
		}
		prev, last = cur, r
		n := 0
		for _, keys := range cur {
			n += len(keys)
		}
		if n == 0 {
			break
		}
		if round < v.opts.Rechecks {
			v.opts.Progress("pass %d/%d: %d keys differ; checking them again in %s", pass+1, v.passes, n, v.opts.RecheckDelay)
		}
	}
	for topic, keys := range prev {
		t := v.topics[topic]
		sorted := slices.Sorted(mapKeys(keys))
		for _, k := range sorted {
			d := keys[k]
			switch d.kind {
			case "missing":
				t.report.Missing++
			case "extra":
				t.report.Extra++
			default:
				t.report.Different++
			}
			if len(t.report.Examples) < v.opts.Examples {
				ex := VerifyExample{Kind: d.kind, Key: k, Columns: d.cols}
				if last.tableTexts != nil {
					ex.Table, ex.Topic = pick(last.tableTexts[topic][k], d.cols), pick(last.topicTexts[topic][k], d.cols)
				}
				t.report.Examples = append(t.report.Examples, ex)
			}
		}
	}
	return nil
}

// pick returns the values of cols in m (all of m when cols is empty).
func pick(m map[string]string, cols []string) map[string]string {
	if m == nil || len(cols) == 0 {
		return m
	}
	out := map[string]string{}
	for _, c := range cols {
		if s, ok := m[c]; ok {
			out[c] = s
		}
	}
	return out
}

// round reads the tables, waits for the checkpoint to cover the point
// read, then reads the topics.
func (v *verifier) round(ctx context.Context, r *vround, n int) error {
	started := time.Now()
	pos, err := v.rd.ReadTables(ctx, v.sel, &verifyTables{v: v, r: r})
	if err != nil {
		return err
	}
	v.pos = pos
	if v.passes == 0 { // no table
		v.passes = 1
	}
	// A table with no row still has a topic, which must hold no key.
	for _, t := range r.plan {
		db, name, _ := strings.Cut(t.Table, ".")
		v.topicOf(&sluice.Table{Database: db, Name: name}).tables[t.Table] = true
	}
	v.opts.Progress("pass %d/%d, round %d: read the tables at %s in %s", r.pass+1, v.passes, n+1, describePosition(pos), time.Since(started).Round(time.Millisecond))
	if err := v.waitCovered(ctx, pos); err != nil {
		return err
	}
	started = time.Now()
	names := slices.Sorted(mapKeys(v.topics))
	if err := v.readTopics(ctx, r, names); err != nil {
		return err
	}
	v.opts.Progress("pass %d/%d, round %d: read %d topics in %s", r.pass+1, v.passes, n+1, len(names), time.Since(started).Round(time.Millisecond))
	return nil
}

// describePosition is a position for the progress lines.
func describePosition(p sluice.Position) string {
	if p.File != "" {
		return fmt.Sprintf("%s:%d", p.File, p.Offset)
	}
	return lsnText(p.LSN)
}

// topicOf returns the topic t's records go to, as the pipeline routes
// them.
func (v *verifier) topicOf(t *sluice.Table) *vtopic {
	routed := t
	if v.route != nil {
		if s, err := v.route.shape(t); err == nil && s != nil {
			routed = s.table
		}
	}
	name := v.build.Topic(routed)
	vt, ok := v.topics[name]
	if !ok {
		vt = &vtopic{name: name, tables: map[string]bool{}, index: map[string]int{}}
		v.topics[name] = vt
	}
	return vt
}

// bucket returns the pass a key belongs to.
func (v *verifier) bucket(topic, key string) int {
	if v.passes <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(topic))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(v.passes))
}

func hashText(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1 // 0 is "no value"
}

// verifyTables is the Handler of the tables' read.
type verifyTables struct {
	v *verifier
	r *vround
}

// SnapshotPlan sets the number of passes from the first read's estimates.
func (h *verifyTables) SnapshotPlan(tables []sluice.TableEstimate) {
	h.r.plan = tables
	if v := h.v; v.passes == 0 {
		var rows uint64
		for _, t := range tables {
			rows += t.Rows
		}
		per := uint64(v.opts.KeysPerPass)
		v.passes = int(max(1, (rows+per-1)/per))
	}
}

func (h *verifyTables) Resumable(context.Context, sluice.Position) error { return nil }

func (h *verifyTables) Change(ctx context.Context, ev *sluice.Event) error {
	v, r := h.v, h.r
	t := v.topicOf(ev.Table)
	t.tables[ev.Table.FullName()] = true
	if len(ev.Table.Key) == 0 {
		t.skipped = "table " + ev.Table.FullName() + " has no key columns (no primary key and no tables.keys entry): its topic is not compacted and has no keys to compare"
		return nil
	}
	var err error
	if v.xf != nil {
		if ev, err = v.xf.Event(ev); err != nil {
			return err
		}
	}
	if v.route != nil {
		if ev, err = v.route.event(ev); err != nil {
			return err
		}
	}
	if r.recs, err = v.build.Append(ctx, r.recs[:0], ev); err != nil {
		return err
	}
	for _, rec := range r.recs {
		if rec.Value == nil || rec.Key == nil {
			continue
		}
		key, err := v.dec.Key(ctx, rec.Key)
		if err != nil {
			return fmt.Errorf("verify %s: %w", ev.Table.FullName(), err)
		}
		if v.bucket(t.name, key) != r.pass {
			continue
		}
		cols, texts, _, err := v.columns(ctx, t, rec.Value, nil, r.watched(t.name, key))
		if err != nil {
			return fmt.Errorf("verify %s: %w", ev.Table.FullName(), err)
		}
		side := r.table[t.name]
		if side == nil {
			side = map[string][]uint64{}
			r.table[t.name] = side
		}
		side[key] = cols
		if texts != nil {
			r.keep(r.tableTexts, t.name, key, texts)
		}
		if len(side) > 2*v.opts.KeysPerPass {
			return fmt.Errorf("%w: %d keys of %s in pass %d of %d, more than the tables' estimates gave", errOverflow, len(side), t.name, r.pass+1, v.passes)
		}
	}
	return nil
}

func (r *vround) watched(topic, key string) bool { return r.watch != nil && r.watch[topic][key] }

func (r *vround) keep(m map[string]map[string]map[string]string, topic, key string, texts map[string]string) {
	if m[topic] == nil {
		m[topic] = map[string]map[string]string{}
	}
	m[topic][key] = texts
}

// columns hashes the after-image of value column by column; the columns
// in keepPrev (unavailable in this record) keep their hash from prev.
// With withText it also returns the texts.
func (v *verifier) columns(ctx context.Context, t *vtopic, value []byte, prev []uint64, withText bool, keepPrev ...string) ([]uint64, map[string]string, sluice.Position, error) {
	cols := make([]uint64, len(t.names))
	var texts map[string]string
	if withText {
		texts = map[string]string{}
	}
	found, pos, err := v.dec.After(ctx, value, func(name string, text []byte) {
		i := t.column(name)
		for len(cols) <= i {
			cols = append(cols, 0)
		}
		cols[i] = hashText(text)
		if texts != nil {
			texts[name] = string(text)
		}
	})
	if err != nil {
		return nil, nil, pos, err
	}
	if !found {
		return nil, nil, pos, nil
	}
	for _, name := range keepPrev {
		i := t.column(name)
		for len(cols) <= i {
			cols = append(cols, 0)
		}
		if i < len(prev) {
			cols[i] = prev[i]
		} else {
			cols[i] = 0
		}
		if texts != nil {
			delete(texts, name)
		}
	}
	return cols, texts, pos, nil
}

// waitCovered waits until the stored checkpoint is at or after pos.
func (v *verifier) waitCovered(ctx context.Context, pos sluice.Position) error {
	deadline := time.Now().Add(v.opts.Wait)
	topic := v.e.kcfg.CheckpointTopic
	var last sink.Checkpoint
	var found bool
	for {
		var err error
		last, found, err = sink.LoadCheckpoint(ctx, v.client, topic, v.e.cfg.Name)
		if err != nil {
			return err
		}
		if found && last.Phase == sink.PhaseStream && covers(last.Position, pos) {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	name := v.e.cfg.Name
	switch {
	case !found:
		return fmt.Errorf("verify: source %q has no checkpoint in topic %q: nothing was written yet; start `sluice run` with this configuration first", name, topic)
	case last.Phase != sink.PhaseStream:
		return fmt.Errorf("verify: source %q is still taking its snapshot (checkpoint at %s, updated %s); verify once the snapshot is complete",
			name, describePosition(last.Position), last.UpdatedAt.Format(time.RFC3339))
	}
	return fmt.Errorf("verify: the checkpoint of source %q did not reach the point the tables were read at (%s) within %s: it stays at %s, updated %s; "+
		"a running `sluice run` reaches it within seconds, so check that one runs and streams (sluice status), or raise --wait",
		name, describePosition(pos), v.opts.Wait, describePosition(last.Position), last.UpdatedAt.Format(time.RFC3339))
}

// after reports whether a record's position p lies after cut, the point
// the tables were read at; a record that carries no position does not.
func after(p, cut sluice.Position) bool {
	switch {
	case p.File != "" && cut.File != "":
		return binlog.Before(cut, p)
	case p.LSN != 0 && cut.LSN != 0:
		return p.LSN > cut.LSN
	}
	return false
}

// covers reports whether checkpoint position cp is at or after p.
func covers(cp, p sluice.Position) bool {
	if p.File != "" || cp.File != "" {
		return cp.File != "" && !binlog.Before(cp, p)
	}
	return cp.LSN >= p.LSN
}

// readTopics reads the topics from their start to their last stable
// offsets, read_committed, into r.topic.
func (v *verifier) readTopics(ctx context.Context, r *vround, topics []string) error {
	adm := kadm.NewClient(v.client)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("verify: list start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("verify: list last stable offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	until := map[string]map[int32]int64{}
	left := 0
	var ferr error
	ends.Each(func(end kadm.ListedOffset) {
		if ferr != nil || errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
			return // no topic: every key of its tables is missing
		}
		if end.Err != nil {
			ferr = fmt.Errorf("verify: end offset of topic %q partition %d: %w", end.Topic, end.Partition, end.Err)
			return
		}
		start, ok := starts.Lookup(end.Topic, end.Partition)
		if !ok || start.Err != nil {
			ferr = fmt.Errorf("verify: no start offset for topic %q partition %d: %v", end.Topic, end.Partition, start.Err)
			return
		}
		if end.Offset > start.Offset {
			if from[end.Topic] == nil {
				from[end.Topic], until[end.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			from[end.Topic][end.Partition] = kgo.NewOffset().At(start.Offset)
			until[end.Topic][end.Partition] = end.Offset
			left++
		}
	})
	if ferr != nil {
		return ferr
	}
	if left == 0 {
		return nil
	}
	cc, err := kgo.NewClient(append(v.client.Opts(),
		kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The markers of transactions count towards the end offsets.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("verify: create consumer: %w", err)
	}
	defer cc.Close()
	idle := time.Now()
	for left > 0 {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cc.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !sink.Retriable(err) {
				ferr = fmt.Errorf("verify: read topic %q partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		n := 0
		fs.EachRecord(func(rec *kgo.Record) {
			n++
			end := until[rec.Topic][rec.Partition]
			if ferr != nil || rec.Offset >= end {
				return // past the end offset listed: after the cut
			}
			if rec.Offset+1 == end {
				left--
			}
			if rec.Attrs.IsControl() || rec.Key == nil {
				return
			}
			ferr = v.topicRecord(ctx, r, rec)
		})
		if ferr != nil {
			return ferr
		}
		if n > 0 {
			idle = time.Now()
		} else if time.Since(idle) > time.Minute {
			return fmt.Errorf("verify: reading the topics stalled for a minute with %d partitions not read to their end", left)
		}
	}
	return nil
}

// topicRecord applies one record to the compacted view of its topic.
func (v *verifier) topicRecord(ctx context.Context, r *vround, rec *kgo.Record) error {
	t := v.topics[rec.Topic]
	key, err := v.dec.Key(ctx, rec.Key)
	if err != nil {
		return fmt.Errorf("verify: topic %q partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	if v.bucket(t.name, key) != r.pass {
		return nil
	}
	side := r.topic[t.name]
	if side == nil {
		side = map[string][]uint64{}
		r.topic[t.name] = side
	}
	if r.later[t.name][key] {
		return nil // a key's records after the cut come after each other
	}
	if rec.Value == nil {
		delete(side, key)
		return nil
	}
	var unavailable []string
	for _, h := range rec.Headers {
		if h.Key == tombstone.HeaderUnavailableAfter {
			if err := json.Unmarshal(h.Value, &unavailable); err != nil {
				return fmt.Errorf("verify: topic %q partition %d offset %d: header %s: %w", rec.Topic, rec.Partition, rec.Offset, h.Key, err)
			}
		}
	}
	watched := r.watched(t.name, key)
	cols, texts, pos, err := v.columns(ctx, t, rec.Value, side[key], watched, unavailable...)
	if err != nil {
		return fmt.Errorf("verify: topic %q partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	if after(pos, v.pos) {
		// The change came after the point the tables were read at: it
		// and the key's later records (a deletion's tombstone) are left
		// out, so the topic is compared as of that point.
		if r.later[t.name] == nil {
			r.later[t.name] = map[string]bool{}
		}
		r.later[t.name][key] = true
		return nil
	}
	if cols == nil { // a deletion's before-image record
		delete(side, key)
		return nil
	}
	side[key] = cols
	if watched {
		if prev := r.topicTexts[t.name][key]; prev != nil {
			for _, name := range unavailable {
				if s, ok := prev[name]; ok {
					texts[name] = s
				}
			}
		}
		r.keep(r.topicTexts, t.name, key, texts)
	}
	if len(side) > 2*v.opts.KeysPerPass {
		return fmt.Errorf("%w: %d keys in topic %s in pass %d of %d, more than the tables' estimates gave", errOverflow, len(side), t.name, r.pass+1, v.passes)
	}
	return nil
}

// compare returns, per topic, the keys that differ in round r.
func (v *verifier) compare(r *vround) map[string]map[string]vdiff {
	out := map[string]map[string]vdiff{}
	for name, t := range v.topics {
		if t.skipped != "" {
			continue
		}
		d := map[string]vdiff{}
		tab, top := r.table[name], r.topic[name]
		for k, want := range tab {
			got, ok := top[k]
			if !ok {
				d[k] = vdiff{kind: "missing"}
				continue
			}
			var cols []string
			for i := range max(len(want), len(got)) {
				if at(want, i) != at(got, i) {
					cols = append(cols, t.names[i])
				}
			}
			if len(cols) > 0 {
				slices.Sort(cols)
				d[k] = vdiff{kind: "different", cols: cols}
			}
		}
		for k := range top {
			if _, ok := tab[k]; !ok {
				d[k] = vdiff{kind: "extra"}
			}
		}
		if len(d) > 0 {
			out[name] = d
		}
	}
	return out
}

func at(s []uint64, i int) uint64 {
	if i < len(s) {
		return s[i]
	}
	return 0
}
