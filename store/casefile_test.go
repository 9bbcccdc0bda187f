package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
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

func TestSearchNormalisation(t *testing.T) {
	require.Equal(t, "aissatou ndiaye ba", store.FoldName("  Aïssatou\tN'Diaye-Bâ "))
	require.Equal(t, "lukasz grosse", store.FoldName("ŁUKASZ Größe"))
	require.Equal(t, []string{"mamadou", "diallo"}, store.NameTokens("Mamadou DIALLO mamadou"))
	for in, want := range map[string]string{"+224 621 23 45 67": "+224621234567", "00224-621.234.567": "+224621234567",
		"(+49) 30/1234567": "+49301234567"} {
		got, ok := store.NormalisePhone(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := store.NormalisePhone("0621234567")
	require.False(t, ok, "not E.164")
	require.Equal(t, "R0012345", store.NormaliseDocumentNumber("r-001 2345"))
}

func TestSearchByBlindIndexesWithinOffices(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		beneficiary := `{"given_name":"Aïssatou","family_name":"Diallo","phone":"+224 620 000 001","travel_document":{"number":"r001-2345","expiry":"2030-01-01"}}`
		household := `[{"given_name":"Mamadou","relationship":"child"}]`
		c.Beneficiary, c.Household = beneficiary, household
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		other := newCase("SN")
		other.SendingOffice, other.ReceivingOffice = "DE-BER", "SN-DKR"
		other.Beneficiary = `{"given_name":"Fatou","family_name":"Diallo"}`
		require.NoError(t, s.CreateCase(ctx, other, nil, started))

		db, err := s.SQL()
		require.NoError(t, err)
		var raw string
		require.NoError(t, db.QueryRow("SELECT MIN(hash) FROM case_search_terms").Scan(&raw))
		require.Len(t, raw, 64, "hashes, not values")
		// What a bulk load writes (SearchTerms) is what registration wrote.
		rows, err := db.Query(store.Rebind(s.Driver(), "SELECT case_id, kind, hash, case_seq FROM case_search_terms WHERE case_id = ?"), c.ID)
		require.NoError(t, err)
		var written []store.SearchTerm
		for rows.Next() {
			var term store.SearchTerm
			require.NoError(t, rows.Scan(&term.CaseID, &term.Kind, &term.Hash, &term.CaseSeq))
			written = append(written, term)
		}
		require.NoError(t, rows.Err())
		require.Len(t, written, 7, "2 names of each person, their full names, the phone, the document")
		require.ElementsMatch(t, written, s.SearchTerms(c.ID, c.Seq, beneficiary, household))

		ids := func(f store.Filter, q store.SearchQuery) []string {
			f.Limit = 50
			p, err := s.SearchCases(ctx, f, q)
			require.NoError(t, err)
			var out []string
			for _, c := range p.Cases {
				out = append(out, c.ID)
			}
			return out
		}
		all := store.Filter{}
		require.ElementsMatch(t, []string{c.ID, other.ID}, ids(all, store.SearchQuery{NameTokens: []string{"diallo"}}))
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{NameTokens: store.NameTokens("DIALLO aissatou")}))
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{NameTokens: []string{"mamadou"}}), "household members too")
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{Phone: "+224620000001"}))
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{DocumentNumber: "R0012345"}))
		require.Empty(t, ids(all, store.SearchQuery{NameTokens: []string{"diallo"}, Phone: "+224620000002"}), "every part must match")
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{ReferencePrefix: c.Reference}))
		require.Equal(t, []string{c.ID}, ids(store.Filter{Offices: []string{"GN-CKY"}}, store.SearchQuery{NameTokens: []string{"diallo"}}),
			"office-scoped")

		// A case registered before search existed has no terms until the backfill.
		_, err = db.Exec("DELETE FROM case_search_terms WHERE case_id = $1", c.ID)
		require.NoError(t, err)
		require.Empty(t, ids(all, store.SearchQuery{Phone: "+224620000001"}))
		n, err := s.BackfillSearchTerms(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{c.ID}, ids(all, store.SearchQuery{Phone: "+224620000001"}))
		n, err = s.BackfillSearchTerms(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestAnonymisingErasesNotesDocumentsAndSearchTerms(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		c.Beneficiary = `{"given_name":"Aminata","family_name":"Camara","phone":"+224621234567"}`
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		audit := store.AuditEntry{At: time.Now().UTC(), ActorUser: "caseworker-de", ActorRole: "caseworker", Part: "notes"}
		require.NoError(t, s.AddNote(ctx, store.Note{ID: uuid.NewString(), CaseID: c.ID, AuthorUser: "caseworker-de",
			AuthorRole: "caseworker", At: time.Now().UTC(), Text: "about Aminata"}, audit))
		require.NoError(t, s.AddDocument(ctx, &store.Document{ID: uuid.NewString(), CaseID: c.ID, Kind: "consent",
			Filename: "a.pdf", ContentType: "application/pdf", UploadedBy: "caseworker-de", UploadedRole: "caseworker",
			UploadedAt: time.Now().UTC()}, []byte("%PDF-1.7"), audit))
		db, err := s.SQL()
		require.NoError(t, err)
		_, err = db.Exec("UPDATE cases SET status = 'closed', closed_at = $1 WHERE id = $2", time.Now().UTC().Add(-time.Hour), c.ID)
		require.NoError(t, err)

		n, err := s.AnonymiseClosedBefore(ctx, time.Now().UTC(), 10, store.AuditEntry{ActorUser: "retention", ActorRole: "system"})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		for _, table := range []string{"case_notes", "case_documents", "case_search_terms"} {
			var left int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table+" WHERE case_id = $1", c.ID).Scan(&left))
			require.Zero(t, left, table)
		}
		n, err = s.BackfillSearchTerms(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "an anonymised case gets no terms back")
	})
}

// A case is searchable from its registration on, before its workflow is known
// to have started.
func TestARegistrationIsSearchableBeforeItsStart(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		c.Beneficiary = `{"given_name":"Aminata","family_name":"Camara"}`
		err := s.CreateCase(ctx, c, nil, func(context.Context, *store.Case) (string, error) {
			return "", errors.New("temporal unavailable")
		})
		require.ErrorIs(t, err, store.ErrStartPending)
		p, err := s.SearchCases(ctx, store.Filter{Limit: 10}, store.SearchQuery{NameTokens: []string{"camara"}})
		require.NoError(t, err)
		require.Len(t, p.Cases, 1)
		require.Empty(t, p.Cases[0].RunID)
	})
}

// A remembered answer can hold a case's personal data: it is sealed at rest, and
// one stored before sealing began still answers.
func TestRememberedAnswersAreSealed(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		body := `{"text":"Aminata called about her daughter"}`
		require.NoError(t, s.RememberResponse(ctx, store.IdempotentRequest{Key: "k1", Fingerprint: "f", Status: 201,
			Body: body, CreatedAt: time.Now().UTC()}))
		got, err := s.RememberedResponse(ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, body, got.Body)
		db, err := s.SQL()
		require.NoError(t, err)
		var raw string
		require.NoError(t, db.QueryRow("SELECT body FROM idempotent_requests WHERE key = 'k1'").Scan(&raw))
		require.NotContains(t, raw, "Aminata")
		_, err = db.Exec("INSERT INTO idempotent_requests (key, fingerprint, status, body, created_at) VALUES ('k0', 'f', 200, '{\"old\":1}', CURRENT_TIMESTAMP)")
		require.NoError(t, err)
		old, err := s.RememberedResponse(ctx, "k0")
		require.NoError(t, err)
		require.Equal(t, `{"old":1}`, old.Body)
	})
}

// What a person wrote with an action (the workflow's event text) is sealed in the
// timeline's row, opened by Timeline, kept once per event key, and erased when the
// case is anonymised (the line stays).
func TestTimelineTextIsSealedAndErasedOnAnonymisation(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		s = sealed(t, s)
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		at := time.Now().UTC().Truncate(time.Millisecond)
		actor := contract.Actor{User: "caseworker-de", Role: contract.RoleCaseworker}
		ch := contract.Changes{CaseID: c.ID, WrittenIn: 10, State: contract.CaseState{Seq: 2, Stage: contract.StageCounselling,
			Status: contract.StatusActive, StageEnteredAt: at,
			Plan: &contract.PlanState{Decisions: []contract.DecisionLog{{Comment: "Aminata's plan is fine"}}}},
			Events: []contract.Event{
				{Key: c.ID + "/1", Type: "stage", Actor: actor, Summary: "Counselling", At: at},
				{Key: c.ID + "/2", Type: "counselling", Actor: actor, Summary: "Counselling held: confirmed", At: at,
					Text: "Aminata confirmed; her brother in Kankan"}}}
		require.NoError(t, s.RecordChanges(ctx, ch))
		require.NoError(t, s.RecordChanges(ctx, ch), "a retried write")
		evs, err := s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Empty(t, evs[0].Text)
		require.Equal(t, "Aminata confirmed; her brother in Kankan", evs[1].Text)

		db, err := s.SQL()
		require.NoError(t, err)
		var raw string
		require.NoError(t, db.QueryRow("SELECT text FROM timeline_events WHERE type = 'counselling' AND case_id = $1", c.ID).Scan(&raw))
		require.NotContains(t, raw, "Aminata")
		require.True(t, strings.HasPrefix(raw, "enc:"), "sealed")

		_, err = db.Exec("UPDATE cases SET status = 'closed', closed_at = $1 WHERE id = $2", at.Add(-time.Hour), c.ID)
		require.NoError(t, err)
		n, err := s.AnonymiseClosedBefore(ctx, time.Now().UTC(), 10, store.AuditEntry{ActorUser: "retention", ActorRole: "system"})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		evs, err = s.Timeline(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, evs, 2, "the lines stay")
		require.Empty(t, evs[1].Text, "the text is erased")
		got, err := s.CaseByID(ctx, c.ID)
		require.NoError(t, err)
		require.NotContains(t, got.State, "Aminata", "nor the approvers' comments in the state")
	})
}
