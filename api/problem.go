package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// Kind is what went wrong, independent of HTTP. Handlers and the code below them
// say which kind; one table says which status each kind is.
type Kind string

const (
	KindMalformed    Kind = "malformed"    // JSON that does not parse, unknown fields, wrong types
	KindInvalid      Kind = "validation"   // well-formed but invalid
	KindUnauthorized Kind = "unauthorized" // no or bad token
	KindForbidden    Kind = "forbidden"    // role not allowed, self-approval
	KindNotFound     Kind = "not-found"    // unknown case, or one the caller may not see
	KindConflict     Kind = "conflict"     // wrong stage, duplicate
	KindTooLarge     Kind = "too-large"    // body over the limit
	KindUnsupported  Kind = "unsupported"  // a file of a type not accepted
	KindUnavailable  Kind = "unavailable"  // Temporal or the database down
	KindInternal     Kind = "internal"
)

var kinds = map[Kind]struct {
	status int
	title  string
}{
	KindMalformed:    {http.StatusBadRequest, "Malformed request"},
	KindInvalid:      {http.StatusUnprocessableEntity, "Invalid request"},
	KindUnauthorized: {http.StatusUnauthorized, "Authentication required"},
	KindForbidden:    {http.StatusForbidden, "Not allowed"},
	KindNotFound:     {http.StatusNotFound, "Not found"},
	KindConflict:     {http.StatusConflict, "Conflict with the case's state"},
	KindTooLarge:     {http.StatusRequestEntityTooLarge, "Request body too large"},
	KindUnsupported:  {http.StatusUnsupportedMediaType, "Unsupported media type"},
	KindUnavailable:  {http.StatusServiceUnavailable, "Service temporarily unavailable"},
	KindInternal:     {http.StatusInternalServerError, "Internal error"},
}

// Error is an error the API answers as RFC 9457 problem+json. Detail must never
// carry personal data.
type Error struct {
	Kind   Kind
	Detail string
	Fields []contract.FieldError
	// Existing names the case a refused registration's person already has, when
	// the caller may see it.
	Existing *CaseRef
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Detail }

func fail(kind Kind, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

// Problem is the problem+json body.
type Problem struct {
	Type      string                `json:"type"`
	Title     string                `json:"title"`
	Status    int                   `json:"status"`
	Detail    string                `json:"detail"`
	Instance  string                `json:"instance,omitempty"`
	Errors    []contract.FieldError `json:"errors,omitempty"`
	RequestID string                `json:"request_id,omitempty"`
	// ExistingCase: see Error.Existing.
	ExistingCase *CaseRef `json:"existing_case,omitempty"`
}

// retryAfterSeconds is what a client waits before retrying a 503.
const retryAfterSeconds = "5"

// respondError writes err as problem+json, choosing the kind for errors from below.
func respondError(c *gin.Context, err error) {
	e := classify(err)
	k := kinds[e.Kind]
	if e.Kind == KindUnavailable {
		c.Header("Retry-After", retryAfterSeconds)
	}
	if e.Kind == KindInternal {
		// The cause goes to the log (it names no person: errors here carry IDs and
		// types), never to the client.
		loggerFrom(c).Error("internal error", "error", err.Error())
		e.Detail = "Something went wrong on our side; the request ID identifies it in our logs."
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(k.status, Problem{
		Type: "https://homeward.example/problems/" + string(e.Kind), Title: k.title, Status: k.status,
		Detail: e.Detail, Instance: c.Request.URL.Path, Errors: e.Fields, RequestID: requestID(c),
		ExistingCase: e.Existing,
	})
}

// ProblemOf says what kind of problem err is, as the API would answer it (the
// workspace shows the same refusal in words).
func ProblemOf(err error) *Error { return classify(err) }

// Status is the HTTP status of a kind of problem.
func (e *Error) Status() int { return kinds[e.Kind].status }

func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case contract.RefusedWrongStage, contract.RefusedDuplicate:
			return fail(KindConflict, app.Message())
		case contract.RefusedForbidden:
			return fail(KindForbidden, app.Message())
		case contract.RefusedInvalid:
			return invalidFromWorkflow(app.Message())
		}
	}
	var notFound *serviceerror.NotFound
	switch {
	case errors.Is(err, store.ErrNotFound), errors.As(err, &notFound):
		return fail(KindNotFound, "no such case")
	case errors.Is(err, store.ErrActiveCaseExists):
		return fail(KindConflict, "this person already has an active case")
	case errors.Is(err, store.ErrConflict):
		return fail(KindConflict, "a conflicting request was made at the same time; retry")
	case unavailable(err):
		return fail(KindUnavailable, "Temporal or the database is not answering; retry shortly")
	}
	return &Error{Kind: KindInternal, Detail: err.Error()}
}

// invalidFromWorkflow turns a validator's "field: message" into a field error.
func invalidFromWorkflow(msg string) *Error {
	if field, m, ok := strings.Cut(msg, ": "); ok && !strings.Contains(field, " ") {
		return &Error{Kind: KindInvalid, Detail: msg, Fields: []contract.FieldError{{Field: field, Message: m}}}
	}
	return &Error{Kind: KindInvalid, Detail: msg}
}

func unavailable(err error) bool {
	var (
		unav      *serviceerror.Unavailable
		deadline  *serviceerror.DeadlineExceeded
		notReady  *serviceerror.WorkflowNotReady // an update whose workflow task failed (a worker died): send it again
		aborted   *serviceerror.Aborted
		exhausted *serviceerror.ResourceExhausted
	)
	if errors.As(err, &unav) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &notReady) || errors.As(err, &aborted) || errors.As(err, &exhausted) {
		return true
	}
	return store.Unavailable(err) || strings.Contains(err.Error(), "i/o timeout") || strings.Contains(err.Error(), "connect: ")
}
