package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// Request is a body the API can check on its own (shape, formats, dates).
type Request interface {
	Validate(now time.Time) []contract.FieldError
}

// action handles a person's action on a case: it is sent to the workflow as an
// update, whose validator accepts or refuses it; the answer is the case after it.
// With an Idempotency-Key, a repeat gets the first answer and has no second effect.
func action[T Request](s *Server, update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		cs, body, key, ok := prepare[T](s, c)
		if !ok {
			return
		}
		v, err := s.act(c, cs, update, body, key)
		if err != nil {
			respondError(c, err)
			return
		}
		s.remember(c, key, fingerprint(body), memory{status: http.StatusOK, caseID: cs.ID, kind: rememberCase}, v)
	}
}

// Act is a person's action on a case (an update of its workflow, by name): the
// body is checked here, and the workflow's validator decides whether the case
// accepts it from this person now. It answers the case after the action.
func (s *Server) Act(ctx context.Context, caseID, update string, body Request) (CaseView, error) {
	cs, err := s.FindCase(ctx, caseID)
	if err != nil {
		return CaseView{}, err
	}
	if errs := body.Validate(s.now()); len(errs) > 0 {
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the request is not valid", Fields: errs}
	}
	return s.act(ctx, cs, update, body, "")
}

func (s *Server) act(ctx context.Context, cs *store.Case, update string, body Request, key string) (CaseView, error) {
	if d, ok := body.(contract.Delivery); ok && d.HandoverDocument != "" {
		if err := s.caseDocument(ctx, cs, d.HandoverDocument, "handover_certificate", "handover_document"); err != nil {
			return CaseView{}, err
		}
	}
	if d, ok := body.(contract.DonorDecision); ok && d.DonorLetter != "" {
		if err := s.caseDocument(ctx, cs, d.DonorLetter, "donor_letter", "donor_letter"); err != nil {
			return CaseView{}, err
		}
	}
	if err := s.ensureStarted(ctx, cs); err != nil {
		return CaseView{}, err
	}
	updateID := key
	if updateID == "" {
		updateID = uuid.NewString()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: cs.WorkflowID, UpdateID: updateID, UpdateName: update, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{contract.Action[Request]{Actor: principal(ctx), RequestID: key, Body: body}},
	})
	var done contract.Accepted
	if err == nil {
		err = h.Get(ctx, &done)
	}
	if err != nil {
		err = closedIsConflict(err)
		// A retry whose first answer was lost (the case file unreadable just then)
		// finds the case moved on, in a later run that no longer knows the update:
		// the first attempt's action is in the case file, and its answer is the case.
		if key != "" && classify(err).Kind == KindConflict {
			if applied, aerr := s.remembered.AppliedRequest(ctx, cs.ID, key); aerr == nil && applied {
				return s.caseViewNow(ctx, cs.ID)
			}
		}
		return CaseView{}, err
	}
	// The workflow answers once the case file has the action: the case is read from there.
	return s.caseViewNow(ctx, cs.ID)
}

// fact handles a partner's callback (a medical result, an arrival): an update
// whose validator ties the fact to what the case awaits and to its sender; the
// workflow keeps it until the process uses it. Answered 202 with no case view:
// a partner does not read the case file.
func fact[T Request](s *Server, update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		cs, body, key, ok := prepare[T](s, c)
		if !ok {
			return
		}
		if err := s.report(c, cs, update, body, key); err != nil {
			respondError(c, err)
			return
		}
		s.remember(c, key, fingerprint(body), memory{status: http.StatusAccepted, caseID: cs.ID, kind: rememberAccepted},
			accepted(cs.ID))
	}
}

// Report is a partner's fact about a case (a medical result, an arrival), here
// entered by a person: the workflow's validator decides as for the partner's own.
func (s *Server) Report(ctx context.Context, caseID, update string, body Request) error {
	if err := permit(principal(ctx), "report a partner's fact", contract.RoleCaseworker, contract.RoleService); err != nil {
		return err
	}
	cs, err := s.FindCase(ctx, caseID)
	if err != nil {
		return err
	}
	if errs := body.Validate(s.now()); len(errs) > 0 {
		return &Error{Kind: KindInvalid, Detail: "the request is not valid", Fields: errs}
	}
	return s.report(ctx, cs, update, body, "")
}

func (s *Server) report(ctx context.Context, cs *store.Case, update string, body Request, key string) error {
	if cs.Status == string(contract.StatusClosed) {
		return fail(KindConflict, "the case is closed")
	}
	_, err := s.act(ctx, cs, update, body, key)
	return err
}

// prepare does what every action and fact does first: find the case, read and
// check the body, and answer a repeated Idempotency-Key from memory.
func prepare[T Request](s *Server, c *gin.Context) (cs *store.Case, body T, key string, ok bool) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return nil, body, "", false
	}
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return nil, body, "", false
	}
	// The item is in the path, not the body: set before the fingerprint, so a repeat
	// fingerprints the same request (it used to be set after, and a repeat got 409).
	if d, aboutItem := any(&body).(interface{ SetItemID(string) }); aboutItem {
		d.SetItemID(c.Param("item_id"))
	}
	if errs := body.Validate(s.now()); len(errs) > 0 {
		respondError(c, &Error{Kind: KindInvalid, Detail: "the request is not valid", Fields: errs})
		return nil, body, "", false
	}
	if k := c.GetHeader("Idempotency-Key"); k != "" {
		if len(k) > 255 {
			respondError(c, fail(KindInvalid, "Idempotency-Key is at most 255 characters"))
			return nil, body, "", false
		}
		key = idempotencyKey(principal(c), routeScope(c), cs.ID, k)
		if prev, err := s.remembered.RememberedResponse(c, key); err == nil {
			if prev.Fingerprint != fingerprint(body) {
				respondError(c, fail(KindConflict, "this Idempotency-Key was used for a different request"))
				return nil, body, "", false
			}
			s.replay(c, prev)
			return nil, body, "", false
		} else if !errors.Is(err, store.ErrNotFound) {
			respondError(c, err)
			return nil, body, "", false
		}
	}
	return cs, body, key, true
}

// routeScope is the route of a request and the values of its path parameters other than the
// case's: an Idempotency-Key on /cases/{id}/procurement/{item_id}/delivery belongs to that item.
// Routes with only the case's ID keep the scope they had (the route), so keys remembered before
// still answer.
func routeScope(c *gin.Context) string {
	scope := c.FullPath()
	for _, p := range c.Params {
		if p.Key != "id" {
			scope += "\x00" + p.Key + "=" + p.Value
		}
	}
	return scope
}

// idempotencyKey scopes a client's key to the caller, the route (with its path
// parameters, routeScope) and the case.
func idempotencyKey(p Principal, route, caseID, k string) string {
	sum := sha256.Sum256([]byte(p.User + "\x00" + route + "\x00" + caseID + "\x00" + k))
	return hex.EncodeToString(sum[:])
}

func fingerprint(body any) string {
	sum := sha256.Sum256([]byte(mustJSON(body)))
	return hex.EncodeToString(sum[:])
}

// How a request sent with an Idempotency-Key is answered again
// (store.IdempotentRequest.Kind). The memory keeps no personal data: a repeat
// re-reads the answer through the audited read path, so it is in the audit trail
// like any read, and shows the case as it is now.
const (
	rememberCase     = "case"     // an action: the case, re-read with ReadCase
	rememberAccepted = "accepted" // a partner's fact: {"accepted": true, "case_id": ...}
	rememberNote     = "note"     // a note added: that note, re-read with notes
	rememberDocument = "document" // a document added: its metadata, re-read with documents
)

// Remembered keeps the answers to requests with an Idempotency-Key, to answer a
// repeat without acting again.
type Remembered interface {
	RememberedResponse(ctx context.Context, key string) (*store.IdempotentRequest, error)
	// AppliedRequest says whether the case's workflow took the action sent under the key.
	AppliedRequest(ctx context.Context, caseID, key string) (bool, error)
	RememberResponse(ctx context.Context, r store.IdempotentRequest) error
}

// memory is what is kept of an answer to answer again.
type memory struct {
	status           int
	caseID, kind, id string
}

func accepted(caseID string) gin.H { return gin.H{"accepted": true, "case_id": caseID} }

// remember answers v, and stores what is needed to answer again under the
// idempotency key if there is one (not v: it can hold personal data).
func (s *Server) remember(c *gin.Context, key, fp string, m memory, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		respondError(c, err)
		return
	}
	if key != "" {
		err := s.remembered.RememberResponse(c, store.IdempotentRequest{Key: key, Fingerprint: fp, Status: m.status,
			CaseID: m.caseID, Kind: m.kind, ObjectID: m.id, CreatedAt: s.now()})
		if err != nil {
			// The action took effect; a retry would be refused as a duplicate by
			// the workflow, so it is safe to answer without the memory.
			loggerFrom(c).Warn("idempotent response not stored", "error", err.Error())
		}
	}
	c.Data(m.status, "application/json; charset=utf-8", b)
}

// replay answers a repeated request from its memory, re-reading what it shows
// through the same audited reads as GET: the case file, the notes, the documents.
func (s *Server) replay(c *gin.Context, prev *store.IdempotentRequest) {
	switch prev.Kind {
	case rememberCase:
		// Re-read as the first answer was given: to whoever may act on the case at
		// their office (an approver transferring a case that waits on nobody sees it).
		cs, err := s.caseAtOffice(c, principal(c), prev.CaseID)
		if err != nil {
			respondError(c, err)
			return
		}
		v, err := s.readCase(c, cs)
		if err != nil {
			respondError(c, err)
			return
		}
		c.JSON(prev.Status, v)
	case rememberAccepted:
		c.JSON(prev.Status, accepted(prev.CaseID))
	case rememberNote, rememberDocument:
		ctx := c.Request.Context()
		cs, err := s.FindCase(c, prev.CaseID)
		if err != nil {
			respondError(c, err)
			return
		}
		var found any
		if prev.Kind == rememberNote {
			ns, err := s.notes(ctx, principal(c), cs)
			if err != nil {
				respondError(c, err)
				return
			}
			for _, n := range ns {
				if n.ID == prev.ObjectID {
					found = n
				}
			}
		} else {
			ds, err := s.documents(ctx, principal(c), cs)
			if err != nil {
				respondError(c, err)
				return
			}
			for _, d := range ds {
				if d.ID == prev.ObjectID {
					found = d
				}
			}
		}
		if found == nil {
			respondError(c, fail(KindNotFound, "what this request created is no longer in the case file"))
			return
		}
		c.JSON(prev.Status, found)
	default: // an answer stored whole before migration 00013 (sealed)
		c.Data(prev.Status, "application/json; charset=utf-8", []byte(prev.Body))
	}
}

// closedIsConflict: a workflow that has completed answers NotFound to an update or
// signal; for the caller the case exists but takes no more actions.
func closedIsConflict(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fail(KindConflict, "the case is closed")
	}
	return err
}

// caseDocument checks that a document an action refers to (a delivery's
// certificate scan, the donor's letter) is a document of the case of that kind
// (422 otherwise, on the field that names it).
func (s *Server) caseDocument(ctx context.Context, cs *store.Case, docID, kind, field string) error {
	docs, err := s.documentStore.Documents(ctx, cs.ID)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if d.ID == docID {
			if d.Kind != kind {
				break
			}
			return nil
		}
	}
	return &Error{Kind: KindInvalid, Detail: "the " + field + " is not a " + strings.ReplaceAll(kind, "_", " ") + " of this case",
		Fields: []contract.FieldError{{Field: field, Message: "must be the ID of a document of this case of kind " + kind}}}
}
