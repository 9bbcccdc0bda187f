package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// MaxDocumentBytes is the largest document accepted (10 MiB).
const MaxDocumentBytes = 10 << 20

// DocumentKinds are what a supporting document may be.
// A donor_letter is the donor's letter with its decision on a plan (referred to
// by the donor's decision the sending office records).
var DocumentKinds = []string{"consent", "travel_document", "medical_certificate", "handover_certificate", "receipt",
	"donor_letter", "other"}

// DocumentMeta is a document as the API shows it (no bytes).
type DocumentMeta struct {
	ID          string        `json:"id"`
	Kind        string        `json:"kind"`
	Filename    string        `json:"filename"`
	ContentType string        `json:"content_type"`
	Size        int64         `json:"size"`
	SHA256      string        `json:"sha256"`
	UploadedBy  TimelineActor `json:"uploaded_by"`
	UploadedAt  time.Time     `json:"uploaded_at"`
}

// DocumentStore keeps documents: their metadata, and their bytes encrypted at
// rest. *store.Store keeps them in the case file's database (envelope
// encryption under its key ring); another home for the bytes (an
// S3-compatible store) would implement this.
type DocumentStore interface {
	AddDocument(ctx context.Context, d *store.Document, content []byte, audit store.AuditEntry) error
	Documents(ctx context.Context, caseID string) ([]store.Document, error)
	DocumentContent(ctx context.Context, caseID, docID string, read store.TimelineEvent, audit store.AuditEntry) (store.Document, []byte, error)
}

// sniff names a file's type from its first bytes: PDF, JPEG or PNG, or "".
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	}
	return ""
}

// cleanFilename keeps a file name's last path element, without control
// characters, at most 255 characters; an empty name becomes "document".
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for utf8.RuneCountInString(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "document"
	}
	return name
}

// UploadDocument adds a document to a case p may see, as p (caseworker or
// procurement). Its type is found from its content (PDF, JPEG or PNG; anything
// else is KindUnsupported, 415), it is at most MaxDocumentBytes (KindTooLarge,
// 413), and kind is one of DocumentKinds (KindInvalid, 422). The upload is in
// the timeline and the audit trail.
func (s *Server) UploadDocument(ctx context.Context, p Principal, caseID, kind, filename string, r io.Reader) (DocumentMeta, error) {
	if err := permit(p, "upload documents", contract.RoleCaseworker, contract.RoleProcurement); err != nil {
		return DocumentMeta{}, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return DocumentMeta{}, err
	}
	return s.uploadDocument(ctx, p, cs, kind, filename, r)
}

func (s *Server) uploadDocument(ctx context.Context, p Principal, cs *store.Case, kind, filename string, r io.Reader) (DocumentMeta, error) {
	if !slices.Contains(DocumentKinds, kind) {
		return DocumentMeta{}, &Error{Kind: KindInvalid, Detail: "the document's kind is not valid",
			Fields: []contract.FieldError{{Field: "kind", Message: "must be one of " + strings.Join(DocumentKinds, ", ")}}}
	}
	content, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return DocumentMeta{}, fail(KindTooLarge, "a document is at most 10 MiB")
		}
		return DocumentMeta{}, fail(KindMalformed, "the file could not be read")
	}
	if len(content) > MaxDocumentBytes {
		return DocumentMeta{}, fail(KindTooLarge, "a document is at most 10 MiB")
	}
	if len(content) == 0 {
		return DocumentMeta{}, &Error{Kind: KindInvalid, Detail: "the file is empty",
			Fields: []contract.FieldError{{Field: "file", Message: "is required and not empty"}}}
	}
	ct := sniff(content)
	if ct == "" {
		return DocumentMeta{}, fail(KindUnsupported, "a document must be a PDF, JPEG or PNG file (judged by its content)")
	}
	d := &store.Document{ID: uuid.NewString(), CaseID: cs.ID, Kind: kind, Filename: cleanFilename(filename),
		ContentType: ct, UploadedBy: p.User, UploadedRole: string(p.Role), UploadedAt: s.now()}
	if err := s.documentStore.AddDocument(ctx, d, content, s.entry(ctx, p, cs.ID, "documents", "create")); err != nil {
		return DocumentMeta{}, err
	}
	return documentView(*d), nil
}

// Documents lists the documents of a case p may see (metadata; the list is
// audited, as it shows file names).
func (s *Server) Documents(ctx context.Context, p Principal, caseID string) ([]DocumentMeta, error) {
	if err := permit(p, "read documents", caseRoles...); err != nil {
		return nil, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return nil, err
	}
	return s.documents(ctx, p, cs)
}

func (s *Server) documents(ctx context.Context, p Principal, cs *store.Case) ([]DocumentMeta, error) {
	if err := s.auditLog.Audit(ctx, s.entry(ctx, p, cs.ID, "documents", "list")); err != nil {
		return nil, err
	}
	ds, err := s.documentStore.Documents(ctx, cs.ID)
	if err != nil {
		return nil, err
	}
	out := make([]DocumentMeta, 0, len(ds))
	for _, d := range ds {
		out = append(out, documentView(d))
	}
	return out, nil
}

// OpenDocument returns a document of a case p may see, byte for byte; the
// download is in the timeline and the audit trail.
func (s *Server) OpenDocument(ctx context.Context, p Principal, caseID, docID string) (DocumentMeta, []byte, error) {
	if err := permit(p, "read documents", caseRoles...); err != nil {
		return DocumentMeta{}, nil, err
	}
	cs, err := s.caseOf(ctx, p, caseID)
	if err != nil {
		return DocumentMeta{}, nil, err
	}
	return s.openDocument(ctx, p, cs, docID)
}

func (s *Server) openDocument(ctx context.Context, p Principal, cs *store.Case, docID string) (DocumentMeta, []byte, error) {
	if _, err := uuid.Parse(docID); err != nil {
		return DocumentMeta{}, nil, fail(KindNotFound, "no such document")
	}
	read := store.TimelineEvent{EventKey: "document-read:" + uuid.NewString(), Type: "document_downloaded",
		ActorUser: p.User, ActorRole: string(p.Role), At: s.now()}
	d, content, err := s.documentStore.DocumentContent(ctx, cs.ID, docID, read, s.entry(ctx, p, cs.ID, "documents", "read"))
	if errors.Is(err, store.ErrNotFound) {
		return DocumentMeta{}, nil, fail(KindNotFound, "no such document")
	}
	if err != nil {
		return DocumentMeta{}, nil, err
	}
	return documentView(d), content, nil
}

func documentView(d store.Document) DocumentMeta {
	return DocumentMeta{ID: d.ID, Kind: d.Kind, Filename: d.Filename, ContentType: d.ContentType, Size: d.Size,
		SHA256: d.SHA256, UploadedBy: TimelineActor{User: d.UploadedBy, Role: d.UploadedRole}, UploadedAt: d.UploadedAt.UTC()}
}

// postDocument reads a multipart/form-data upload (fields kind and file) as a
// stream: nothing of the file is written to disk unencrypted.
func (s *Server) postDocument(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" {
		respondError(c, fail(KindUnsupported, "send the document as multipart/form-data with the fields kind and file"))
		return
	}
	// The whole body: the file and a little room for the other part and the framing.
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxDocumentBytes+64<<10)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		respondError(c, fail(KindMalformed, "the body is not a multipart form"))
		return
	}
	var kind, filename string
	var file []byte
	var haveKind, haveFile bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			respondError(c, multipartError(err))
			return
		}
		switch part.FormName() {
		case "kind":
			b, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil {
				respondError(c, multipartError(err))
				return
			}
			kind, haveKind = string(b), true
		case "file":
			filename = part.FileName()
			file, err = io.ReadAll(io.LimitReader(part, MaxDocumentBytes+1))
			if err != nil {
				respondError(c, multipartError(err))
				return
			}
			haveFile = true
		default:
			respondError(c, &Error{Kind: KindMalformed, Detail: "unknown form field",
				Fields: []contract.FieldError{{Field: part.FormName(), Message: "is not a field of this request"}}})
			return
		}
	}
	var missing []contract.FieldError
	if !haveKind {
		missing = append(missing, contract.FieldError{Field: "kind", Message: "is required"})
	}
	if !haveFile {
		missing = append(missing, contract.FieldError{Field: "file", Message: "is required"})
	}
	if len(missing) > 0 {
		respondError(c, &Error{Kind: KindInvalid, Detail: "the upload is missing a field", Fields: missing})
		return
	}
	sum := sha256.Sum256(file)
	fp := fingerprint([]string{kind, filename, hex.EncodeToString(sum[:])})
	s.once(c, cs.ID, fp, rememberDocument, func() (int, any, string, error) {
		d, err := s.uploadDocument(c.Request.Context(), principal(c), cs, kind, filename, bytes.NewReader(file))
		return http.StatusCreated, d, d.ID, err
	})
}

func multipartError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fail(KindTooLarge, "a document is at most 10 MiB")
	}
	return fail(KindMalformed, "the multipart body could not be read")
}

func (s *Server) listDocuments(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	ds, err := s.documents(c.Request.Context(), principal(c), cs)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ds})
}

func (s *Server) getDocument(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	d, content, err := s.openDocument(c.Request.Context(), principal(c), cs, c.Param("doc_id"))
	if err != nil {
		respondError(c, err)
		return
	}
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename})
	if disposition == "" {
		disposition = "attachment"
	}
	c.Header("Content-Disposition", disposition)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Data(http.StatusOK, d.ContentType, content)
}
