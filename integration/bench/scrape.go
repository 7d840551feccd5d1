package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// scrapeEvery is how often the admin phase's "on" runs GET /metrics: far
// more often than Prometheus' usual 15 s, so that the scrape's own cost is
// not hidden by its rarity.
const scrapeEvery = time.Second

// scrapeAddrWait bounds the wait for sluice to log its admin address.
const scrapeAddrWait = time.Minute

// scrapeMarker is a metric every sluice /metrics answer holds; a body
// without it is not sluice's.
const scrapeMarker = "sluice_build_info"

// scrapeStats is what the bench's scraper did during one phase.
type scrapeStats struct {
	Every   time.Duration
	Addr    string        // the admin server's host:port, from sluice's log
	Count   int           // GETs of /metrics answered 200 with sluice's metrics
	Bytes   int64         // size of the last body, as sent (gzip when sluice compressed it)
	Total   time.Duration // sum of the GETs' round trips
	Slowest time.Duration
}

// scraper GETs sluice's /metrics every scrapeStats.Every from a goroutine
// of its own, as Prometheus would, until stop.
type scraper struct {
	cancel context.CancelFunc
	done   chan struct{}
	stats  scrapeStats
	err    error // the first failure; valid once done is closed
}

// startScraper waits, on its own goroutine, for the JSON log at logPath to
// name the admin server's address, then GETs http://addr/metrics at once
// and every every until stop. Nothing it does blocks the caller.
func startScraper(ctx context.Context, logPath string, every time.Duration) *scraper {
	ctx, cancel := context.WithCancel(ctx)
	s := &scraper{cancel: cancel, done: make(chan struct{}), stats: scrapeStats{Every: every}}
	go func() {
		defer close(s.done)
		s.err = s.run(ctx, logPath)
		if ctx.Err() != nil && !errors.Is(s.err, errNoAdminAddr) {
			s.err = nil // stopped, not failed: a GET cut short by stop is no failure
		}
	}()
	return s
}

var errNoAdminAddr = errors.New("sluice did not log its admin address")

func (s *scraper) run(ctx context.Context, logPath string) error {
	deadline := time.Now().Add(scrapeAddrWait)
	for s.stats.Addr == "" {
		addr, err := adminAddr(logPath)
		if err != nil {
			return err
		}
		if addr != "" {
			s.stats.Addr = addr
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%q) within %s", errNoAdminAddr, adminLogMsg, scrapeAddrWait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%q) before the phase ended", errNoAdminAddr, adminLogMsg)
		case <-time.After(20 * time.Millisecond):
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + s.stats.Addr + "/metrics"
	t := time.NewTicker(s.stats.Every)
	defer t.Stop()
	for {
		if err := s.scrape(ctx, cl, url); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scrape is one GET of url, as Prometheus asks: gzip accepted.
func (s *scraper) scrape(ctx context.Context, cl *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	// Set by hand, the header keeps the body as sent: its size is what
	// went over the wire, and the body is decompressed below to check it.
	req.Header.Set("Accept-Encoding", "gzip")
	began := time.Now()
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if err != nil {
		return fmt.Errorf("scrape %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	text := body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if text, err = gunzip(body); err != nil {
			return fmt.Errorf("scrape %s: %w", url, err)
		}
	}
	if !bytes.Contains(text, []byte(scrapeMarker)) {
		return fmt.Errorf("scrape %s: the answer (%d bytes) lacks %s", url, len(text), scrapeMarker)
	}
	s.stats.Count++
	s.stats.Bytes = int64(len(body))
	s.stats.Total += took
	s.stats.Slowest = max(s.stats.Slowest, took)
	return nil
}

// stop ends the scraping and returns its figures, or why it failed: sluice
// never logged its address, or a GET failed or returned something other
// than sluice's metrics.
func (s *scraper) stop() (*scrapeStats, error) {
	s.cancel()
	<-s.done
	if s.err != nil {
		return nil, s.err
	}
	if s.stats.Count == 0 {
		return nil, fmt.Errorf("no scrape of %s/metrics finished during the phase", s.stats.Addr)
	}
	st := s.stats
	return &st, nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return out, nil
}
