// Package partners is Homeward's HTTP client for the external organisations a case
// depends on: the case registry, the medical provider, the travel agency, the
// receiving office, the supplier portal, finance, the referral service and the
// notification service. Temporal activities call it; the types in calls.go are
// the partner contract (README.md describes it for a partner who implements it).
//
// Every call carries the caller's Idempotency-Key, so that an activity retried by
// Temporal never books, orders or pays twice, and every failure is classified: a
// *Rejected (4xx) will not succeed on retry, an *Unavailable (5xx, timeout, no
// connection) may.
package partners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Names of the partner services, also the first segment of their path prefix.
const (
	ServiceRegistry      = "registry"
	ServiceMedical       = "medical"
	ServiceTravel        = "travel"
	ServiceReceiving     = "receiving"
	ServiceSuppliers     = "suppliers"
	ServiceFinance       = "finance"
	ServiceReferrals     = "referrals"
	ServiceNotifications = "notifications"
)

// Services lists every partner service.
var Services = []string{ServiceRegistry, ServiceMedical, ServiceTravel, ServiceReceiving,
	ServiceSuppliers, ServiceFinance, ServiceReferrals, ServiceNotifications}

// IdempotencyHeader is the request header that makes a partner call safe to repeat.
const IdempotencyHeader = "Idempotency-Key"

// DefaultTimeout bounds a call when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponse bounds how much of a partner's answer is read: a broken partner must
// not make an activity hold megabytes in memory.
const maxResponse = 1 << 20

// maxMessage is how much of a partner's error message an error carries.
const maxMessage = 300

// Client calls the partner services. One base URL serves them all, each under its
// own path prefix (/registry/v1, /medical/v1, ...): the simulator in development,
// a gateway in production. A Client is safe for concurrent use.
type Client struct {
	BaseURL string        // e.g. "http://127.0.0.1:8090", no trailing path needed
	APIKey  string        // sent as "Authorization: Bearer <APIKey>"
	HTTP    *http.Client  // nil means http.DefaultClient
	Timeout time.Duration // per call; zero means DefaultTimeout
}

// New returns a Client with its own http.Client.
func New(baseURL, apiKey string, timeout time.Duration) *Client {
	return &Client{BaseURL: baseURL, APIKey: apiKey, HTTP: &http.Client{}, Timeout: timeout}
}

// Rejected is a partner's refusal (a 4xx answer): the request is wrong or
// contradicts the partner's state, so the same request will be refused again.
// Status 0 means the client refused to send it (no idempotency key, an empty ID
// in the path): a caller's bug that no retry can mend either.
type Rejected struct {
	Service string
	Status  int
	Message string // the partner's own message, at most 300 characters
}

func (e *Rejected) Error() string {
	return fmt.Sprintf("%s: rejected (%d): %s", e.Service, e.Status, e.Message)
}

// Unavailable means the partner could not be reached or failed (5xx, timeout,
// refused connection, an unreadable answer). The request may or may not have had
// its effect; repeating it with the same idempotency key is safe.
type Unavailable struct {
	Service string
	Status  int // 0 when no HTTP answer came
	Err     error
}

func (e *Unavailable) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: unavailable (%d): %v", e.Service, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: unavailable: %v", e.Service, e.Err)
}

func (e *Unavailable) Unwrap() error { return e.Err }

// do sends one call and decodes a 2xx answer into out (when out is not nil).
func (c *Client) do(ctx context.Context, service, method, path, key string, in, out any) error {
	if key == "" {
		return &Rejected{Service: service, Message: "an idempotency key is required"}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			// Only the type is named: the value may hold personal data one day.
			return fmt.Errorf("%s: encoding %T: %w", service, in, err)
		}
		body = bytes.NewReader(b)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s: building request: %w", service, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &Unavailable{Service: service, Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &Unavailable{Service: service, Status: resp.StatusCode, Err: fmt.Errorf("reading answer: %w", err)}
	}
	switch {
	case retryableStatus(resp.StatusCode):
		return &Unavailable{Service: service, Status: resp.StatusCode, Err: errors.New(partnerMessage(resp.StatusCode, raw))}
	case resp.StatusCode >= 400:
		return &Rejected{Service: service, Status: resp.StatusCode, Message: partnerMessage(resp.StatusCode, raw)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &Unavailable{Service: service, Status: resp.StatusCode, Err: errors.New("unexpected status")}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// The call may have had its effect; a retry with the same key returns the
		// stored answer, so treat a garbled answer as a transient failure.
		return &Unavailable{Service: service, Status: resp.StatusCode, Err: fmt.Errorf("decoding answer: %w", err)}
	}
	return nil
}

// retryableStatus says whether an HTTP status is a transient failure. 408 (the
// partner timed out reading us), 425 and 429 (slow down) are 4xx but pass with time.
func retryableStatus(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout ||
		status == http.StatusTooEarly || status == http.StatusTooManyRequests
}

// partnerMessage reads {"message": ...} or a problem document's detail (or title)
// from an error answer, falling back to the status text, at most maxMessage long.
func partnerMessage(status int, raw []byte) string {
	var p struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
		Title   string `json:"title"`
	}
	msg := ""
	if json.Unmarshal(raw, &p) == nil {
		msg = strings.TrimSpace(p.Message)
		if msg == "" {
			msg = strings.TrimSpace(p.Detail)
		}
		if msg == "" {
			msg = strings.TrimSpace(p.Title)
		}
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return truncate(msg, maxMessage)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// pathf formats a path whose %s verbs are IDs taken from data (a case ID, a
// booking reference): each is escaped, and an empty one is refused, as it would
// address another resource.
func pathf(service, format string, ids ...string) (string, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		if id == "" {
			return "", &Rejected{Service: service, Message: "an ID in the path is empty"}
		}
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...), nil
}
