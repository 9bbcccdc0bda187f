package api

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// The case file a caseworker keeps beyond the process (issue 17): notes,
// documents, search, ownership, corrections. Each capability is a method on
// *Server that takes (ctx, Principal), so that the HTTP handlers here and a
// server-rendered workspace call the same code and the same rules. The handlers
// find the case with caseFor (from the request), the exported methods with
// caseOf (from a principal); both apply the same visibility rule.

// Casework is what people keep in the case file beside the process: notes,
// owners, corrections, the withdrawal of consent, transfers (documents are a
// DocumentStore's, searches Searches').
type Casework interface {
	AddNote(ctx context.Context, n store.Note, audit store.AuditEntry) error
	Notes(ctx context.Context, caseID string) ([]store.Note, error)
	SetOwner(ctx context.Context, o store.Owner, onlyIfUnassigned bool, audit store.AuditEntry) error
	Owners(ctx context.Context, caseIDs ...string) (map[string]map[string]string, error)
	CorrectCase(ctx context.Context, c store.Correction) error
	WithdrawConsent(ctx context.Context, caseID string, withdrawnAt, at time.Time, audit store.AuditEntry) error
	TransferCase(ctx context.Context, t store.Transfer) error
}

// caseOf loads a case if p may see it (else a not-found error): FindCase, for
// callers that hold a principal rather than a context carrying one.
func (s *Server) caseOf(ctx context.Context, p Principal, id string) (*store.Case, error) {
	return s.FindCase(WithPrincipal(ctx, p), id)
}

// entry is an audit entry for p's access to a part of a case (auditEntry, for a
// principal given rather than carried by ctx).
func (s *Server) entry(ctx context.Context, p Principal, caseID, part, action string) store.AuditEntry {
	return s.auditEntry(WithPrincipal(ctx, p), caseID, part, action)
}

// permit refuses a role not among roles (403), for callers that bypass the
// routes' allow (the workspace).
func permit(p Principal, what string, roles ...contract.Role) error {
	if !slices.Contains(roles, p.Role) {
		return fail(KindForbidden, "a "+string(p.Role)+" may not "+what)
	}
	return nil
}

// caseRoles are the roles that work on cases (everyone but partners).
var caseRoles = []contract.Role{contract.RoleCaseworker, contract.RoleApprover, contract.RoleProcurement, contract.RoleManager}

// WorksOnCases says whether a role is a person's who works on cases (the
// workspace admits only these; a partner's service posts its facts to the API).
func WorksOnCases(r contract.Role) bool { return slices.Contains(caseRoles, r) }

// once runs do and answers with its result; with an Idempotency-Key, a repeat
// of the request (same caller, route, case and key) gets the first answer and
// does nothing again, and the same key with another body (fp) is 409. Two
// repeats at the very same moment may both run.
//
// do returns the status, the answer and the ID of what it created; kind says how a
// repeat re-reads it (rememberNote, rememberDocument).
func (s *Server) once(c *gin.Context, caseID, fp, kind string, do func() (int, any, string, error)) {
	k := c.GetHeader("Idempotency-Key")
	if len(k) > 255 {
		respondError(c, fail(KindInvalid, "Idempotency-Key is at most 255 characters"))
		return
	}
	var key string
	if k != "" {
		key = idempotencyKey(principal(c), routeScope(c), caseID, k)
		prev, err := s.remembered.RememberedResponse(c.Request.Context(), key)
		switch {
		case err == nil && prev.Fingerprint != fp:
			respondError(c, fail(KindConflict, "this Idempotency-Key was used for a different request"))
			return
		case err == nil:
			s.replay(c, prev)
			return
		case !errors.Is(err, store.ErrNotFound):
			respondError(c, err)
			return
		}
	}
	status, body, id, err := do()
	if err != nil {
		respondError(c, err)
		return
	}
	s.remember(c, key, fp, memory{status: status, caseID: caseID, kind: kind, id: id}, body)
}
