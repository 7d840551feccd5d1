//go:build integration

package local

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Avro schemas of one subject: v2 adds a field without a default, which
// BACKWARD forbids (a reader on v2 cannot read v1 data); v3 adds it with a
// default, which BACKWARD allows.
const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"}]}`
	orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int","default":0}]}`
	// orderText changes id to a string: incompatible with all of the
	// above at every level but NONE.
	orderText = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":0}]}`
)

// register registers schema under subject and returns its id.
func register(t *testing.T, cl *sr.Client, subject, schema string) int {
	t.Helper()
	id, err := cl.RegisterSchema(t.Context(), subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		t.Fatalf("register under %s: %v", subject, err)
	}
	if id <= 0 {
		t.Fatalf("register under %s: id %d", subject, id)
	}
	return id
}

// registerRejected registers schema under subject and requires the
// registry to refuse it as incompatible (HTTP 409).
func registerRejected(t *testing.T, cl *sr.Client, subject, schema string) {
	t.Helper()
	id, err := cl.RegisterSchema(t.Context(), subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict {
		t.Fatalf("register incompatible schema under %s: id %d, error %v; want HTTP 409", subject, id, err)
	}
}

// sameJSON fails unless a and b hold the same JSON value.
func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

// registryRSS returns the VmRSS line of the registry process's status, or
// "" when it cannot be read.
func registryRSS(reg *Registry) string {
	reg.srv.mu.Lock()
	p := reg.srv.proc
	reg.srv.mu.Unlock()
	if p == nil {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// globalLevel returns the registry's global compatibility level.
func globalLevel(t *testing.T, cl *sr.Client) sr.CompatibilityLevel {
	t.Helper()
	res := cl.Compatibility(t.Context())
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("global compatibility: %+v", res)
	}
	return res[0].Level
}

func TestRegistry(t *testing.T) {
	ctx := t.Context()
	begin := time.Now()
	if err := InstallRegistry(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("install (or cache check): %v", time.Since(begin).Round(time.Millisecond))

	begin = time.Now()
	reg, err := StartRegistry(ctx, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start-up until an sr.Client lists subjects: %v", time.Since(begin).Round(time.Millisecond))
	dir := reg.Dir()
	t.Cleanup(func() { _ = reg.Stop() })
	if !strings.HasPrefix(reg.URL(), "http://127.0.0.1:") || !strings.HasSuffix(reg.URL(), "/apis/ccompat/v7") {
		t.Fatalf("URL %s", reg.URL())
	}
	cl, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	if got := globalLevel(t, cl); got != sr.CompatBackward {
		t.Fatalf("global compatibility of a new registry: %v, want BACKWARD", got)
	}

	const subject = "shop.orders-value"
	id1 := register(t, cl, subject, orderV1)
	if again := register(t, cl, subject, orderV1); again != id1 {
		t.Fatalf("registering the same schema again: id %d, want %d", again, id1)
	}
	got, err := cl.SchemaByID(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "schema by id", got.Schema, orderV1)
	// The same schema under another subject keeps its id, as ids name
	// schemas, not versions.
	other, err := cl.CreateSchema(ctx, "shop.returns-value", sr.Schema{Schema: orderV1, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	if other.ID != id1 || other.Version != 1 || other.Subject != "shop.returns-value" {
		t.Fatalf("same schema under another subject: %+v, want id %d version 1", other, id1)
	}

	// BACKWARD: a new field without a default is refused, by the check
	// endpoint and by registration; with a default it is accepted.
	check, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: orderV2, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	if check.Is {
		t.Fatal("compatibility check: v2 (new field without default) reported compatible under BACKWARD")
	}
	registerRejected(t, cl, subject, orderV2)
	id3 := register(t, cl, subject, orderV3)
	if id3 == id1 {
		t.Fatalf("v3 got v1's id %d", id1)
	}
	latest, err := cl.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Version != 2 || latest.ID != id3 {
		t.Fatalf("latest version: version %d id %d, want version 2 id %d", latest.Version, latest.ID, id3)
	}
	sameJSON(t, "latest schema", latest.Schema.Schema, orderV3)

	if rss := registryRSS(reg); rss != "" {
		t.Logf("registry process resident memory after the registrations: %s", rss)
	}

	// A subject's own level overrides the global one.
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, subject); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if res := cl.Compatibility(ctx, subject); res[0].Err != nil || res[0].Level != sr.CompatFull {
		t.Fatalf("subject compatibility: %+v", res)
	}

	// An outage: the registry is killed, clients get no answer; after a
	// restart every schema, id and level is still there.
	reg.Kill()
	_, err = cl.SchemaByID(ctx, id1)
	var re *sr.ResponseError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("schema by id while the registry was killed: %v, want a connection error", err)
	}
	begin = time.Now()
	if err := reg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart after SIGKILL: %v", time.Since(begin).Round(time.Millisecond))
	for id, want := range map[int]string{id1: orderV1, id3: orderV3} {
		got, err := cl.SchemaByID(ctx, id)
		if err != nil {
			t.Fatalf("schema %d after the restart: %v", id, err)
		}
		sameJSON(t, "schema by id after the restart", got.Schema, want)
	}
	versions, err := cl.SubjectVersions(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2}) {
		t.Fatalf("versions after the restart: %v, want [1 2]", versions)
	}
	if got := globalLevel(t, cl); got != sr.CompatBackward {
		t.Fatalf("global compatibility after the restart: %v, want BACKWARD", got)
	}
	if res := cl.Compatibility(ctx, subject); res[0].Err != nil || res[0].Level != sr.CompatFull {
		t.Fatalf("subject compatibility after the restart: %+v", res)
	}
	registerRejected(t, cl, subject, orderText)

	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if exists(dir) {
		t.Errorf("%s not removed by Stop without Keep", dir)
	}
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left after Stop: %v", ps)
	}
}

// TestRegistryOptions starts a registry with no global level on a fixed
// port, then reuses its directory.
func TestRegistryOptions(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "registry")
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := StartRegistry(ctx, RegistryOptions{Dir: dir, Port: ports[0], Compatibility: sr.CompatNone, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Stop() })
	if want := "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/apis/ccompat/v7"; reg.URL() != want {
		t.Fatalf("URL %s, want %s", reg.URL(), want)
	}
	if _, err := StartRegistry(ctx, RegistryOptions{Port: ports[0]}); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("second registry on a taken port: %v", err)
	}
	cl, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	if got := globalLevel(t, cl); got != sr.CompatNone {
		t.Fatalf("global compatibility: %v, want NONE", got)
	}
	const subject = "free"
	register(t, cl, subject, orderV1)
	register(t, cl, subject, orderV2) // no level: anything goes
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	registerRejected(t, cl, subject, `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"},{"name":"note","type":"string"}]}`)
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(dir, "data", "registry.mv.db")) {
		t.Fatalf("Stop with Keep removed the database")
	}

	// The reused database keeps its schemas and its (unset) global level;
	// Compatibility applies to new databases only.
	reg, err = StartRegistry(ctx, RegistryOptions{Dir: dir, Compatibility: sr.CompatFull})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Stop() })
	if cl, err = reg.Client(); err != nil {
		t.Fatal(err)
	}
	versions, err := cl.SubjectVersions(ctx, subject)
	if err != nil || !slices.Equal(versions, []int{1, 2}) {
		t.Fatalf("versions in the reused database: %v, %v", versions, err)
	}
	if got := globalLevel(t, cl); got != sr.CompatNone {
		t.Fatalf("global compatibility of the reused database: %v, want NONE", got)
	}
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Errorf("%s not removed by Stop without Keep", dir)
	}
}

// TestRegistryFailedStart requires a start that cannot succeed to end with
// the registry's log.
func TestRegistryFailedStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A database file that is not one.
	if err := os.WriteFile(filepath.Join(dir, "data", "registry.mv.db"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	reg, err := StartRegistry(ctx, RegistryOptions{Dir: dir, Keep: true})
	if err == nil {
		_ = reg.Stop()
		t.Fatal("registry started on a broken database")
	}
	if !strings.Contains(err.Error(), "last 20 lines of "+filepath.Join(dir, "registry.log")) {
		t.Fatalf("error without the log's tail: %v", err)
	}
	// The failure's own line: H2 reports a file this short as an
	// EOFException, a longer non-database file with "Caused by:" lines.
	_, causes, ok := strings.Cut(err.Error(), "--- errors in ")
	if !ok || !strings.Contains(causes, " ERROR ") || !strings.Contains(causes, "Exception") {
		t.Fatalf("error without the log's error lines: %v", err)
	}
	t.Logf("failed start: %v", err)
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left after a failed start: %v", ps)
	}
}

// TestRegistryBasicAuth requires credentials on every request, through an
// outage too.
func TestRegistryBasicAuth(t *testing.T) {
	ctx := t.Context()
	reg, err := StartRegistry(ctx, RegistryOptions{User: "sluice", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Stop() })
	if reg.User() != "sluice" || reg.Password() != "s3cret" {
		t.Fatalf("credentials %q %q", reg.User(), reg.Password())
	}
	cl, err := reg.Client()
	if err != nil {
		t.Fatal(err)
	}
	id := register(t, cl, "auth-value", orderV1)
	// A new registry with auth still gets its global level.
	if got := globalLevel(t, cl); got != sr.CompatBackward {
		t.Fatalf("global compatibility: %v, want BACKWARD", got)
	}
	for _, opts := range [][]sr.ClientOpt{nil, {sr.BasicAuth("sluice", "wrong")}} {
		bare, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(reg.URL())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bare.SchemaByID(ctx, id)
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
			t.Fatalf("schema by id with credentials %v: %v, want HTTP 401", opts, err)
		}
	}
	reg.Kill()
	_, err = cl.SchemaByID(ctx, id)
	var re *sr.ResponseError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("schema by id while the registry was killed: %v, want a connection error", err)
	}
	if err := reg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := cl.SchemaByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "schema by id after the restart", got.Schema, orderV1)
	dir := reg.Dir()
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if ps := processesUsing(t, dir); len(ps) > 0 {
		t.Errorf("processes left after Stop: %v", ps)
	}
}
