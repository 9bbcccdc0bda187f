// Package simulator is one HTTP server that plays every partner Homeward talks to
// (see package partners and partners/README.md), for running on one machine and in
// tests. It answers plausibly and deterministically under a seed, keeps the partner
// contract (idempotency keys, 4xx for refusals), injects faults on demand, and
// calls Homeward's API back like a real medical provider and receiving office.
// Tests and developers steer and inspect it under /_sim/ or through the methods
// of *Simulator.
package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// Options configure a Simulator. The zero value works: no callbacks, no faults.
type Options struct {
	// APIURL is Homeward's API, where results and arrivals are called back.
	// Empty disables callbacks.
	APIURL string
	// The bearer tokens the callbacks present: the medical provider's (a service
	// token of partner kind medical) with results, the receiving office's
	// (partner kind receiving) with arrivals.
	MedicalToken, ReceivingToken string
	// CallbackDelay is how long after a request its callback is first sent.
	CallbackDelay time.Duration
	// Latency delays every partner answer (the default for every service).
	Latency time.Duration
	// FailureRate (0..1) of partner calls that fail, with FailureMode.
	FailureRate float64
	// FailureMode is ModeUnavailable ("503", the default), ModeHang or ModeReject.
	FailureMode string
	// Seed makes flights, quotes and fault draws repeatable.
	Seed int64
	// APIKey, when set, is the bearer token partner calls must present (else 401).
	APIKey string
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
	// HTTPClient sends the callbacks; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the simulator's clock; nil means time.Now. Times sent are never after it.
	Now func() time.Time
}

// Fault modes.
const (
	ModeUnavailable = "503"  // answer 503 Service Unavailable
	ModeHang        = "hang" // answer nothing until the caller gives up (or 60s)
	ModeReject      = "422"  // refuse with 422 and a message
)

// hangFor bounds a hanging answer, so that a forgotten fault does not hold
// connections forever.
const hangFor = 60 * time.Second

// maxBody bounds a request body.
const maxBody = 1 << 20

// Simulator plays the partner services. Create it with New, serve Handler (or
// call Serve), and Close it to stop its callbacks.
type Simulator struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	mux    *http.ServeMux

	ctx       context.Context // done when the simulator closes: stops callbacks and hangs
	cancel    context.CancelFunc
	wg        sync.WaitGroup // callback goroutines
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	faultRNG *rand.Rand
	faults   map[string]Fault  // by service; "*" is the default
	replies  map[string]stored // by endpoint pattern + idempotency key
	seq      int               // numbers partner references
	counts   Counts
	bookings map[string]*booking
	escorts  map[string]*escort
	notices  map[string]*notice
	cases    map[string]*caseState
}

// stored is a successful answer, kept to be replayed for a repeated key.
type stored struct {
	status int
	body   []byte
	hash   [32]byte // of the request's path and body
	caseID string
}

type booking struct {
	caseID     string
	b          partners.Booking
	passengers int              // seats, the escort's included
	refund     *partners.Refund // the refund's answer, once refunded
}

type escort struct {
	caseID     string
	bookingRef string
	e          partners.Escort
}

// notice is a pre-arrival notice the receiving office was sent.
type notice struct {
	caseID, bookingRef string
	withdrawn          bool
}

// caseState is what the simulated partners remember of, and are told about, a case.
type caseState struct {
	medical         []string // scripted results, next first
	reassessDays    int
	assessments     int
	receivingOffice string
	registryAt      time.Time // UpdatedAt of the registry's record
	eligibility     *partners.Eligibility
	holdArrival     bool
	heldArrivals    []callback
	arrivals        int
	quotePrice      *money.Money           // set by ScriptQuotes: every supplier quotes it
	fees            map[string]money.Money // set by ScriptFees: the fee per partner kind
	refund          *RefundScript          // set by ScriptRefund
}

// New builds a Simulator. It starts no goroutine until a callback is due.
func New(opts Options) *Simulator {
	s := &Simulator{opts: opts, log: opts.Logger, client: opts.HTTPClient, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// A stream of its own for fault draws, so that they do not shift when the
	// content of answers changes.
	s.faultRNG = rand.New(rand.NewPCG(uint64(opts.Seed), 0xfa17))
	mode := opts.FailureMode
	if mode == "" {
		mode = ModeUnavailable
	}
	s.faults = map[string]Fault{"*": {FailureRate: opts.FailureRate, Mode: mode, Latency: opts.Latency}}
	s.replies = map[string]stored{}
	s.counts = newCounts()
	s.bookings = map[string]*booking{}
	s.escorts = map[string]*escort{}
	s.notices = map[string]*notice{}
	s.cases = map[string]*caseState{}
	s.routes()
	return s
}

// Handler serves the partner endpoints and the /_sim/ control API.
func (s *Simulator) Handler() http.Handler { return s.mux }

// Close cancels pending callbacks and hanging answers, and waits for the callback
// goroutines to end. The handler keeps answering afterwards, without callbacks.
func (s *Simulator) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
	})
}

// ListenAndServe serves on addr until ctx is done; see Serve.
func (s *Simulator) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then closes the simulator and shuts the
// server down gracefully.
func (s *Simulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Close first: it releases hanging answers, which Shutdown would wait for.
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); err == nil || errors.Is(err, http.ErrServerClosed) {
		err = serr
	}
	return err
}

// call is one partner request on its way through the simulator.
type call struct {
	r      *http.Request
	key    string // the Idempotency-Key
	body   []byte
	caseID string // for the log; handlers fill it in when the path does not carry it
}

// reply is a handler's answer.
type reply struct {
	status int
	body   any
}

func ok(status int, body any) reply { return reply{status, body} }

func refuse(status int, format string, args ...any) reply {
	return reply{status, map[string]string{"message": fmt.Sprintf(format, args...)}}
}

// partner wraps a partner endpoint's handler with what every partner does alike:
// authentication, the idempotency key, injected latency and faults, replays and
// the log line. h runs with s.mu held, so effects are atomic with their replay
// record and a repeated key can never have a second effect.
func (s *Simulator) partner(service string, h func(*call) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{r: r, key: r.Header.Get(partners.IdempotencyHeader), caseID: r.PathValue("case_id")}
		status, body := s.serve(service, c, h)
		// Only these four: bodies may carry personal data one day.
		s.log.Info("partner call", "service", service, "path", r.Pattern, "status", status, "case_id", c.caseID)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

func (s *Simulator) serve(service string, c *call, h func(*call) reply) (int, []byte) {
	s.mu.Lock()
	s.counts.Calls[service]++
	f := s.faultLocked(service)
	fail := f.FailureRate > 0 && s.faultRNG.Float64() < f.FailureRate
	s.mu.Unlock()

	if s.opts.APIKey != "" && c.r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		return encode(refuse(http.StatusUnauthorized, "a valid bearer token is required"))
	}
	if c.key == "" {
		return encode(refuse(http.StatusBadRequest, "the %s header is required", partners.IdempotencyHeader))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, maxBody))
	if err != nil {
		return encode(refuse(http.StatusBadRequest, "unreadable body"))
	}
	c.body = body
	if c.caseID == "" {
		var id struct {
			CaseID string `json:"case_id"`
		}
		_ = json.Unmarshal(body, &id) // best effort, for the log only
		c.caseID = id.CaseID
	}

	// Faults strike before any effect: a failed call has done nothing.
	ctx := c.r.Context()
	if !s.sleep(ctx, f.Latency) {
		return encode(refuse(http.StatusServiceUnavailable, "request abandoned"))
	}
	if fail {
		s.mu.Lock()
		s.counts.FailuresInjected[service]++
		s.mu.Unlock()
		switch f.Mode {
		case ModeHang:
			s.sleep(ctx, hangFor)
			return encode(refuse(http.StatusServiceUnavailable, "simulated %s outage (hang)", service))
		case ModeReject:
			return encode(refuse(http.StatusUnprocessableEntity, "simulated rejection by %s", service))
		default:
			return encode(refuse(http.StatusServiceUnavailable, "simulated %s outage", service))
		}
	}

	// The key is scoped to the endpoint, as a real partner scopes it to its API.
	slot := c.r.Pattern + " " + c.key
	hash := sha256.Sum256(append([]byte(c.r.URL.Path+"\n"), body...))
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, seen := s.replies[slot]; seen {
		if prev.hash != hash {
			return encode(refuse(http.StatusUnprocessableEntity,
				"%s was used before for a different request", partners.IdempotencyHeader))
		}
		s.counts.Replays[service]++
		c.caseID = prev.caseID
		return prev.status, prev.body
	}
	status, out := encode(h(c))
	if status >= 200 && status < 300 {
		s.replies[slot] = stored{status: status, body: out, hash: hash, caseID: c.caseID}
	}
	return status, out
}

func encode(r reply) (int, []byte) {
	b, err := json.Marshal(r.body)
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"message":"encoding the answer failed"}`)
	}
	return r.status, b
}

// decode reads a JSON request body into v; a malformed one is a 400.
func decode(c *call, v any) *reply {
	if err := json.NewDecoder(bytes.NewReader(c.body)).Decode(v); err != nil {
		r := refuse(http.StatusBadRequest, "the body is not the expected JSON")
		return &r
	}
	return nil
}

// sleep waits d, or until ctx or the simulator is done; it reports whether d passed.
func (s *Simulator) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	return false
}

// rnd is a random source determined by the seed and parts (a case, an item), so
// that an answer does not depend on the order in which concurrent cases call.
func (s *Simulator) rnd(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewPCG(uint64(s.opts.Seed), h.Sum64()))
}

// nextID numbers a partner reference, e.g. "BK-000001".
func (s *Simulator) nextIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-%06d", prefix, s.seq)
}

func (s *Simulator) caseLocked(id string) *caseState {
	cs, found := s.cases[id]
	if !found {
		cs = &caseState{}
		s.cases[id] = cs
	}
	return cs
}

// stamp is the simulator's current time as partners send it: UTC, whole seconds,
// so that it is never after the receiver's clock by a fraction.
func (s *Simulator) stamp() time.Time { return s.now().UTC().Truncate(time.Second) }
