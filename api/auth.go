package api

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

// Principal is who calls: a user with a role in an office ("*": every office).
type Principal = contract.Actor

// Authenticator finds who holds a bearer token: a configured token, or an OIDC
// access token (a JWT from the identity provider) when an issuer is configured.
type Authenticator struct {
	static   []config.Token
	verifier *oidc.IDTokenVerifier
	claims   config.OIDC
}

// NewAuthenticator prepares the configured ways to authenticate. The JWKS is
// fetched when a token first needs it, and again when a token names a key it
// does not hold, at most once per auth.oidc.jwks_refresh_cooldown.
func NewAuthenticator(_ context.Context, cfg config.Auth) *Authenticator {
	a := &Authenticator{static: cfg.Tokens, claims: cfg.OIDC}
	if cfg.OIDC.Issuer != "" {
		cooldown := cfg.OIDC.JWKSRefreshCooldown
		if cooldown <= 0 {
			cooldown = 30 * time.Second
		}
		a.verifier = oidc.NewVerifier(cfg.OIDC.Issuer, newKeySet(cfg.OIDC.JWKSURL, cooldown), &oidc.Config{
			ClientID: cfg.OIDC.Audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.PS256}})
	}
	return a
}

// Authenticate returns the person holding the token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	for _, ct := range a.static {
		if subtle.ConstantTimeCompare([]byte(ct.Token), []byte(token)) == 1 {
			return Principal{User: ct.User, Role: contract.Role(ct.Role), Office: ct.Office, Partner: ct.Partner}, nil
		}
	}
	if a.verifier == nil || strings.Count(token, ".") != 2 {
		return Principal{}, fail(KindUnauthorized, "unknown or expired token")
	}
	if !accessTokenType(token) {
		return Principal{}, fail(KindUnauthorized, "the token is not an access token (typ)")
	}
	t, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return Principal{}, fail(KindUnauthorized, "the access token is not valid (signature, issuer, audience or expiry)")
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return Principal{}, fail(KindUnauthorized, "the access token's claims cannot be read")
	}
	str := func(name string) string { s, _ := claims[name].(string); return s }
	if azp, ok := claims["azp"]; ok && !a.authorizedParty(azp) {
		return Principal{}, fail(KindUnauthorized, "the access token was issued to another client (azp)")
	}
	p := Principal{User: str(a.claims.UserClaim), Role: contract.Role(str(a.claims.RoleClaim)), Office: str(a.claims.OfficeClaim)}
	if p.User == "" || p.Office == "" || !slices.Contains(config.Roles, string(p.Role)) {
		return Principal{}, fail(KindForbidden, "the access token carries no Homeward user, role and office")
	}
	if p.Office == config.AllOffices && !config.MayHaveAllOffices(string(p.Role)) {
		return Principal{}, fail(KindForbidden, "every office (\"*\") is for managers and services only")
	}
	if p.Role == contract.RoleService {
		// A partner service posts only its own kind of fact: the kind comes with the token.
		p.Partner = str(a.claims.PartnerClaim)
		if !slices.Contains(contract.PartnerKinds, p.Partner) {
			return Principal{}, fail(KindForbidden, "a service's access token carries no partner kind (medical or receiving)")
		}
	}
	return p, nil
}

// authorizedParty says whether azp names a client the API accepts tokens of:
// auth.oidc.authorized_parties, or by default the audience itself.
func (a *Authenticator) authorizedParty(azp any) bool {
	s, ok := azp.(string)
	if !ok || s == "" {
		return false
	}
	if len(a.claims.AuthorizedParties) == 0 {
		return s == a.claims.Audience
	}
	return slices.Contains(a.claims.AuthorizedParties, s)
}

// accessTokenType says whether a JWT's typ header, when the provider sets one,
// is that of an access token: "at+jwt" (RFC 9068) or plain "JWT". An ID token
// or logout token of another typ is refused.
func accessTokenType(token string) bool {
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Typ *string `json:"typ"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return false
	}
	if h.Typ == nil {
		return true
	}
	typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(*h.Typ), "application/"))
	return typ == "at+jwt" || typ == "jwt"
}

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
	loggerKey
)

func withValue(c *gin.Context, k ctxKey, v any) {
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), k, v))
}

// authenticate requires a valid bearer token.
func authenticate(auth *Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			respondError(c, fail(KindUnauthorized, "send Authorization: Bearer <token>"))
			return
		}
		p, err := auth.Authenticate(c.Request.Context(), token)
		if err != nil {
			respondError(c, err)
			return
		}
		withValue(c, principalKey, p)
		withValue(c, loggerKey, loggerFrom(c).With("user", p.User, "role", p.Role))
		c.Next()
	}
}

// allow admits only the given roles.
func allow(roles ...contract.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := principal(c); !slices.Contains(roles, p.Role) {
			respondError(c, fail(KindForbidden, "a "+string(p.Role)+" may not do this"))
			return
		}
		c.Next()
	}
}

// principal is who calls (set by authenticate, or by the workspace's session).
// Every function below the handlers takes it from the context, so the API and the
// workspace reach the same rules through the same code.
func principal(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey).(Principal)
	return p
}

// WithPrincipal is ctx on behalf of p: how the workspace, which signs people in
// with a session instead of a bearer token, calls the API's functions.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// canSee says whether a person may see a case of these offices: managers see
// every case, others the cases of their own office (sending or receiving).
func canSee(p Principal, sending, receiving string) bool {
	return p.Office == "*" || p.Role == contract.RoleManager || p.Office == sending || p.Office == receiving
}

// officeScope is the offices whose cases a person may list (nil: every office).
func officeScope(p Principal) []string {
	if p.Office == "*" || p.Role == contract.RoleManager {
		return nil
	}
	return []string{p.Office}
}

// requestIDs gives every request an ID of the server's own (a UUID): the one the
// audit trail, problem bodies and logs carry, and the X-Request-ID the client gets
// back. A client's own X-Request-ID never replaces it (anyone could forge one to
// hide in or pollute the audit trail); a well-formed one is kept beside it, in the
// log (client_request_id) and echoed as X-Client-Request-ID.
func requestIDs(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := uuid.NewString()
		c.Header("X-Request-ID", id)
		l := logger.With("request_id", id)
		if theirs := c.GetHeader("X-Request-ID"); clientRequestID(theirs) {
			c.Header("X-Client-Request-ID", theirs)
			l = l.With("client_request_id", theirs)
		}
		withValue(c, requestIDKey, id)
		withValue(c, loggerKey, l)
		c.Next()
	}
}

// clientRequestID says whether a client's request ID is fit to log and echo: at
// most 64 characters of letters, digits and -_.:/ (nothing that could forge a
// log line or a header, nor carry much else).
func clientRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		allowed := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/", r)
		if !allowed {
			return false
		}
	}
	return true
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
