package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Document is a supporting document's metadata (no bytes).
type Document struct {
	ID           string `gorm:"primaryKey"`
	CaseID       string
	Kind         string
	Filename     string
	ContentType  string
	Size         int64
	SHA256       string `gorm:"column:sha256"`
	UploadedBy   string
	UploadedRole string
	UploadedAt   time.Time
}

// TableName keeps GORM on the migrated table.
func (Document) TableName() string { return "case_documents" }

// documentRow is a document as stored: metadata, the sealed data key and the
// encrypted bytes.
type documentRow struct {
	Document
	DataKey string
	Content []byte
}

func (documentRow) TableName() string { return "case_documents" }

// metaColumns are the columns of a document's metadata (the list never reads the bytes).
var metaColumns = []string{"id", "case_id", "kind", "filename", "content_type", "size", "sha256", "uploaded_by",
	"uploaded_role", "uploaded_at"}

// ErrDocumentCorrupt says a document's bytes do not decrypt or do not match their checksum.
var ErrDocumentCorrupt = errors.New("the document's stored bytes are not intact")

// The names the sealed parts of a document are bound to (with its ID).
func docColumn(part, id string) string { return "case_documents." + part + ":" + id }

// AddDocument stores a document with envelope encryption (a new random data key
// encrypts the bytes with AES-256-GCM; the data key is sealed under the
// database key ring), its timeline line (no file name) and its audit entry,
// together. d.Size and d.SHA256 are set from content.
func (s *Store) AddDocument(ctx context.Context, d *Document, content []byte, audit AuditEntry) error {
	sum := sha256.Sum256(content)
	d.Size, d.SHA256 = int64(len(content)), hex.EncodeToString(sum[:])
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	ciphertext, err := encryptDocument(key, d.ID, d.CaseID, content)
	if err != nil {
		return err
	}
	row := documentRow{Document: *d, Content: ciphertext}
	if row.DataKey, err = s.sealer.Seal(docColumn("data_key", d.ID), base64.StdEncoding.EncodeToString(key)); err != nil {
		return err
	}
	if row.Filename, err = s.sealer.Seal(docColumn("filename", d.ID), d.Filename); err != nil {
		return err
	}
	if row.SHA256, err = s.sealer.Seal(docColumn("sha256", d.ID), d.SHA256); err != nil {
		return err
	}
	audit.CaseID = d.CaseID
	ev := TimelineEvent{CaseID: d.CaseID, EventKey: "document:" + d.ID, Type: "document_added", ActorUser: d.UploadedBy,
		ActorRole: d.UploadedRole, Summary: "Document added: " + d.Kind, At: d.UploadedAt}
	return s.createWithEvent(ctx, &row, ev, audit)
}

// Documents returns a case's documents' metadata, oldest first.
func (s *Store) Documents(ctx context.Context, caseID string) ([]Document, error) {
	var ds []Document
	if err := s.db.WithContext(ctx).Select(metaColumns).Where("case_id = ?", caseID).Order("uploaded_at, id").
		Find(&ds).Error; err != nil {
		return nil, err
	}
	for i := range ds {
		if err := s.openMeta(&ds[i]); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func (s *Store) openMeta(d *Document) error {
	var err error
	if d.Filename, err = s.sealer.Open(docColumn("filename", d.ID), d.Filename); err != nil {
		return err
	}
	d.SHA256, err = s.sealer.Open(docColumn("sha256", d.ID), d.SHA256)
	return err
}

// DocumentContent records that the document is read (a timeline line and the
// audit entry, first: no read without them), then returns its metadata and
// its bytes, decrypted and checked against their checksum. A document of
// another case is ErrNotFound.
func (s *Store) DocumentContent(ctx context.Context, caseID, docID string, read TimelineEvent, audit AuditEntry) (Document, []byte, error) {
	var row documentRow
	if err := s.db.WithContext(ctx).Where("id = ? AND case_id = ?", docID, caseID).Take(&row).Error; err != nil {
		return Document{}, nil, notFound(err)
	}
	if err := s.openMeta(&row.Document); err != nil {
		return Document{}, nil, err
	}
	audit.CaseID, read.CaseID = caseID, caseID
	read.Summary = "Document downloaded: " + row.Kind
	if err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&read).Error; err != nil {
			return err
		}
		return tx.Create(&audit).Error
	}); err != nil {
		return Document{}, nil, err
	}
	b64, err := s.sealer.Open(docColumn("data_key", docID), row.DataKey)
	if err != nil {
		return Document{}, nil, err
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Document{}, nil, fmt.Errorf("document %s: %w", docID, ErrDocumentCorrupt)
	}
	content, err := decryptDocument(key, docID, caseID, row.Content)
	if err != nil {
		return Document{}, nil, fmt.Errorf("document %s: %w", docID, ErrDocumentCorrupt)
	}
	if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != row.SHA256 {
		return Document{}, nil, fmt.Errorf("document %s: %w", docID, ErrDocumentCorrupt)
	}
	return row.Document, content, nil
}

// encryptDocument encrypts with AES-256-GCM under the document's data key; the
// document's and the case's IDs are bound to the ciphertext (additional data),
// so bytes moved to another document do not decrypt.
func encryptDocument(key []byte, docID, caseID string, plain []byte) ([]byte, error) {
	aead, err := documentAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(docID+"\x00"+caseID)), nil
}

func decryptDocument(key []byte, docID, caseID string, data []byte) ([]byte, error) {
	aead, err := documentAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(data) < aead.NonceSize() {
		return nil, ErrDocumentCorrupt
	}
	n := aead.NonceSize()
	return aead.Open(nil, data[:n], data[n:], []byte(docID+"\x00"+caseID))
}

func documentAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
