package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

// testVersion is the VERSION the test's `make dist` stamps; unusual enough
// that finding its bytes in a binary proves the -X took.
const testVersion = "v0.0.0-release-test.7f3a"

// The platforms the release is built for, with their ELF machines.
var machines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"arm64": elf.EM_AARCH64,
}

// The one `make dist DIST=<temp>` of the test run, shared by the tests.
var (
	distOnce sync.Once
	distDir  string
	distErr  error
	distOut  []byte
	distTemp string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if distTemp != "" {
		os.RemoveAll(distTemp)
	}
	os.Exit(code)
}

// dist runs `make dist` once into a temporary directory and returns it.
func dist(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	distOnce.Do(func() {
		distTemp, distErr = os.MkdirTemp("", "sluice-dist-")
		if distErr != nil {
			return
		}
		distDir = filepath.Join(distTemp, "dist")
		cmd := exec.Command("make", "--no-print-directory", "dist", "DIST="+distDir, "VERSION="+testVersion)
		cmd.Dir = root
		// A make that runs these tests (make unit) must not hand its
		// jobserver or flags down to this one.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL"
		})
		distOut, distErr = cmd.CombinedOutput()
		if distErr != nil {
			distErr = fmt.Errorf("make dist: %v\n%s", distErr, distOut)
		}
	})
	if distErr != nil {
		t.Fatal(distErr)
	}
	return distDir
}

// distFiles lists what `make dist` wrote.
func distFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(dist(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestDist checks the binaries `make dist` builds: one per platform, ELF for
// the right machine, statically linked, stamped with the version and the
// commit, and listed in SHA256SUMS with their right sums.
func TestDist(t *testing.T) {
	dir := dist(t)
	t.Logf("make dist:\n%s", distOut)

	var bins []string
	for arch := range machines {
		bins = append(bins, "sluice-linux-"+arch)
	}
	slices.Sort(bins)
	want := append([]string{"SHA256SUMS"}, bins...) // ReadDir's order
	if got := distFiles(t); !slices.Equal(got, want) {
		t.Fatalf("make dist wrote %q, want %q", got, want)
	}

	rev := gitHead(t)
	for arch, machine := range machines {
		name := "sluice-linux-" + arch
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			checkELF(t, path, machine)
			checkBuildInfo(t, path, arch, rev)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(testVersion)) {
				t.Errorf("version %q (-X) not in the binary", testVersion)
			}
			if runtime.GOOS == "linux" && runtime.GOARCH == arch {
				out, err := exec.Command(path, "version").CombinedOutput()
				if err != nil {
					t.Fatalf("%s version: %v\n%s", name, err, out)
				}
				line := strings.TrimSpace(string(out))
				if !strings.HasPrefix(line, "sluice "+testVersion+" ") {
					t.Errorf("sluice version says %q, want the version %s", line, testVersion)
				}
				if rev != "" && !strings.Contains(line, " commit ") {
					t.Errorf("sluice version says %q, want a commit", line)
				}
			}
		})
	}

	sums := readSums(t, filepath.Join(dir, "SHA256SUMS"))
	var listed []string
	for name := range sums {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, bins) {
		t.Errorf("SHA256SUMS lists %q, want %q", listed, bins)
	}
	for name, sum := range sums {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s is %s, the file's sum is %x", name, sum, h)
		}
	}
}

// checkELF: a 64-bit ELF file for machine, statically linked: no
// interpreter (PT_INTERP) and no shared libraries (DT_NEEDED).
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != elf.ELFCLASS64 {
		t.Errorf("ELF %v %v, want %v %v", f.Machine, f.Class, machine, elf.ELFCLASS64)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("has a %v program header: dynamically linked", p.Type)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Error(err)
	}
	if len(libs) > 0 {
		t.Errorf("needs shared libraries %q", libs)
	}
}

// checkBuildInfo reads the build's settings, as `go version -m` shows them.
// The -ldflags (with the -X version) are not among them: Go leaves them out
// of builds with -trimpath; the version's bytes are checked instead.
func checkBuildInfo(t *testing.T, path, arch, rev string) {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bi.Path != "github.com/sluice-cdc/sluice/cmd/sluice" {
		t.Errorf("main package %q", bi.Path)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch, "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	if ld, ok := settings["-ldflags"]; ok && !strings.Contains(ld, "-X github.com/sluice-cdc/sluice/buildinfo.version="+testVersion) {
		t.Errorf("-ldflags %q has no -X version", ld)
	}
	if rev == "" {
		return // not built in a git checkout
	}
	if settings["vcs"] != "git" || settings["vcs.revision"] == "" {
		t.Fatalf("no VCS stamp: vcs=%q vcs.revision=%q", settings["vcs"], settings["vcs.revision"])
	}
	// HEAD may have moved on since the build (a commit meanwhile): the
	// revision must be a commit of this repository, not necessarily HEAD.
	got := settings["vcs.revision"]
	if got != rev {
		if err := exec.Command("git", "-C", root, "cat-file", "-e", got+"^{commit}").Run(); err != nil {
			t.Errorf("vcs.revision %s is no commit of this repository (HEAD %s)", got, rev)
		}
	}
}

// gitHead is HEAD's commit; empty when the tree is no git checkout (or git
// is missing), where make dist stamps no commit.
func gitHead(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("no git checkout (%v): no commit expected", err)
		return ""
	}
	return strings.TrimSpace(string(out))
}

// readSums parses sha256sum's output: "<hex>  <name>" (or " *<name>").
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^([0-9a-f]{64}) [ *](\S+)$`)
	sums := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("SHA256SUMS: line %q is not <sha256>  <name>", l)
			continue
		}
		if strings.Contains(m[2], "/") {
			t.Errorf("SHA256SUMS: %q is not relative to the directory", m[2])
		}
		sums[m[2]] = m[1]
	}
	return sums
}

// instruction is one Dockerfile instruction.
type instruction struct {
	cmd  string // upper case
	args string
}

// parseDockerfile splits a Dockerfile into instructions: comments and blank
// lines dropped, continuation lines joined.
func parseDockerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Errorf("Dockerfile ends in a continuation: %q", cur.String())
	}
	return out
}

// execForm parses an instruction's JSON (exec) form.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Errorf("%s %s: not the exec form [\"…\"]: %v", in.cmd, in.args, err)
	}
	return v
}

// dockerfile is what the test needs of the Dockerfile.
type dockerfile struct {
	copySrc, copyDst string
	uid, gid         int
	entrypoint, cmd  []string
}

// readDockerfile parses the Dockerfile and checks what needs no build: a
// single distroless stage that compiles nothing, one COPY of a
// TARGETARCH-named binary, a numeric non-root USER, port 9180, and the
// copied binary as the entry point.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(text, []byte("go build")) {
		// Only in a comment would it pass the checks below; still wrong.
		t.Error("the Dockerfile mentions go build")
	}
	var d dockerfile
	var froms, copies, args, users int
	for _, in := range parseDockerfile(t, string(text)) {
		switch in.cmd {
		case "FROM":
			froms++
			if !strings.HasPrefix(in.args, "gcr.io/distroless/static") {
				t.Errorf("FROM %s, want a distroless static image", in.args)
			}
		case "RUN", "ONBUILD", "SHELL":
			t.Errorf("%s %s: the image must compile and run nothing", in.cmd, in.args)
		case "ARG":
			if in.args == "TARGETARCH" {
				if froms == 0 {
					t.Error("ARG TARGETARCH before FROM is not seen by COPY")
				}
				args++
			}
		case "COPY", "ADD":
			copies++
			f := strings.Fields(in.args)
			if in.cmd == "ADD" || len(f) != 2 {
				t.Errorf("%s %s, want COPY <binary> <path>", in.cmd, in.args)
				continue
			}
			d.copySrc, d.copyDst = f[0], f[1]
		case "USER":
			users++
			u, g, _ := strings.Cut(in.args, ":")
			var err1, err2 error
			d.uid, err1 = strconv.Atoi(u)
			d.gid, err2 = strconv.Atoi(g)
			if err1 != nil || err2 != nil || d.uid == 0 || d.gid == 0 {
				// runAsNonRoot in Kubernetes can check only a numeric user.
				t.Errorf("USER %s, want a numeric non-root uid:gid", in.args)
			}
		case "EXPOSE":
			if !slices.Contains(strings.Fields(in.args), "9180") {
				t.Errorf("EXPOSE %s, want the admin port 9180", in.args)
			}
		case "ENTRYPOINT":
			d.entrypoint = execForm(t, in)
		case "CMD":
			d.cmd = execForm(t, in)
		}
	}
	if froms != 1 || copies != 1 || args != 1 {
		t.Errorf("%d FROM, %d COPY, %d ARG TARGETARCH; want one of each", froms, copies, args)
	}
	if users == 0 {
		t.Error("no USER: the image would run as root")
	}
	if len(d.entrypoint) != 1 || d.entrypoint[0] != d.copyDst {
		t.Errorf("ENTRYPOINT %q, want [%q], the copied binary", d.entrypoint, d.copyDst)
	}
	if len(d.cmd) == 0 || d.cmd[0] != "run" {
		t.Errorf("CMD %q, want run …", d.cmd)
	}
	return d
}

// TestDockerfile checks the Dockerfile against what `make dist` writes: its
// COPY, for each platform's TARGETARCH, names exactly the binaries in dist/.
func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)

	// The Dockerfile copies from dist/, make dist's default directory.
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^DIST\s*\?=\s*dist\s*$`).Match(mk) {
		t.Error("the Makefile's DIST does not default to dist")
	}
	src, ok := strings.CutPrefix(d.copySrc, "dist/")
	if !ok || !strings.Contains(src, "TARGETARCH") {
		t.Fatalf("COPY %s, want dist/…${TARGETARCH}…", d.copySrc)
	}

	var copied []string
	for arch := range machines {
		r := strings.NewReplacer("${TARGETARCH}", arch, "$TARGETARCH", arch)
		copied = append(copied, r.Replace(src))
	}
	slices.Sort(copied)
	var built []string
	for _, name := range distFiles(t) {
		if name != "SHA256SUMS" {
			built = append(built, name)
		}
	}
	if !slices.Equal(copied, built) {
		t.Errorf("the Dockerfile copies dist/%q, make dist writes %q", copied, built)
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if !slices.Equal(patterns, []string{"*", "!dist"}) {
		t.Errorf(".dockerignore has %q, want everything but dist: [* !dist]", patterns)
	}
}

// TestDeployExamples checks that docker-compose and the Kubernetes sidecar run
// the Dockerfile's image (nothing compiled at start), make the admin server
// reachable on 9180 and, in Kubernetes, probe it.
func TestDeployExamples(t *testing.T) {
	d := readDockerfile(t)
	configPath := ""
	if i := slices.Index(d.cmd, "--config"); i >= 0 && i+1 < len(d.cmd) {
		configPath = d.cmd[i+1]
	}

	t.Run("docker-compose", func(t *testing.T) {
		text, err := os.ReadFile(filepath.Join(root, "deploy", "docker-compose.yml"))
		if err != nil {
			t.Fatal(err)
		}
		noGo(t, text)
		var compose struct {
			Services map[string]struct {
				Image string
				Build struct {
					Context    string
					Dockerfile string
				}
				Environment map[string]string
				Ports       []string
				Volumes     []string
				Secrets     []yaml.Node
				Healthcheck *yaml.Node
			}
		}
		if err := yaml.Unmarshal(text, &compose); err != nil {
			t.Fatal(err)
		}
		s, ok := compose.Services["sluice"]
		if !ok {
			t.Fatal("no sluice service")
		}
		df := filepath.Join(root, "deploy", s.Build.Context, s.Build.Dockerfile)
		if s.Build.Dockerfile == "" || filepath.Clean(df) != filepath.Clean(filepath.Join(root, "Dockerfile")) {
			t.Errorf("builds %s in %s, want the repository's Dockerfile", s.Build.Dockerfile, s.Build.Context)
		}
		if s.Image != "sluice:local" {
			t.Errorf("image %q, want sluice:local", s.Image)
		}
		if s.Environment["SLUICE_ADMIN_LISTEN"] != "0.0.0.0:9180" {
			t.Errorf("SLUICE_ADMIN_LISTEN=%q, want 0.0.0.0:9180", s.Environment["SLUICE_ADMIN_LISTEN"])
		}
		if !slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":9180") }) {
			t.Errorf("ports %q do not publish 9180", s.Ports)
		}
		if s.Healthcheck != nil {
			t.Error("a healthcheck cannot run in the distroless image (no shell)")
		}
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.Contains(v, ":"+configPath+":") }) {
			t.Errorf("volumes %q mount nothing at the image's %s", s.Volumes, configPath)
		}
		// The image's user must own the secret's file (compose copies it in
		// as root otherwise).
		for _, n := range s.Secrets {
			var sec struct{ UID, GID string }
			if err := n.Decode(&sec); err != nil || sec.UID != strconv.Itoa(d.uid) || sec.GID != strconv.Itoa(d.gid) {
				t.Errorf("secret at line %d: not owned by the image's user %d:%d", n.Line, d.uid, d.gid)
			}
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		text, err := os.ReadFile(filepath.Join(root, "deploy", "kubernetes", "sidecar.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		noGo(t, text)
		if !bytes.Contains(text, []byte("Dockerfile")) || !bytes.Contains(text, []byte("make dist")) {
			t.Error("sidecar.yaml does not say the image comes from the Dockerfile and make dist")
		}
		type probe struct {
			HTTPGet *struct {
				Path string
				Port any
			} `yaml:"httpGet"`
			PeriodSeconds    int `yaml:"periodSeconds"`
			FailureThreshold int `yaml:"failureThreshold"`
		}
		type port struct {
			ContainerPort int `yaml:"containerPort"`
		}
		type mount struct {
			MountPath string `yaml:"mountPath"`
		}
		type container struct {
			Name            string
			Image           string
			Command         []string
			Args            []string
			Ports           []port  `yaml:"ports"`
			Liveness        *probe  `yaml:"livenessProbe"`
			Readiness       *probe  `yaml:"readinessProbe"`
			Startup         *probe  `yaml:"startupProbe"`
			VolumeMounts    []mount `yaml:"volumeMounts"`
			SecurityContext struct {
				RunAsUser int `yaml:"runAsUser"`
			} `yaml:"securityContext"`
		}
		var sluice *container
		var annotations, config map[string]string
		dec := yaml.NewDecoder(bytes.NewReader(text))
		for {
			var doc struct {
				Kind string
				Data map[string]string
				Spec struct {
					Template struct {
						Metadata struct{ Annotations map[string]string }
						Spec     struct{ Containers []container }
					}
				}
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			if doc.Kind == "ConfigMap" {
				config = doc.Data
			}
			for i, c := range doc.Spec.Template.Spec.Containers {
				if c.Name == "sluice" {
					sluice = &doc.Spec.Template.Spec.Containers[i]
					annotations = doc.Spec.Template.Metadata.Annotations
				}
			}
		}
		if sluice == nil {
			t.Fatal("no container named sluice")
		}
		if !strings.HasSuffix(strings.SplitN(sluice.Image, ":", 2)[0], "sluice") || len(sluice.Command) > 0 {
			t.Errorf("image %q command %q, want the sluice image and its entry point", sluice.Image, sluice.Command)
		}
		if len(sluice.Args) > 0 && !slices.Equal(sluice.Args, d.cmd) {
			t.Errorf("args %q, the image's CMD is %q", sluice.Args, d.cmd)
		}
		if !slices.ContainsFunc(sluice.Ports, func(p port) bool { return p.ContainerPort == 9180 }) {
			t.Error("the sluice container does not declare port 9180")
		}
		for _, p := range []struct {
			name, path string
			probe      *probe
		}{
			{"livenessProbe", "/healthz", sluice.Liveness},
			{"readinessProbe", "/readyz", sluice.Readiness},
			{"startupProbe", "/healthz", sluice.Startup},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("no %s with httpGet", p.name)
				continue
			}
			if g := p.probe.HTTPGet; g.Path != p.path || fmt.Sprint(g.Port) != "9180" {
				t.Errorf("%s gets %s on port %v, want %s on 9180", p.name, g.Path, g.Port, p.path)
			}
		}
		if l := sluice.Liveness; l != nil && (l.PeriodSeconds != 10 || l.FailureThreshold != 3) {
			t.Errorf("livenessProbe every %ds, %d failures; want 10s, 3", l.PeriodSeconds, l.FailureThreshold)
		}
		if r := sluice.Readiness; r != nil && r.PeriodSeconds != 10 {
			t.Errorf("readinessProbe every %ds, want 10s", r.PeriodSeconds)
		}
		for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9180", "prometheus.io/path": "/metrics"} {
			if annotations[k] != v {
				t.Errorf("pod annotation %s=%q, want %q", k, annotations[k], v)
			}
		}
		if sluice.SecurityContext.RunAsUser != d.uid {
			t.Errorf("runAsUser %d, the image's user is %d", sluice.SecurityContext.RunAsUser, d.uid)
		}
		if !slices.ContainsFunc(sluice.VolumeMounts, func(m mount) bool { return m.MountPath == configPath }) {
			t.Errorf("nothing mounted at the image's %s", configPath)
		}
		var cfg struct {
			Admin struct{ Listen string }
		}
		if err := yaml.Unmarshal([]byte(config["sluice.yaml"]), &cfg); err != nil {
			t.Fatalf("the ConfigMap's sluice.yaml: %v", err)
		}
		if cfg.Admin.Listen != "0.0.0.0:9180" {
			t.Errorf("the ConfigMap's admin.listen is %q, want 0.0.0.0:9180 (the probes come from outside the pod)", cfg.Admin.Listen)
		}
	})
}

// noGo fails when a deployment compiles sluice at start.
func noGo(t *testing.T, text []byte) {
	t.Helper()
	for _, s := range []string{"go run", "go build", "golang:"} {
		if bytes.Contains(text, []byte(s)) {
			t.Errorf("still has %q: it must run the image, not compile", s)
		}
	}
}
