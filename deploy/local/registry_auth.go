package local

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
)

// basicAuthProxy listens on the registry's public port, demands HTTP basic
// auth the way a Confluent registry configured for it does (401, a
// WWW-Authenticate header and a JSON error body), and forwards requests that
// carry the right user and password to the registry process. Its methods
// are safe for concurrent use.
type basicAuthProxy struct {
	port           int // public port on 127.0.0.1
	user, password string
	proxy          *httputil.ReverseProxy

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed when the running Serve has returned
}

// newBasicAuthProxy returns a proxy for the registry on backendPort that
// listens on ln, already bound to the public port, and serves until stop.
// It spawns the goroutine that serves; stop ends it.
func newBasicAuthProxy(ln net.Listener, backendPort int, user, password string) *basicAuthProxy {
	backend := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(backendPort))}
	rp := httputil.NewSingleHostReverseProxy(backend)
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}
	p := &basicAuthProxy{port: ln.Addr().(*net.TCPAddr).Port, user: user, password: password, proxy: rp}
	p.serve(ln)
	return p
}

// ServeHTTP answers 401 unless the request carries the proxy's user and
// password, and forwards it to the registry otherwise, without them.
func (p *basicAuthProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(p.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(password), []byte(p.password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="sluice-local-registry"`)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
		return
	}
	r.Header.Del("Authorization")
	p.proxy.ServeHTTP(w, r)
}

// serve starts serving on ln in a goroutine of its own.
func (p *basicAuthProxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: p}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	p.mu.Lock()
	p.srv, p.done = srv, done
	p.mu.Unlock()
}

// stop closes the listener and every open connection, so that clients get
// connection refused, and blocks until the serving goroutine has returned.
// It is safe to call more than once.
func (p *basicAuthProxy) stop() {
	p.mu.Lock()
	srv, done := p.srv, p.done
	p.srv, p.done = nil, nil
	p.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
	p.proxy.Transport.(*http.Transport).CloseIdleConnections()
}

// restart listens on the public port again after stop; it does nothing
// while the proxy serves.
func (p *basicAuthProxy) restart() error {
	p.mu.Lock()
	running := p.srv != nil
	p.mu.Unlock()
	if running {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
	if err != nil {
		return fmt.Errorf("listen on port %d again for basic auth: %w (another process took it while the registry was down)", p.port, err)
	}
	p.serve(ln)
	return nil
}

// checkCredentials returns an error unless user and password are both set
// or both empty.
func checkCredentials(user, password string) error {
	if (user == "") != (password == "") {
		return errors.New("basic auth needs both User and Password (set both, or neither for no auth)")
	}
	return nil
}
