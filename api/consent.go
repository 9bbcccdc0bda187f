package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// WithdrawConsent records that the person withdrew their consent to data
// processing, for a caseworker who may see the case. An active case closes for
// processing first, through its workflow (update consent-withdrawal: what was
// booked is released, nothing more is paid; closure reason withdrawn, recorded
// as "consent withdrawn"); then the case file's consent says so, in the
// timeline and the audit trail. The retention schedule anonymises the closed
// case at its next run instead of after retention.after. A closed case only
// gets the case file's part. It answers the case after it.
func (s *Server) WithdrawConsent(ctx context.Context, caseID string, body contract.ConsentWithdrawal) (CaseView, error) {
	if err := permit(principal(ctx), "withdraw consent", contract.RoleCaseworker); err != nil {
		return CaseView{}, err
	}
	cs, err := s.FindCase(ctx, caseID)
	if err != nil {
		return CaseView{}, err
	}
	return s.withdrawConsent(ctx, cs, body)
}

func (s *Server) withdrawConsent(ctx context.Context, cs *store.Case, body contract.ConsentWithdrawal) (CaseView, error) {
	if errs := body.Validate(s.now()); len(errs) > 0 {
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the request is not valid", Fields: errs}
	}
	if cs.ConsentWithdrawnAt != nil {
		return CaseView{}, fail(KindConflict, "consent was already withdrawn")
	}
	if cs.AnonymisedAt != nil {
		return CaseView{}, fail(KindConflict, "the case's personal data was erased")
	}
	at := s.now()
	if cs.Status != string(contract.StatusClosed) {
		if _, err := s.act(ctx, cs, contract.UpdateConsentWithdrawal, body, ""); err != nil {
			// Closed meanwhile (the workflow ended): the consent is still recorded.
			again, rerr := s.cases.CaseByID(ctx, cs.ID)
			if rerr != nil || again.Status != string(contract.StatusClosed) || classify(err).Kind != KindConflict {
				return CaseView{}, err
			}
		}
	}
	err := s.casework.WithdrawConsent(ctx, cs.ID, body.WithdrawnAt, at, s.auditEntry(ctx, cs.ID, "", ""))
	if errors.Is(err, store.ErrConsentWithdrawn) {
		return CaseView{}, fail(KindConflict, "consent was already withdrawn")
	}
	if err != nil {
		return CaseView{}, err
	}
	return s.caseViewNow(ctx, cs.ID)
}

func (s *Server) postConsent(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	var body contract.ConsentWithdrawal
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return
	}
	s.once(c, cs.ID, fingerprint(body), rememberCase, func() (int, any, string, error) {
		v, err := s.withdrawConsent(c.Request.Context(), cs, body)
		return http.StatusOK, v, "", err
	})
}
