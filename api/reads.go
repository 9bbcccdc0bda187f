package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// inbox is who each role works for: the cases waiting on them.
var inbox = map[contract.Role][]string{
	contract.RoleCaseworker:  {string(contract.WaitingCaseworker)},
	contract.RoleApprover:    {string(contract.WaitingApprover)},
	contract.RoleProcurement: {string(contract.WaitingProcurement)},
	contract.RoleManager:     {string(contract.WaitingSystem)},
}

// Inboxes find the cases waiting on a role, and count the active cases by stage.
type Inboxes interface {
	Due(ctx context.Context, f store.Filter, waitingOn []string) ([]store.Case, error)
	ActiveByStage(ctx context.Context, offices []string) ([]store.StageCount, error)
}

// tasks is the caller's inbox: cases waiting on their role, oldest due first.
func (s *Server) tasks(c *gin.Context) {
	items, err := s.Inbox(c, c.Query("owner"))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// Inbox is the cases waiting on the caller's role in their offices, the caller's
// own first, then the oldest due first; owner filters by owner (me, none, a user).
func (s *Server) Inbox(ctx context.Context, owner string) ([]Summary, error) {
	p := principal(ctx)
	if err := permit(p, "have an inbox", caseRoles...); err != nil {
		return nil, err
	}
	f := store.Filter{Offices: officeScope(p), Limit: 200}
	if err := ownerFilter(p, owner, &f); err != nil {
		return nil, &Error{Kind: KindInvalid, Detail: "the filters are not valid",
			Fields: []contract.FieldError{{Field: "owner", Message: "must be me, none or a user name"}}}
	}
	cases, err := s.inboxes.Due(ctx, f, inbox[p.Role])
	if err != nil {
		return nil, err
	}
	items := summaries(cases)
	if err := s.withOwners(ctx, items); err != nil {
		return nil, err
	}
	mineFirst(p, items) // then the oldest due first
	return items, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ActiveByStage counts the active cases in each stage, in the caller's offices.
func (s *Server) ActiveByStage(ctx context.Context) (map[string]int64, error) {
	if err := permit(principal(ctx), "count cases", caseRoles...); err != nil {
		return nil, err
	}
	counts, err := s.inboxes.ActiveByStage(ctx, officeScope(principal(ctx)))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(counts))
	for _, c := range counts {
		out[c.Stage] = c.Cases
	}
	return out, nil
}
