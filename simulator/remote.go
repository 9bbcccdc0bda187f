package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/homeward/homeward/partners"
)

// Remote is a simulator running in another process (`homeward simulator`),
// scripted and read through its /_sim/ control routes.
type Remote struct {
	URL    string // e.g. http://127.0.0.1:8090
	Client *http.Client
}

func (r Remote) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.URL, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("simulator: %s %s answered %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// ScriptMedical is Simulator.ScriptMedical over HTTP.
func (r Remote) ScriptMedical(caseID string, m MedicalScript) error {
	return r.do(http.MethodPut, "/_sim/cases/"+url.PathEscape(caseID)+"/medical", m, nil)
}

// ScriptEligibility is Simulator.ScriptEligibility over HTTP.
func (r Remote) ScriptEligibility(caseID string, e partners.Eligibility) error {
	return r.do(http.MethodPut, "/_sim/cases/"+url.PathEscape(caseID)+"/eligibility", e, nil)
}

// Counts is Simulator.Counts over HTTP.
func (r Remote) Counts() (Counts, error) {
	var c Counts
	return c, r.do(http.MethodGet, "/_sim/counts", nil, &c)
}

// SetFault is Simulator.SetFault over HTTP.
func (r Remote) SetFault(service string, f Fault) error {
	in := faultJSON{Service: service, FailureRate: f.FailureRate, Mode: f.Mode}
	if f.Latency > 0 {
		in.Latency = f.Latency.String()
	}
	return r.do(http.MethodPut, "/_sim/faults", in, nil)
}
