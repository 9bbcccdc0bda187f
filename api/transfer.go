package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// TransferRequest is the body of POST /cases/{id}/transfer.
type TransferRequest struct {
	ReceivingOffice string `json:"receiving_office"`
	AreaOfReturn    Area   `json:"area_of_return"`
	Reason          string `json:"reason"`
}

// Validate checks the request's shape.
func (r TransferRequest) Validate(now time.Time) []contract.FieldError {
	errs := contract.Transfer{ReceivingOffice: r.ReceivingOffice, Reason: r.Reason}.Validate(now)
	add := func(field, msg string) { errs = append(errs, contract.FieldError{Field: field, Message: msg}) }
	if r.ReceivingOffice != "" && !officeRE.MatchString(r.ReceivingOffice) {
		add("receiving_office", "must be an office code such as GN-CKY")
	}
	if r.AreaOfReturn.Region == "" || len(r.AreaOfReturn.Region) > 100 {
		add("area_of_return.region", "is required (at most 100 characters)")
	}
	if len(r.AreaOfReturn.District) > 100 {
		add("area_of_return.district", "is at most 100 characters")
	}
	return errs
}

// Transfer moves a case to another receiving office before departure (the area
// of return changed), for a caseworker or approver of the sending office (who
// may see the case: 404 otherwise; the receiving office: 403). The workflow
// takes it first (update transfer, whose validator refuses it after departure:
// 409): its input and the ReceivingOffice search attribute name the new office,
// both receiving offices are told, the timeline keeps the reason. Then the case
// file moves: receiving office and area, the old office's owner dropped, an audit
// entry. From then on the old receiving office no longer sees the case. It
// answers the case after it.
func (s *Server) Transfer(ctx context.Context, caseID string, r TransferRequest) (CaseView, error) {
	p := principal(ctx)
	if err := permit(p, "transfer cases", contract.RoleCaseworker, contract.RoleApprover); err != nil {
		return CaseView{}, err
	}
	// An approver of the sending office sees the case here even while it waits on
	// no approver (as to assign its owner).
	cs, err := s.caseAtOffice(ctx, p, caseID)
	if err != nil {
		return CaseView{}, err
	}
	if p.Office != "*" && p.Office != cs.SendingOffice {
		return CaseView{}, fail(KindForbidden, "only the sending office transfers a case")
	}
	if errs := r.Validate(s.now()); len(errs) > 0 {
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the transfer is not valid", Fields: errs}
	}
	switch r.ReceivingOffice {
	case cs.ReceivingOffice:
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the case is already at that office",
			Fields: []contract.FieldError{{Field: "receiving_office", Message: "must be another office than the case's"}}}
	case cs.SendingOffice:
		return CaseView{}, &Error{Kind: KindInvalid, Detail: "the sending office does not receive its own case",
			Fields: []contract.FieldError{{Field: "receiving_office", Message: "must not be the sending office"}}}
	}
	if cs.Status == string(contract.StatusClosed) {
		return CaseView{}, fail(KindConflict, "the case is closed")
	}
	// The workflow says whether the case may move now; a retry after a failed write
	// below sends the same office again, which the workflow takes as done.
	if _, err := s.act(ctx, cs, contract.UpdateTransfer, contract.Transfer{ReceivingOffice: r.ReceivingOffice,
		Reason: r.Reason}, ""); err != nil {
		return CaseView{}, err
	}
	err = s.casework.TransferCase(ctx, store.Transfer{CaseID: cs.ID, From: cs.ReceivingOffice, To: r.ReceivingOffice,
		AreaRegion: r.AreaOfReturn.Region, AreaDistrict: r.AreaOfReturn.District, By: s.auditEntry(ctx, cs.ID, "", ""),
		At: s.now()})
	if err != nil {
		return CaseView{}, err
	}
	return s.caseViewNow(ctx, cs.ID)
}

func (s *Server) postTransfer(c *gin.Context) {
	var body TransferRequest
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return
	}
	s.once(c, c.Param("id"), fingerprint(body), rememberCase, func() (int, any, string, error) {
		v, err := s.Transfer(c.Request.Context(), c.Param("id"), body)
		return http.StatusOK, v, "", err
	})
}
