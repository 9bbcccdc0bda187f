package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// OwnerRequest is the body of PUT /cases/{id}/owner: who owns the case at one
// of its offices (an empty user: nobody).
type OwnerRequest struct {
	Office string `json:"office"`
	User   string `json:"user"`
}

// CaseOwners are a case's owners by office.
type CaseOwners struct {
	CaseID string            `json:"case_id"`
	Owners map[string]string `json:"owners"`
}

var userRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// caseAtOffice loads a case of p's offices (managers: any), else not found.
// Unlike caseFor it does not narrow approvers to the cases waiting on them:
// an approver supervises their office's caseworkers and assigns its cases.
func (s *Server) caseAtOffice(ctx context.Context, p Principal, id string) (*store.Case, error) {
	cs, err := s.loadCase(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(p, cs.SendingOffice, cs.ReceivingOffice) {
		return nil, fail(KindNotFound, "no such case")
	}
	return cs, nil
}

// SetOwner makes r.User the owner of the case at r.Office (one of the case's
// two offices). A caseworker may take an unassigned case of their own office
// for themselves (409 if it has an owner there); an approver assigns, reassigns
// or unassigns at their own office; a manager at any. It is in the timeline
// and the audit trail. It returns the case's owners after it.
func (s *Server) SetOwner(ctx context.Context, p Principal, caseID string, r OwnerRequest) (CaseOwners, error) {
	if err := permit(p, "assign cases", contract.RoleCaseworker, contract.RoleApprover, contract.RoleManager); err != nil {
		return CaseOwners{}, err
	}
	cs, err := s.caseAtOffice(ctx, p, caseID)
	if err != nil {
		return CaseOwners{}, err
	}
	if r.Office != cs.SendingOffice && r.Office != cs.ReceivingOffice {
		return CaseOwners{}, &Error{Kind: KindInvalid, Detail: "the office is not one of the case's",
			Fields: []contract.FieldError{{Field: "office", Message: "must be the case's sending or receiving office"}}}
	}
	if r.User != "" && !userRE.MatchString(r.User) {
		return CaseOwners{}, &Error{Kind: KindInvalid, Detail: "the user is not valid",
			Fields: []contract.FieldError{{Field: "user", Message: "must be a user name (letters, digits, . _ @ + -)"}}}
	}
	onlyIfUnassigned := false
	switch p.Role {
	case contract.RoleCaseworker:
		if r.User != p.User || r.Office != p.Office {
			return CaseOwners{}, fail(KindForbidden, "a caseworker may only take an unassigned case of their office for themselves")
		}
		onlyIfUnassigned = true
	case contract.RoleApprover:
		if r.Office != p.Office && p.Office != "*" {
			return CaseOwners{}, fail(KindForbidden, "an approver assigns the cases of their own office")
		}
	}
	now := s.now()
	err = s.casework.SetOwner(ctx, store.Owner{CaseID: cs.ID, Office: r.Office, UserName: r.User, AssignedBy: p.User, AssignedAt: now},
		onlyIfUnassigned, s.entry(ctx, p, cs.ID, "owners", "assign"))
	if errors.Is(err, store.ErrOwned) {
		return CaseOwners{}, fail(KindConflict, "the case already has an owner at this office; an approver of the office reassigns it")
	}
	if err != nil {
		return CaseOwners{}, err
	}
	if r.User != "" && cs.Status == string(contract.StatusActive) {
		s.notifyOwner(ctx, p, cs, r)
	}
	owners, err := s.casework.Owners(ctx, cs.ID)
	if err != nil {
		return CaseOwners{}, err
	}
	return CaseOwners{CaseID: cs.ID, Owners: orNoOwners(owners[cs.ID])}, nil
}

// notifyOwner has the case's workflow tell the new owner (an update: the
// notification is an activity, retried until the service takes it). The owner is
// in the case file already: if the workflow cannot be reached now, the assignment
// stands, the new owner finds it under "mine", and the failure is logged.
func (s *Server) notifyOwner(ctx context.Context, p Principal, cs *store.Case, r OwnerRequest) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.ensureStarted(ctx, cs); err != nil {
		return // the sweeper starts it; the new owner finds the case under "mine"
	}
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: cs.WorkflowID, UpdateName: contract.UpdateOwnerAssigned, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{contract.Action[contract.OwnerAssigned]{Actor: p, Body: contract.OwnerAssigned{Office: r.Office, User: r.User}}},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		loggerFrom(ctx).Warn("the new owner was not notified", "case_id", cs.ID, "error", err.Error())
	}
}

func orNoOwners(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Server) putOwner(c *gin.Context) {
	var body OwnerRequest
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return
	}
	res, err := s.SetOwner(c.Request.Context(), principal(c), c.Param("id"), body)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// ownerFilter reads the lists' owner parameter: me, none (no owner at the
// caller's offices; managers: at any), or a user.
func ownerFilter(p Principal, v string, f *store.Filter) error {
	switch {
	case v == "":
	case v == "me":
		f.OwnedBy = p.User
	case v == "none":
		f.Unowned = true
	case userRE.MatchString(v):
		f.OwnedBy = v
	default:
		return fail(KindInvalid, "owner must be me, none or a user name")
	}
	return nil
}

// withOwners fills in the summaries' owners.
func (s *Server) withOwners(ctx context.Context, items []Summary) error {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	owners, err := s.casework.Owners(ctx, ids...)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Owners = orNoOwners(owners[items[i].ID])
	}
	return nil
}

// mineFirst puts the cases p owns first, keeping the order otherwise.
func mineFirst(p Principal, items []Summary) {
	mine := func(s Summary) bool {
		for _, u := range s.Owners {
			if u == p.User {
				return true
			}
		}
		return false
	}
	sort.SliceStable(items, func(i, j int) bool { return mine(items[i]) && !mine(items[j]) })
}

// withCaseFile adds to a case view what the case file keeps beside the case:
// its owners and its documents' metadata.
func (s *Server) withCaseFile(ctx context.Context, v *CaseView) error {
	owners, err := s.casework.Owners(ctx, v.ID)
	if err != nil {
		return err
	}
	v.Owners = orNoOwners(owners[v.ID])
	ds, err := s.documentStore.Documents(ctx, v.ID)
	if err != nil {
		return err
	}
	v.Documents = make([]DocumentMeta, 0, len(ds))
	for _, d := range ds {
		v.Documents = append(v.Documents, documentView(d))
	}
	return nil
}
