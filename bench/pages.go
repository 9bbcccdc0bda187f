package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/workspace"
)

// pages measures the workspace's main pages on the seeded case file, as a person
// signed in sees them: My work (the inbox and the counts per stage), the case list,
// and a case page. Their server time should stay in the range of the API's reads.
func pages(ctx context.Context, w io.Writer, o Options, driver string, db *sql.DB, cfg config.Config, st *store.Store,
	tc client.Client, ring *codec.KeyRing) ([]measured, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Workspace.DevSignIn, cfg.Auth = true, cfg.Auth.WithDevTokens()
	h, err := workspace.Handler(quiet, api.New(quiet, cfg, st, tc, ring), ring)
	if err != nil {
		return nil, err
	}
	base, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	defer stop()
	var caseID string
	if err := db.QueryRowContext(ctx, "SELECT id FROM cases WHERE sending_office = 'DE-BER' AND status = 'active' "+
		"ORDER BY seq DESC LIMIT 1").Scan(&caseID); err != nil {
		return nil, fmt.Errorf("a case to open: %w", err)
	}
	b, err := signedIn(base, "caseworker-de")
	if err != nil {
		return nil, err
	}
	var out []measured
	tb := &table{title: fmt.Sprintf("3b. The workspace's pages on %s (caseworker DE-BER), one at a time", driver),
		head: []string{"page", "requests", "p50 ms", "p99 ms", "max ms", "errors"}}
	for _, p := range []struct{ name, path string }{
		{"My work (inbox, counts per stage)", "/"},
		{"Cases (the list, newest first)", "/cases"},
		{"Cases, overdue in Counselling", "/cases?stage=Counselling&overdue=true"},
		{"A case page", "/cases/" + caseID},
	} {
		lat := &Latencies{}
		errs := 0
		var firstErr error
		get := func() error {
			res, err := b.Get(base + p.path)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, res.Body)
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %d", p.path, res.StatusCode)
			}
			return nil
		}
		for range 3 {
			_ = get()
		}
		until := time.Now().Add(readBudget)
		for i := 0; i < o.ReadRequests && (i < 20 || time.Now().Before(until)); i++ {
			t := time.Now()
			if err := get(); err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			lat.Add(time.Since(t))
		}
		out = append(out, measured{p.name, lat.Quantile(.5), lat.Quantile(.99)})
		tb.add(p.name, itoa(lat.Len()+errs), ms(lat.Quantile(.5)), ms(lat.Quantile(.99)), ms(lat.Quantile(1)), itoa(errs))
		if firstErr != nil {
			tb.note("%s: first error: %v", p.name, firstErr)
		}
	}
	tb.note("each page: 3 warm-up requests, then %d requests or %s, whichever ends first; HTML rendered, every read audited", o.ReadRequests, readBudget)
	tb.print(w)
	return out, nil
}

// measured is one read's median and p99.
type measured struct {
	name     string
	p50, p99 time.Duration
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signedIn is a browser's client signed in as one of the dev people.
func signedIn(base, user string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := c.Get(base + "/signin")
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no sign-in form (status %d)", res.StatusCode)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/signin",
		strings.NewReader(url.Values{"csrf": {string(m[1])}, "user": {user}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = c.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK { // followed to My work
		return nil, fmt.Errorf("signing in answered %d", res.StatusCode)
	}
	return c, nil
}
