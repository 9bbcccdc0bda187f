package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/store"
	"github.com/stretchr/testify/require"
)

func sealed(t *testing.T, s *store.Store) *store.Store {
	ring := codec.GenerateKeyRing()
	sealer, err := codec.NewSealer(ring, ring.ActiveKeyID())
	require.NoError(t, err)
	return s.WithSealer(sealer)
}

func TestNotesAreSealedAndKeptInOrder(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		at := time.Now().UTC().Truncate(time.Millisecond)
		for i, text := range []string{"Aminata called", "second note"} {
			n := store.Note{ID: uuid.NewString(), CaseID: c.ID, AuthorUser: "caseworker-de", AuthorRole: "caseworker",
				At: at.Add(time.Duration(i) * time.Second), Text: text}
			require.NoError(t, s.AddNote(ctx, n, store.AuditEntry{At: at, ActorUser: "caseworker-de", ActorRole: "caseworker",
				Part: "notes", Action: "create"}))
		}
		ns, err := s.Notes(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, ns, 2)
		require.Equal(t, "Aminata called", ns[0].Text)
		require.Equal(t, "second note", ns[1].Text)

		db, err := s.SQL()
		require.NoError(t, err)
		var raw string
		require.NoError(t, db.QueryRow("SELECT text FROM case_notes WHERE at = (SELECT MIN(at) FROM case_notes)").Scan(&raw))
		require.NotContains(t, raw, "Aminata")
		require.True(t, strings.HasPrefix(raw, "enc:"))

		evs, err := s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, "note_added", evs[0].Type)
		trail, err := s.AuditTrail(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, trail, 2)
		require.Equal(t, "notes", trail[0].Part)
	})
}

func TestDocumentsAreEncryptedWithTheirOwnKey(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		content := []byte("%PDF-1.7 secret passport scan")
		d := &store.Document{ID: uuid.NewString(), CaseID: c.ID, Kind: "travel_document", Filename: "passport Aminata.pdf",
			ContentType: "application/pdf", UploadedBy: "caseworker-de", UploadedRole: "caseworker", UploadedAt: time.Now().UTC()}
		audit := store.AuditEntry{At: time.Now().UTC(), ActorUser: "caseworker-de", ActorRole: "caseworker", Part: "documents"}
		require.NoError(t, s.AddDocument(ctx, d, content, audit))
		require.Equal(t, int64(len(content)), d.Size)

		ds, err := s.Documents(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "passport Aminata.pdf", ds[0].Filename)
		require.Equal(t, d.SHA256, ds[0].SHA256)

		read := store.TimelineEvent{EventKey: uuid.NewString(), Type: "document_downloaded", At: time.Now().UTC()}
		got, b, err := s.DocumentContent(ctx, c.ID, d.ID, read, audit)
		require.NoError(t, err)
		require.Equal(t, content, b)
		require.Equal(t, "travel_document", got.Kind)

		_, _, err = s.DocumentContent(ctx, "another-case", d.ID, read, audit)
		require.ErrorIs(t, err, store.ErrNotFound)

		// Another document's sealed data key does not open this one's bytes: each
		// key is bound to its document.
		d2 := &store.Document{ID: uuid.NewString(), CaseID: c.ID, Kind: "other", Filename: "x.png", ContentType: "image/png",
			UploadedBy: "caseworker-de", UploadedRole: "caseworker", UploadedAt: time.Now().UTC()}
		require.NoError(t, s.AddDocument(ctx, d2, []byte("\x89PNG\r\n\x1a\nxx"), audit))
		db, err := s.SQL()
		require.NoError(t, err)
		var raw []byte
		require.NoError(t, db.QueryRow("SELECT content FROM case_documents WHERE id = $1", d.ID).Scan(&raw))
		require.NotContains(t, string(raw), "passport")
		_, err = db.Exec("UPDATE case_documents SET data_key = (SELECT data_key FROM case_documents WHERE id = $1) WHERE id = $2", d2.ID, d.ID)
		require.NoError(t, err)
		read.EventKey = uuid.NewString()
		_, _, err = s.DocumentContent(ctx, c.ID, d.ID, read, audit)
		require.Error(t, err, "a data key sealed for another document is refused")
	})
}
