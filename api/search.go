package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// Searches find cases by what identifies them, through their blind indexes.
type Searches interface {
	SearchCases(ctx context.Context, f store.Filter, q store.SearchQuery) (store.Page, error)
	// ActiveCaseOf is the active case of the person with this identity key.
	ActiveCaseOf(ctx context.Context, beneficiaryKey string) (*store.Case, error)
}

// SearchRequest is the body of POST /cases/search: at least one of reference
// (a prefix, any case), name (every token must match one of a person's names,
// folded for case, accents and spacing), phone (E.164 once spaces and dashes
// are removed) and document_number (separators ignored). The terms travel in
// the body, never in a URL, and are never logged or audited.
type SearchRequest struct {
	Reference      string `json:"reference,omitempty"`
	Name           string `json:"name,omitempty"`
	Phone          string `json:"phone,omitempty"`
	DocumentNumber string `json:"document_number,omitempty"`
	Limit          int    `json:"limit,omitempty"`
	Cursor         string `json:"cursor,omitempty"`
}

// SearchResult is one page of a search, in the list's shape.
type SearchResult struct {
	Items      []Summary `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

var referencePrefixRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)

// query checks the request and normalises its terms. Messages never repeat a term.
func (r SearchRequest) query() (store.SearchQuery, []contract.FieldError) {
	var q store.SearchQuery
	var errs []contract.FieldError
	bad := func(field, msg string) { errs = append(errs, contract.FieldError{Field: field, Message: msg}) }
	if r.Reference == "" && r.Name == "" && r.Phone == "" && r.DocumentNumber == "" {
		bad("reference", "give at least one of reference, name, phone, document_number")
	}
	if r.Reference != "" {
		if !referencePrefixRE.MatchString(r.Reference) {
			bad("reference", "must be the start of a reference such as HW-2026-0001 (letters, digits, dashes)")
		}
		q.ReferencePrefix = strings.ToUpper(r.Reference)
	}
	if r.Name != "" {
		q.NameTokens = store.NameTokens(r.Name)
		switch {
		case utf8.RuneCountInString(r.Name) > 200:
			bad("name", "is at most 200 characters")
		case len(q.NameTokens) == 0:
			bad("name", "must contain a letter or digit")
		case len(q.NameTokens) > 10:
			bad("name", "at most 10 words")
		}
	}
	if r.Phone != "" {
		phone, ok := store.NormalisePhone(r.Phone)
		if !ok {
			bad("phone", "must be an E.164 number such as +224621234567")
		}
		q.Phone = phone
	}
	if r.DocumentNumber != "" {
		q.DocumentNumber = store.NormaliseDocumentNumber(r.DocumentNumber)
		if q.DocumentNumber == "" || len(r.DocumentNumber) > 64 {
			bad("document_number", "must be a document number of at most 64 characters")
		}
	}
	if r.Limit < 0 || r.Limit > 200 {
		bad("limit", "must be 1 to 200")
	}
	return q, errs
}

// Search finds the cases p may list (the list's office scope, and for
// approvers the cases waiting on them or that they decided) whose reference,
// names, phone or travel document match; newest first. Every search is in
// the audit trail: who, when and how many hits (never the terms), and for each
// case found, that p found it.
func (s *Server) Search(ctx context.Context, p Principal, r SearchRequest) (SearchResult, error) {
	if err := permit(p, "search cases", caseRoles...); err != nil {
		return SearchResult{}, err
	}
	q, errs := r.query()
	if len(errs) > 0 {
		return SearchResult{}, &Error{Kind: KindInvalid, Detail: "the search is not valid", Fields: errs}
	}
	f := store.Filter{Offices: officeScope(p), Limit: r.Limit, Cursor: r.Cursor}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if p.Role == contract.RoleApprover {
		f.Approver = p.User
	}
	page, err := s.searches.SearchCases(ctx, f, q)
	if errors.Is(err, store.ErrBadCursor) {
		return SearchResult{}, &Error{Kind: KindInvalid, Detail: "cursor is not one this API gave out",
			Fields: []contract.FieldError{{Field: "cursor", Message: "unknown cursor"}}}
	}
	if err != nil {
		return SearchResult{}, err
	}
	entries := []store.AuditEntry{s.entry(ctx, p, "", "search", "search")}
	entries[0].Detail = "hits=" + strconv.Itoa(len(page.Cases))
	for _, c := range page.Cases {
		entries = append(entries, s.entry(ctx, p, c.ID, "search", "found"))
	}
	if err := s.auditLog.Audit(ctx, entries...); err != nil {
		return SearchResult{}, err // no answer without its audit entry
	}
	items := summaries(page.Cases)
	if err := s.withOwners(ctx, items); err != nil {
		return SearchResult{}, err
	}
	return SearchResult{Items: items, NextCursor: page.NextCursor}, nil
}

func (s *Server) searchCases(c *gin.Context) {
	var body SearchRequest
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return
	}
	res, err := s.Search(c.Request.Context(), principal(c), body)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// CaseRef names a case without personal data.
type CaseRef struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
}

// duplicate is the refusal of a registration of a person (the same identity key)
// who already has an active case: 409, naming that case if the caller may see it.
// The refusal is audited against that case, since it reveals that it exists.
func (s *Server) duplicate(ctx context.Context, beneficiaryKey string) error {
	p := principal(ctx)
	other, err := s.searches.ActiveCaseOf(ctx, beneficiaryKey)
	if err != nil {
		return store.ErrActiveCaseExists // it closed meanwhile: the plain conflict
	}
	if err := s.auditLog.Audit(ctx, s.entry(ctx, p, other.ID, "registration", "refused_duplicate")); err != nil {
		return err
	}
	e := &Error{Kind: KindConflict, Detail: "this person already has an active case"}
	if canSee(p, other.SendingOffice, other.ReceivingOffice) {
		e.Detail += ": " + other.Reference
		e.Existing = &CaseRef{ID: other.ID, Reference: other.Reference}
	}
	return e
}
