package local

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestBasicAuthProxy(t *testing.T) {
	var gotAuth []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	backendPort := backend.Listener.Addr().(*net.TCPAddr).Port
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := newBasicAuthProxy(ln, backendPort, "sluice", "s3cret")
	defer p.stop()
	url := "http://" + ln.Addr().String() + "/apis/ccompat/v7/subjects"

	get := func(user, password string) (int, string, http.Header, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" || password != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header, nil
	}
	for _, c := range []struct{ user, password string }{{"", ""}, {"sluice", "wrong"}, {"other", "s3cret"}, {"sluice", ""}, {"sluice", "s3cret2"}} {
		code, body, h, err := get(c.user, c.password)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusUnauthorized || !strings.Contains(body, `"error_code":401`) || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("user %q password %q: HTTP %d %s (WWW-Authenticate %q), want 401", c.user, c.password, code, body, h.Get("WWW-Authenticate"))
		}
	}
	if len(gotAuth) != 0 {
		t.Fatalf("refused requests reached the backend: %d", len(gotAuth))
	}
	code, body, _, err := get("sluice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || body != "backend /apis/ccompat/v7/subjects" {
		t.Fatalf("with credentials: HTTP %d %q", code, body)
	}
	if len(gotAuth) != 1 || gotAuth[0] != "" {
		t.Fatalf("backend saw Authorization %q, want it removed", gotAuth)
	}

	// Down: connection refused, not an HTTP error; up again on the same port.
	p.stop()
	p.stop()
	if _, _, _, err := get("sluice", "s3cret"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("stopped proxy: %v, want connection refused", err)
	}
	if err := p.restart(); err != nil {
		t.Fatal(err)
	}
	if err := p.restart(); err != nil {
		t.Fatalf("restart of a running proxy: %v", err)
	}
	if code, _, _, err := get("sluice", "s3cret"); err != nil || code != http.StatusOK {
		t.Fatalf("after restart: HTTP %d, %v", code, err)
	}
	if got := strconv.Itoa(p.port); !strings.Contains(url, ":"+got+"/") {
		t.Fatalf("proxy port %s is not the one it was started on (%s)", got, url)
	}
}

func TestCheckCredentials(t *testing.T) {
	if err := checkCredentials("", ""); err != nil {
		t.Fatal(err)
	}
	if err := checkCredentials("u", "p"); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"u", ""}, {"", "p"}} {
		if err := checkCredentials(c[0], c[1]); err == nil {
			t.Errorf("user %q password %q accepted", c[0], c[1])
		}
	}
}
