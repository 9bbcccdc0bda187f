package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// Errors an Options.Authorize function returns to refuse a request.
var (
	// ErrUnauthenticated: no credentials, or credentials that do not identify anyone. The handler
	// answers 401 with "WWW-Authenticate: Bearer".
	ErrUnauthenticated = errors.New("codec: unauthenticated")
	// ErrForbidden: a known caller who may not use the codec. The handler answers 403. Any other
	// non-nil error is treated the same way.
	ErrForbidden = errors.New("codec: forbidden")
)

// OpDecode is the one operation passed to Options.Audit. The endpoint has no "encode": with it,
// anyone allowed to decode could have Homeward's key encrypt a signal or update typed in the
// Temporal UI, and the worker would take it as Homeward's own (POST .../encode answers 404).
const OpDecode = "decode"

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// Options configure Handler.
type Options struct {
	// AllowedOrigin is the one browser origin (scheme://host[:port], no path) allowed to call the
	// endpoint, normally the Temporal UI's, e.g. "http://127.0.0.1:8233" in dev mode. It is compared
	// exactly with the request's Origin header (a trailing "/" in the setting is ignored); only that
	// origin gets CORS headers. A request carrying any other Origin header is refused with 403 and
	// no CORS headers. Requests without an Origin header (the temporal CLI, scripts) are allowed
	// through to Authorize. Empty: no browser origin is allowed.
	AllowedOrigin string

	// Authorize decides who may decode. It returns the caller's identity (used in the
	// audit record) and nil to admit; ErrUnauthenticated (or an error wrapping it) for a request
	// without valid credentials (401); ErrForbidden or any other error for a caller who may not
	// see case data, e.g. not a manager (403). It must not trust X-Forwarded-For or similar headers
	// to identify the caller. nil refuses every request not admitted by TrustOriginOnLoopback.
	// BearerToken helps to read the "Authorization: Bearer" header.
	Authorize func(r *http.Request) (who string, err error)

	// Audit is called once for every admitted decode request whose body parsed, before
	// any payload is processed, with the caller, the namespace, the operation (OpDecode) and the
	// number of payloads. If it returns an error the request fails with 500 and nothing is decoded: decryption is never served without its audit record. nil: no audit.
	Audit func(ctx context.Context, who, namespace, op string, n int) error

	// TrustOriginOnLoopback admits requests, without calling Authorize, when they come from a
	// loopback address (the TCP peer, r.RemoteAddr, is 127.0.0.0/8 or ::1) AND carry exactly the
	// AllowedOrigin in their Origin header AND carry no Authorization header. Off by default.
	//
	// Why it exists: the Temporal UI sends "Authorization: Bearer <token>" to a codec endpoint only
	// over HTTPS, and the dev server's UI (http://localhost:8233) has no HTTPS and no login, so in
	// dev mode the UI can never authenticate. With this option the UI on the same machine can still
	// show decrypted payloads. A web page on another origin cannot forge the Origin header, so it
	// cannot use this; but any program on the machine can, so turn it on only for `homeward dev` on a
	// one-person machine, never when the server is reachable through a reverse proxy or port
	// forward on the same host (every proxied request would come from loopback).
	// The audit records such callers as "loopback:" + the origin.
	TrustOriginOnLoopback bool

	// PathPrefix is where the handler is mounted; default "/codec". It serves
	// POST {PathPrefix}/{namespace}/decode, and also POST {PathPrefix}/decode with the namespace
	// taken from the X-Namespace header (the Temporal UI sends it).
	// If both the path and X-Namespace name a namespace, they must agree.
	PathPrefix string

	// MaxBodyBytes limits the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

type handler struct {
	sdk    http.Handler // the SDK's codec protocol, behind this handler's checks
	opts   Options
	origin string
	prefix string
	max    int64
}

// Handler returns the remote codec endpoint for the Temporal UI and CLI:
// converter.NewPayloadCodecHTTPHandler (POST a JSON-encoded temporal.api.common.v1.Payloads,
// {"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}, to .../decode, get the
// same shape back) behind CORS for one origin, authorization and an audit record for each
// request; .../encode never reaches it. See Options. Responses carry Cache-Control: no-store.
//
// Status codes: 204 preflight from the allowed origin; 401/403 refused (see Authorize); 403 foreign
// Origin; 404 unknown path; 405 not POST; 400 bad namespace, body, or a payload that does not
// decrypt (unknown key, tampered); 413 body too large; 415 not application/json; 500 audit failed.
func Handler(ring *KeyRing, opts Options) http.Handler {
	h := &handler{
		sdk:    converter.NewPayloadCodecHTTPHandler(displayCodec{NewCodec(ring)}),
		opts:   opts,
		origin: strings.TrimSuffix(strings.TrimSpace(opts.AllowedOrigin), "/"),
		prefix: "/" + strings.Trim(opts.PathPrefix, "/"),
		max:    opts.MaxBodyBytes,
	}
	if opts.PathPrefix == "" {
		h.prefix = "/codec"
	}
	if h.prefix == "/" {
		h.prefix = ""
	}
	if h.max <= 0 {
		h.max = DefaultMaxBodyBytes
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")

	origin := r.Header.Get("Origin")
	originAllowed := false
	if origin != "" {
		if h.origin == "" || (origin != h.origin && !h.sameLoopbackUI(origin)) {
			// Foreign origin (including "null"): no CORS headers, so a browser will not let the
			// page read anything, and refuse outright so nothing is decoded or audited.
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		originAllowed = true
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}

	if r.Method == http.MethodOptions {
		hdr.Set("Allow", "POST, OPTIONS")
		if originAllowed {
			hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			hdr.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Namespace")
			hdr.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}

	namespace, op, ok := h.route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		hdr.Set("Allow", "POST, OPTIONS")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if xns := r.Header.Get("X-Namespace"); xns != "" {
		if namespace == "" {
			namespace = xns
		} else if xns != namespace {
			http.Error(w, "X-Namespace does not match the namespace in the path", http.StatusBadRequest)
			return
		}
	}
	if !namespacePattern.MatchString(namespace) {
		http.Error(w, "missing or invalid namespace (put it in the path or in X-Namespace)", http.StatusBadRequest)
		return
	}

	who, err := h.authorize(r, originAllowed)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			hdr.Set("WWW-Authenticate", `Bearer realm="homeward-codec"`)
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}

	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.max), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		http.Error(w, `body is not a JSON Payloads object ({"payloads":[{"metadata":{...},"data":"<base64>"}]})`, http.StatusBadRequest)
		return
	}

	if h.opts.Audit != nil {
		if err := h.opts.Audit(r.Context(), who, namespace, op, len(in.Payloads)); err != nil {
			http.Error(w, "audit record could not be written; nothing was decoded", http.StatusInternalServerError)
			return
		}
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	h.sdk.ServeHTTP(w, r)
}

// displayCodec is what the SDK's handler runs: decode for display (payloads
// Temporal wrote itself pass through), and no encode (see OpDecode).
type displayCodec struct{ *Codec }

func (c displayCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.DecodeForDisplay(payloads)
}

func (displayCodec) Encode([]*commonpb.Payload) ([]*commonpb.Payload, error) {
	return nil, errors.New("the codec endpoint does not encode")
}

// route splits {prefix}/{namespace}/{op} or {prefix}/{op}.
func (h *handler) route(path string) (namespace, op string, ok bool) {
	rest, found := strings.CutPrefix(path, h.prefix+"/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch len(parts) {
	case 1:
		op = parts[0]
	case 2:
		namespace, op = parts[0], parts[1]
		if namespace == "" {
			return "", "", false
		}
	default:
		return "", "", false
	}
	if op != OpDecode { // no /encode: the UI must not make payloads the worker would take

		return "", "", false
	}
	return namespace, op, true
}

// sameLoopbackUI admits, in loopback-trust mode only (homeward dev), the UI under
// another loopback name: http://localhost:8233 is the same UI as http://127.0.0.1:8233.
func (h *handler) sameLoopbackUI(origin string) bool {
	if !h.opts.TrustOriginOnLoopback {
		return false
	}
	want, err1 := url.Parse(h.origin)
	got, err2 := url.Parse(origin)
	loopbackName := func(host string) bool { return host == "localhost" || host == "127.0.0.1" || host == "::1" }
	return err1 == nil && err2 == nil && got.Scheme == want.Scheme && got.Port() == want.Port() &&
		loopbackName(got.Hostname()) && loopbackName(want.Hostname())
}

func (h *handler) authorize(r *http.Request, originAllowed bool) (string, error) {
	if h.opts.TrustOriginOnLoopback && originAllowed && r.Header.Get("Authorization") == "" && isLoopback(r.RemoteAddr) {
		return "loopback:" + h.origin, nil
	}
	if h.opts.Authorize == nil {
		return "", ErrForbidden
	}
	who, err := h.opts.Authorize(r)
	if err != nil {
		return "", err
	}
	return who, nil
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return addr.Unmap().IsLoopback()
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
