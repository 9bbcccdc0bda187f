package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
)

// Principal is who calls: a user with a role in an office ("*": every office).
type Principal = contract.Actor

// Tokens maps bearer tokens to people (configuration; OIDC in production).
type Tokens struct {
	byToken []config.Token
}

// NewTokens indexes the configured tokens.
func NewTokens(ts []config.Token) *Tokens { return &Tokens{byToken: ts} }

// Lookup finds the person holding a token, in constant time per token.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	for _, ct := range t.byToken {
		if subtle.ConstantTimeCompare([]byte(ct.Token), []byte(token)) == 1 {
			return Principal{User: ct.User, Role: contract.Role(ct.Role), Office: ct.Office}, true
		}
	}
	return Principal{}, false
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
func authenticate(tokens *Tokens) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			respondError(c, fail(KindUnauthorized, "send Authorization: Bearer <token>"))
			return
		}
		p, ok := tokens.Lookup(token)
		if !ok {
			respondError(c, fail(KindUnauthorized, "unknown or expired token"))
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

func principal(c *gin.Context) Principal {
	p, _ := c.Request.Context().Value(principalKey).(Principal)
	return p
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

// requestIDs gives every request an ID (or keeps the caller's X-Request-ID) and
// a logger that carries it.
func requestIDs(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if len(id) == 0 || len(id) > 64 {
			id = uuid.NewString()
		}
		c.Header("X-Request-ID", id)
		withValue(c, requestIDKey, id)
		withValue(c, loggerKey, logger.With("request_id", id))
		c.Next()
	}
}

func requestID(c *gin.Context) string {
	id, _ := c.Request.Context().Value(requestIDKey).(string)
	return id
}

func loggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Request.Context().Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
