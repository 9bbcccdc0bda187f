package workspace

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/api"
	"github.com/homeward/homeward/contract"
)

// The case file a caseworker keeps beside the process: notes, documents, owners.
// Each goes through the API's function, which checks the person and the case.

func (w *Workspace) addNote(c *gin.Context) {
	id := c.Param("id")
	f := c.Request.PostForm
	if _, err := w.api.AddNote(c.Request.Context(), sessionOf(c).User, id, f.Get("text")); err != nil {
		w.refusedOnCase(c, id, "note", err)
		return
	}
	w.flash(c, "done.note")
	c.Redirect(http.StatusSeeOther, "/cases/"+id+"#notes")
}

func (w *Workspace) uploadDocument(c *gin.Context) {
	id := c.Param("id")
	file, header, err := c.Request.FormFile("file")
	if err != nil {
		w.refusedOnCase(c, id, "document", &api.Error{Kind: api.KindInvalid, Detail: "choose a file",
			Fields: []contract.FieldError{{Field: "file", Message: "is required and not empty"}}})
		return
	}
	defer func() { _ = file.Close() }()
	_, err = w.api.UploadDocument(c.Request.Context(), sessionOf(c).User, id, c.Request.PostFormValue("kind"),
		header.Filename, file)
	if err != nil {
		w.refusedOnCase(c, id, "document", err)
		return
	}
	w.flash(c, "done.document")
	c.Redirect(http.StatusSeeOther, "/cases/"+id+"#documents")
}

func (w *Workspace) downloadDocument(c *gin.Context) {
	meta, content, err := w.api.OpenDocument(c.Request.Context(), sessionOf(c).User, c.Param("id"), c.Param("doc"))
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": meta.Filename}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, meta.ContentType, content)
}

func (w *Workspace) assignOwner(c *gin.Context) {
	id := c.Param("id")
	f := c.Request.PostForm
	_, err := w.api.SetOwner(c.Request.Context(), sessionOf(c).User, id,
		api.OwnerRequest{Office: f.Get("office"), User: strings.TrimSpace(f.Get("user"))})
	if err != nil {
		w.refusedOnCase(c, id, "owner", err)
		return
	}
	w.flash(c, "done.owner")
	c.Redirect(http.StatusSeeOther, "/cases/"+id)
}

// withdrawConsent records that the person withdrew their consent (checked once
// more by the person first): the case closes through its workflow.
func (w *Workspace) withdrawConsent(c *gin.Context) {
	id := c.Param("id")
	f := c.Request.PostForm
	if f.Get("confirm_consent") != "true" {
		w.showCase(c, http.StatusUnprocessableEntity, id, contract.UpdateConsentWithdrawal, f, &problem{Kind: api.KindInvalid,
			Fields: map[string]string{"confirm_consent": "confirm.consent"},
			Order:  []contract.FieldError{{Field: "confirm_consent", Message: "confirm.consent"}}})
		return
	}
	no := false
	_, err := w.api.WithdrawConsent(c.Request.Context(), id,
		contract.ConsentWithdrawal{DataProcessing: &no, WithdrawnAt: formTime(f.Get("withdrawn_at"))})
	if err != nil {
		w.refusedOnCase(c, id, contract.UpdateConsentWithdrawal, err)
		return
	}
	w.flash(c, "done."+contract.UpdateConsentWithdrawal)
	c.Redirect(http.StatusSeeOther, "/cases/"+id)
}

// transfer moves the case to another receiving office. The person stays on the
// case: the sending office still sees it.
func (w *Workspace) transfer(c *gin.Context) {
	id := c.Param("id")
	f := c.Request.PostForm
	_, err := w.api.Transfer(c.Request.Context(), id, api.TransferRequest{
		ReceivingOffice: strings.ToUpper(strings.TrimSpace(f.Get("receiving_office"))),
		AreaOfReturn: api.Area{Region: strings.TrimSpace(f.Get("area_of_return.region")),
			District: strings.TrimSpace(f.Get("area_of_return.district"))},
		Reason: strings.TrimSpace(f.Get("reason"))})
	if err != nil {
		w.refusedOnCase(c, id, contract.UpdateTransfer, err)
		return
	}
	w.flash(c, "done."+contract.UpdateTransfer)
	c.Redirect(http.StatusSeeOther, "/cases/"+id)
}

// refusedOnCase shows a refusal on the case page beside the form that was sent.
func (w *Workspace) refusedOnCase(c *gin.Context, id, form string, err error) {
	p := problemOf(err)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		p = &problem{Kind: api.KindTooLarge, Detail: "a document is at most 10 MiB", Fields: map[string]string{}}
	}
	switch p.Kind {
	case api.KindInternal, api.KindUnavailable, api.KindNotFound:
		w.fail(c, err)
		return
	}
	w.showCase(c, statusOf(err), id, form, c.Request.PostForm, p)
}
