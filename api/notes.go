package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// MaxNoteLength is the most characters a note may have.
const MaxNoteLength = 4000

// Note is a free note on a case.
type Note struct {
	ID     string        `json:"id"`
	Author TimelineActor `json:"author"`
	At     time.Time     `json:"at"`
	Text   string        `json:"text"`
}

// NoteRequest is the body of POST /cases/{id}/notes.
type NoteRequest struct {
	Text string `json:"text"`
}

// Validate checks a note's text: 1 to MaxNoteLength characters, not only blanks.
func (r NoteRequest) Validate() []contract.FieldError {
	n := utf8.RuneCountInString(r.Text)
	switch {
	case !utf8.ValidString(r.Text):
		return []contract.FieldError{{Field: "text", Message: "must be UTF-8 text"}}
	case strings.TrimSpace(r.Text) == "":
		return []contract.FieldError{{Field: "text", Message: "is required"}}
	case n > MaxNoteLength:
		return []contract.FieldError{{Field: "text", Message: "is at most 4000 characters"}}
	}
	return nil
}

// AddNote adds a note to a case p may see, as p (caseworker, approver,
// procurement, manager). The note, its timeline line and its audit entry are
// written together.
func (s *Server) AddNote(ctx context.Context, p Principal, caseID, text string) (Note, error) {
	if err := permit(p, "write case notes", caseRoles...); err != nil {
		return Note{}, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return Note{}, err
	}
	return s.addNote(ctx, p, cs, text)
}

func (s *Server) addNote(ctx context.Context, p Principal, cs *store.Case, text string) (Note, error) {
	if errs := (NoteRequest{Text: text}).Validate(); len(errs) > 0 {
		return Note{}, &Error{Kind: KindInvalid, Detail: "the note is not valid", Fields: errs}
	}
	n := store.Note{ID: uuid.NewString(), CaseID: cs.ID, AuthorUser: p.User, AuthorRole: string(p.Role), At: s.now(), Text: text}
	if err := s.casework.AddNote(ctx, n, s.entry(ctx, p, cs.ID, "notes", "create")); err != nil {
		return Note{}, err
	}
	return noteView(n), nil
}

// Notes returns the notes of a case p may see, oldest first; the read is audited.
func (s *Server) Notes(ctx context.Context, p Principal, caseID string) ([]Note, error) {
	if err := permit(p, "read case notes", caseRoles...); err != nil {
		return nil, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return nil, err
	}
	return s.notes(ctx, p, cs)
}

func (s *Server) notes(ctx context.Context, p Principal, cs *store.Case) ([]Note, error) {
	if err := s.auditLog.Audit(ctx, s.entry(ctx, p, cs.ID, "notes", "read")); err != nil {
		return nil, err // no read of personal data without its audit entry
	}
	ns, err := s.casework.Notes(ctx, cs.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Note, 0, len(ns))
	for _, n := range ns {
		out = append(out, noteView(n))
	}
	return out, nil
}

func noteView(n store.Note) Note {
	return Note{ID: n.ID, Author: TimelineActor{User: n.AuthorUser, Role: n.AuthorRole}, At: n.At.UTC(), Text: n.Text}
}

func (s *Server) postNote(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	var body NoteRequest
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &body); err != nil {
		respondError(c, err)
		return
	}
	s.once(c, cs.ID, fingerprint(body), rememberNote, func() (int, any, string, error) {
		n, err := s.addNote(c.Request.Context(), principal(c), cs, body.Text)
		return http.StatusCreated, n, n.ID, err
	})
}

func (s *Server) getNotes(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	ns, err := s.notes(c.Request.Context(), principal(c), cs)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ns})
}
