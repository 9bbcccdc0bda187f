package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// codecHandler decodes (and encodes) Temporal payloads for the Temporal UI, so a
// manager reads case details there while the server stores only ciphertext. Only
// managers may use it, only from the UI's origin, and every use is audited.
func (s *Server) codecHandler() http.Handler {
	return codec.Handler(s.ring, codec.Options{
		AllowedOrigin:         s.cfg.Codec.UIOrigin,
		TrustOriginOnLoopback: s.cfg.Codec.TrustLoopbackUI,
		Authorize: func(r *http.Request) (string, error) {
			token, ok := codec.BearerToken(r)
			if !ok {
				return "", codec.ErrUnauthenticated
			}
			p, err := s.auth.Authenticate(r.Context(), token)
			if err != nil {
				return "", codec.ErrUnauthenticated
			}
			if p.Role != contract.RoleManager {
				return "", codec.ErrForbidden
			}
			return p.User, nil
		},
		Audit: func(ctx context.Context, who, namespace, op string, n int) error {
			role := string(contract.RoleManager)
			if strings.HasPrefix(who, "loopback:") {
				role = "local-ui"
			}
			return s.auditLog.Audit(ctx, store.AuditEntry{At: s.now(), ActorUser: who, ActorRole: role,
				CaseID: "namespace:" + namespace, Part: fmt.Sprintf("payloads(%d)", n), Action: op})
		},
	})
}
