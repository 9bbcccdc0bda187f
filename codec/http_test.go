package codec

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const uiOrigin = "http://127.0.0.1:8233"

type auditRecord struct {
	who, namespace, op string
	n                  int
}

type auditLog struct {
	mu   sync.Mutex
	recs []auditRecord
	fail bool
}

func (a *auditLog) audit(_ context.Context, who, namespace, op string, n int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("db down")
	}
	a.recs = append(a.recs, auditRecord{who, namespace, op, n})
	return nil
}

func (a *auditLog) records() []auditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]auditRecord(nil), a.recs...)
}

// authorize: "Bearer manager-token" is a manager, "Bearer clerk-token" a caseworker, anything else
// unauthenticated.
func authorize(r *http.Request) (string, error) {
	tok, ok := BearerToken(r)
	switch {
	case !ok:
		return "", ErrUnauthenticated
	case tok == "manager-token":
		return "mara.manager", nil
	case tok == "clerk-token":
		return "", ErrForbidden
	default:
		return "", ErrUnauthenticated
	}
}

type fixture struct {
	ring  *KeyRing
	audit *auditLog
	h     http.Handler
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{ring: mustRing(t, "k1", "k1"), audit: &auditLog{}}
	opts := Options{AllowedOrigin: uiOrigin, Authorize: authorize, Audit: f.audit.audit}
	if mod != nil {
		mod(&opts)
	}
	f.h = Handler(f.ring, opts)
	return f
}

// encryptedBody is a remote-codec request body holding n encrypted payloads.
func (f *fixture) encryptedBody(t *testing.T, values ...any) string {
	t.Helper()
	dc := DataConverter(f.ring)
	var ps []*commonpb.Payload
	for _, v := range values {
		p, err := dc.ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type req struct {
	method, path, body, origin, auth, remote, xns, ctype string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodPost
	}
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	} else {
		hr.RemoteAddr = "203.0.113.5:40000"
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	if r.xns != "" {
		hr.Header.Set("X-Namespace", r.xns)
	}
	switch {
	case r.ctype == "-":
	case r.ctype != "":
		hr.Header.Set("Content-Type", r.ctype)
	case r.method == http.MethodPost:
		hr.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	return w
}

func decodeResponse(t *testing.T, w *httptest.ResponseRecorder) []*commonpb.Payload {
	t.Helper()
	var out commonpb.Payloads
	if err := protojson.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("response %q: %v", w.Body.String(), err)
	}
	return out.Payloads
}

func TestHandlerDecodeAsManager(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, "Secret Person", 7), origin: uiOrigin, auth: "Bearer manager-token"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != uiOrigin {
		t.Fatalf("ACAO = %q", got)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", w.Header())
	}
	// The response is the remote codec JSON format: base64 metadata and data.
	if !strings.Contains(w.Body.String(), `"payloads"`) || !strings.Contains(w.Body.String(), `"metadata"`) {
		t.Fatalf("body %s", w.Body)
	}
	ps := decodeResponse(t, w)
	var s string
	var n int
	if err := converter.GetDefaultDataConverter().FromPayload(ps[0], &s); err != nil || s != "Secret Person" {
		t.Fatalf("payload 0: %q %v", s, err)
	}
	if err := converter.GetDefaultDataConverter().FromPayload(ps[1], &n); err != nil || n != 7 {
		t.Fatalf("payload 1: %d %v", n, err)
	}
	want := []auditRecord{{"mara.manager", "default", OpDecode, 2}}
	if got := f.audit.records(); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("audit = %v, want %v", got, want)
	}
}

func TestHandlerNamespaceFromHeader(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/codec/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token", xns: "homeward"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := f.audit.records(); len(got) != 1 || got[0].namespace != "homeward" {
		t.Fatalf("audit %v", got)
	}
	// Path and header disagree.
	w = f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token", xns: "other"})
	if w.Code != http.StatusBadRequest {
		t.Fatalf("mismatch: status %d", w.Code)
	}
	// No namespace at all.
	w = f.do(req{path: "/codec/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token"})
	if w.Code != http.StatusBadRequest {
		t.Fatalf("no namespace: status %d", w.Code)
	}
}

func TestHandlerRefusals(t *testing.T) {
	f := newFixture(t, nil)
	body := f.encryptedBody(t, "Secret Person")
	cases := []struct {
		name     string
		r        req
		status   int
		wantCORS bool
	}{
		{"no credentials", req{path: "/codec/default/decode", body: body, origin: uiOrigin}, 401, true},
		{"bad token", req{path: "/codec/default/decode", body: body, origin: uiOrigin, auth: "Bearer nope"}, 401, true},
		{"not a manager", req{path: "/codec/default/decode", body: body, origin: uiOrigin, auth: "Bearer clerk-token"}, 403, true},
		{"foreign origin", req{path: "/codec/default/decode", body: body, origin: "http://evil.example", auth: "Bearer manager-token"}, 403, false},
		{"origin with other port", req{path: "/codec/default/decode", body: body, origin: "http://127.0.0.1:8234", auth: "Bearer manager-token"}, 403, false},
		{"null origin", req{path: "/codec/default/decode", body: body, origin: "null", auth: "Bearer manager-token"}, 403, false},
		{"foreign preflight", req{method: http.MethodOptions, path: "/codec/default/decode", origin: "http://evil.example"}, 403, false},
		{"GET", req{method: http.MethodGet, path: "/codec/default/decode", auth: "Bearer manager-token"}, 405, false},
		{"unknown op", req{path: "/codec/default/peek", body: body, auth: "Bearer manager-token"}, 404, false},
		{"outside prefix", req{path: "/other/default/decode", body: body, auth: "Bearer manager-token"}, 404, false},
		{"too deep", req{path: "/codec/a/b/decode", body: body, auth: "Bearer manager-token"}, 404, false},
		{"text/plain", req{path: "/codec/default/decode", body: body, auth: "Bearer manager-token", ctype: "text/plain"}, 415, false},
		{"no content type", req{path: "/codec/default/decode", body: body, auth: "Bearer manager-token", ctype: "-"}, 415, false},
		{"bad body", req{path: "/codec/default/decode", body: "{nope", auth: "Bearer manager-token"}, 400, false},
		{"bad namespace", req{path: "/codec/bad%20ns/decode", body: body, auth: "Bearer manager-token"}, 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(tc.r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			acao := w.Header().Get("Access-Control-Allow-Origin")
			if tc.wantCORS != (acao != "") {
				t.Fatalf("Access-Control-Allow-Origin = %q", acao)
			}
			if !tc.wantCORS && w.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials header for a foreign origin")
			}
			if strings.Contains(w.Body.String(), "Secret Person") {
				t.Fatal("plaintext in a refusal")
			}
			if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if got := f.audit.records(); len(got) != 0 {
		t.Fatalf("refused requests were audited: %v", got)
	}
}

func TestHandlerPreflight(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{method: http.MethodOptions, path: "/codec/default/decode", origin: uiOrigin})
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != uiOrigin || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("headers %v", h)
	}
	for _, want := range []string{"Content-Type", "Authorization", "X-Namespace"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
			t.Fatalf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
		}
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
	}
	if !strings.Contains(h.Get("Vary"), "Origin") {
		t.Fatal("no Vary: Origin")
	}
	if w.Body.Len() != 0 {
		t.Fatal("preflight has a body")
	}
}

func TestHandlerDecodeErrors(t *testing.T) {
	f := newFixture(t, nil)
	other := &fixture{ring: mustRing(t, "k9", "k9")}
	w := f.do(req{path: "/codec/default/decode", body: other.encryptedBody(t, "x"), auth: "Bearer manager-token"})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "unknown encryption key ID") {
		t.Fatalf("unknown key: %d %s", w.Code, w.Body)
	}
	// Unencrypted payloads come back unchanged (old histories in the UI).
	plain, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{jsonPayload(t, "old")}})
	w = f.do(req{path: "/codec/default/decode", body: string(plain), auth: "Bearer manager-token"})
	if w.Code != http.StatusOK {
		t.Fatalf("plain: %d %s", w.Code, w.Body)
	}
	if ps := decodeResponse(t, w); !proto.Equal(ps[0], jsonPayload(t, "old")) {
		t.Fatalf("plain payload changed: %v", ps[0])
	}
}

func TestHandlerAuditFailureWithholdsPlaintext(t *testing.T) {
	f := newFixture(t, nil)
	f.audit.fail = true
	w := f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, "Secret Person"), auth: "Bearer manager-token"})
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "Secret Person") {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
}

// The endpoint does not encrypt: with /encode, a manager's UI could turn a signal typed in the UI
// into one the worker takes as Homeward's own.
func TestHandlerHasNoEncode(t *testing.T) {
	f := newFixture(t, nil)
	plain, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{jsonPayload(t, "from the UI")}})
	for _, path := range []string{"/codec/default/encode", "/codec/encode"} {
		w := f.do(req{path: path, body: string(plain), origin: uiOrigin, auth: "Bearer manager-token"})
		if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), EncodingEncrypted) {
			t.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
		}
	}
	if got := f.audit.records(); len(got) != 0 {
		t.Fatalf("audit %v", got)
	}
}

// The UI still shows a history holding a payload Homeward refused (a signal typed in the UI): the
// endpoint returns it as it is, beside the decrypted ones.
func TestHandlerShowsUnencryptedAsIs(t *testing.T) {
	f := newFixture(t, nil)
	enc, err := NewCodec(f.ring).Encode([]*commonpb.Payload{jsonPayload(t, "Secret Person")})
	if err != nil {
		t.Fatal(err)
	}
	typed := jsonPayload(t, "typed in the UI")
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc[0], typed}})
	w := f.do(req{path: "/codec/default/decode", body: string(body), origin: uiOrigin, auth: "Bearer manager-token"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	ps := decodeResponse(t, w)
	if !proto.Equal(ps[0], jsonPayload(t, "Secret Person")) || !proto.Equal(ps[1], typed) {
		t.Fatalf("%v", ps)
	}
}

func TestHandlerBodyLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxBodyBytes = 100 })
	w := f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, strings.Repeat("x", 200)), auth: "Bearer manager-token"})
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", w.Code)
	}
}

func TestHandlerLoopbackTrust(t *testing.T) {
	body := func(f *fixture) string { return f.encryptedBody(t, "Secret Person") }

	// Off by default: the dev UI without a token is refused.
	f := newFixture(t, nil)
	if w := f.do(req{path: "/codec/default/decode", body: body(f), origin: uiOrigin, remote: "127.0.0.1:5555"}); w.Code != 401 {
		t.Fatalf("default: status %d", w.Code)
	}

	f = newFixture(t, func(o *Options) { o.TrustOriginOnLoopback = true })
	cases := []struct {
		name, remote, origin, auth string
		status                     int
		who                        string
	}{
		{"ipv4 loopback + UI origin", "127.0.0.1:5555", uiOrigin, "", 200, "loopback:" + uiOrigin},
		{"ipv6 loopback + UI origin", "[::1]:5555", uiOrigin, "", 200, "loopback:" + uiOrigin},
		{"mapped loopback + UI origin", "[::ffff:127.0.0.1]:5555", uiOrigin, "", 200, "loopback:" + uiOrigin},
		{"remote + UI origin", "192.0.2.7:5555", uiOrigin, "", 401, ""},
		{"loopback without Origin", "127.0.0.1:5555", "", "", 401, ""},
		{"loopback + foreign origin", "127.0.0.1:5555", "http://localhost:9999", "", 403, ""},
		{"loopback + token uses Authorize", "127.0.0.1:5555", uiOrigin, "Bearer clerk-token", 403, ""},
		{"loopback + manager token", "127.0.0.1:5555", uiOrigin, "Bearer manager-token", 200, "mara.manager"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.audit.records())
			w := f.do(req{path: "/codec/default/decode", body: body(f), origin: tc.origin, auth: tc.auth, remote: tc.remote})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			recs := f.audit.records()
			if tc.status == 200 {
				if len(recs) != before+1 || recs[before].who != tc.who {
					t.Fatalf("audit %v, want who %q", recs, tc.who)
				}
			} else if len(recs) != before {
				t.Fatalf("refusal audited: %v", recs)
			}
		})
	}

	// Trust needs an AllowedOrigin: with none, no origin is exact.
	f = newFixture(t, func(o *Options) { o.TrustOriginOnLoopback = true; o.AllowedOrigin = "" })
	if w := f.do(req{path: "/codec/default/decode", body: body(f), origin: uiOrigin, remote: "127.0.0.1:5555"}); w.Code != 403 {
		t.Fatalf("no AllowedOrigin: status %d", w.Code)
	}
}

func TestHandlerNilAuthorizeRefuses(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Authorize = nil })
	if w := f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token"}); w.Code != 403 {
		t.Fatalf("status %d", w.Code)
	}
}

func TestHandlerPathPrefix(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.PathPrefix = "/api/v1/codec/" })
	if w := f.do(req{path: "/api/v1/codec/default/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token"}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w := f.do(req{path: "/codec/default/decode", body: f.encryptedBody(t, "x"), auth: "Bearer manager-token"}); w.Code != 404 {
		t.Fatalf("old prefix: status %d", w.Code)
	}
}

// The SDK's remote codec client (what `temporal --codec-endpoint` and converter.NewRemoteDataConverter
// use) talks to the handler.
func TestHandlerWithSDKRemoteCodec(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL + "/codec/default",
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer manager-token")
			return nil
		},
	})
	if _, err := remote.Encode([]*commonpb.Payload{jsonPayload(t, "via remote")}); err == nil {
		t.Fatal("remote encode worked: the endpoint must not encrypt")
	}
	enc, err := NewCodec(f.ring).Encode([]*commonpb.Payload{jsonPayload(t, "via remote")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := remote.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(dec[0], jsonPayload(t, "via remote")) {
		t.Fatalf("round trip: %v", dec[0])
	}
}

// On this machine (loopback trust), the UI opened as localhost is the same UI as
// 127.0.0.1; without loopback trust, or on another port, it is not.
func TestLoopbackUIUnderAnotherName(t *testing.T) {
	ring := GenerateKeyRing()
	body := func() *strings.Reader { return strings.NewReader(`{"payloads":[]}`) }
	status := func(trust bool, origin string) int {
		h := Handler(ring, Options{AllowedOrigin: "http://127.0.0.1:8233", TrustOriginOnLoopback: trust,
			Audit: func(context.Context, string, string, string, int) error { return nil }})
		r := httptest.NewRequest("POST", "/codec/default/decode", body())
		r.RemoteAddr = "127.0.0.1:50000"
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, status(true, "http://localhost:8233"))
	require.Equal(t, http.StatusForbidden, status(false, "http://localhost:8233"))
	require.Equal(t, http.StatusForbidden, status(true, "http://localhost:9999"))
	require.Equal(t, http.StatusForbidden, status(true, "http://evil.example:8233"))
}
