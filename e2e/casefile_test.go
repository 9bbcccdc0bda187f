package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/stack"
	"github.com/homeward/homeward/worker"
)

// casefileConfig adds a caseworker of an office that is neither side of the
// test cases, to show what stays hidden from other offices.
func casefileConfig(t *testing.T, driver string) config.Config {
	cfg := testConfig(t, driver)
	cfg.Auth.Tokens = append(cfg.Auth.Tokens,
		config.Token{Token: "dev-caseworker-sn", User: "caseworker-sn", Role: "caseworker", Office: "SN-DKR"},
		config.Token{Token: "dev-caseworker-de-2", User: "caseworker-de-2", Role: "caseworker", Office: "DE-BER"})
	return cfg
}

// auditOf returns a case's audit trail as "user part:action" lines.
func (h *homeward) cfAuditOf(id string) []string {
	h.t.Helper()
	r := h.call("GET", "/api/v1/cases/"+id+"/audit", "dev-manager", nil)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	var out []string
	for _, e := range list(r.JSON(h.t)["items"]) {
		out = append(out, e["actor"].(map[string]any)["user"].(string)+" "+e["part"].(string)+":"+e["action"].(string))
	}
	return out
}

func (h *homeward) cfTimeline(id string) map[string]map[string]any {
	h.t.Helper()
	r := h.call("GET", "/api/v1/cases/"+id+"/timeline", "dev-manager", nil)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	out := map[string]map[string]any{}
	for _, e := range list(r.JSON(h.t)["items"]) {
		out[e["type"].(string)] = e
	}
	return out
}

// Notes: whoever may see the case writes and reads them, oldest first; each
// limit answers 422; the text is sealed in the raw row; the timeline says a
// note was added (without its text); reads and writes are audited.
func TestCaseNotes(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id := h.register()
		path := "/api/v1/cases/" + id + "/notes"
		const secret = "Spoke with Aminata about her brother in Kankan"

		r := h.call("POST", path, "dev-caseworker", map[string]any{"text": secret})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		first := r.JSON(t)
		require.Equal(t, secret, first["text"])
		require.Equal(t, map[string]any{"user": "caseworker-de", "role": "caseworker"}, first["author"])
		require.NotEmpty(t, first["id"])

		long := strings.Repeat("é", 4000) // characters, not bytes
		r = h.call("POST", path, "dev-caseworker-gn", map[string]any{"text": long})
		require.Equal(t, http.StatusCreated, r.Status, "4,000 characters are allowed: %s", r.Body)
		r = h.call("POST", path, "dev-manager", map[string]any{"text": "third"}, "Idempotency-Key", "n-3")
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		again := h.call("POST", path, "dev-manager", map[string]any{"text": "third"}, "Idempotency-Key", "n-3")
		require.Equal(t, http.StatusCreated, again.Status, string(again.Body))
		require.Equal(t, r.JSON(t)["id"], again.JSON(t)["id"], "a repeat with the same key adds nothing")
		require.Equal(t, http.StatusConflict, h.call("POST", path, "dev-manager", map[string]any{"text": "other"},
			"Idempotency-Key", "n-3").Status)

		for name, body := range map[string]any{"empty": map[string]any{"text": ""}, "blank": map[string]any{"text": "  \n "},
			"too long": map[string]any{"text": long + "x"}} {
			r := h.call("POST", path, "dev-caseworker", body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, name)
			require.Equal(t, "text", list(r.JSON(t)["errors"])[0]["field"], name)
		}
		require.Equal(t, http.StatusBadRequest, h.call("POST", path, "dev-caseworker", map[string]any{"text": "x", "extra": 1}).Status)
		require.Equal(t, http.StatusNotFound, h.call("POST", path, "dev-caseworker-sn", map[string]any{"text": "x"}).Status,
			"another office does not see the case")
		require.Equal(t, http.StatusNotFound, h.call("GET", path, "dev-caseworker-sn", nil).Status)
		require.Equal(t, http.StatusForbidden, h.call("POST", path, "dev-medical", map[string]any{"text": "x"}).Status)

		r = h.call("GET", path, "dev-caseworker-gn", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items := list(r.JSON(t)["items"])
		require.Len(t, items, 3)
		require.Equal(t, secret, items[0]["text"], "oldest first")
		require.Equal(t, long, items[1]["text"])
		require.Equal(t, "manager", items[2]["author"].(map[string]any)["user"])

		db, err := h.s.Store.SQL()
		require.NoError(t, err)
		rows, err := db.Query("SELECT text FROM case_notes")
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			var raw string
			require.NoError(t, rows.Scan(&raw))
			require.NotContains(t, raw, "Aminata")
			require.NotContains(t, raw, "third")
			require.True(t, strings.HasPrefix(raw, "enc:"), "sealed")
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 3, n)

		added := h.cfTimeline(id)["note_added"]
		require.NotNil(t, added, "the timeline says a note was added")
		require.NotContains(t, added["summary"], "Aminata")

		trail := h.cfAuditOf(id)
		require.Contains(t, trail, "caseworker-de notes:create")
		require.Contains(t, trail, "manager notes:create")
		require.Contains(t, trail, "caseworker-gn notes:read")
		require.NotContains(t, strings.Join(trail, ","), "caseworker-sn", "a refused read reads nothing")
	})
}

// multipartBody builds an upload with the given fields in order: kind, then
// the file under name with the declared type.
func multipartBody(t *testing.T, kind, name, declared string, content []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if kind != "" {
		require.NoError(t, w.WriteField("kind", kind))
	}
	if name != "" {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
		hdr.Set("Content-Type", declared)
		part, err := w.CreatePart(hdr)
		require.NoError(t, err)
		_, err = part.Write(content)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.Bytes(), w.FormDataContentType()
}

func (h *homeward) upload(id, token, kind, name, declared string, content []byte) response {
	h.t.Helper()
	body, ct := multipartBody(h.t, kind, name, declared, content)
	return h.call("POST", "/api/v1/cases/"+id+"/documents", token, body, "Content-Type", ct)
}

// Documents: uploaded by caseworkers and procurement, recognised by content
// (a disguised executable is refused), limited in size, encrypted at rest
// (ciphertext in the raw row, the file name sealed), downloaded byte for byte
// as an attachment by whoever may see the case, and audited.
func TestCaseDocuments(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id, other := h.register(), h.register()
		path := "/api/v1/cases/" + id + "/documents"

		const marker = "CONSENT-OF-AMINATA-CAMARA"
		pdf := []byte("%PDF-1.7\n1 0 obj <<>> endobj\n% " + marker + "\n%%EOF\n")
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 3}, 1000)...)

		body, ct := multipartBody(t, "consent", "Aminata Camara consent.pdf", "application/pdf", pdf)
		r := h.call("POST", path, "dev-caseworker", body, "Content-Type", ct, "Idempotency-Key", "d-1")
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		doc := r.JSON(t)
		body, ct = multipartBody(t, "consent", "Aminata Camara consent.pdf", "application/pdf", pdf) // another boundary
		again := h.call("POST", path, "dev-caseworker", body, "Content-Type", ct, "Idempotency-Key", "d-1")
		require.Equal(t, doc["id"], again.JSON(t)["id"], "a repeat with the same key stores nothing")
		sum := sha256.Sum256(pdf)
		require.Equal(t, "consent", doc["kind"])
		require.Equal(t, "Aminata Camara consent.pdf", doc["filename"])
		require.Equal(t, "application/pdf", doc["content_type"])
		require.Equal(t, float64(len(pdf)), doc["size"])
		require.Equal(t, hex.EncodeToString(sum[:]), doc["sha256"])
		require.Equal(t, map[string]any{"user": "caseworker-de", "role": "caseworker"}, doc["uploaded_by"])

		// Declared as text, named .txt: it is a PNG by its content.
		r = h.upload(id, "dev-procurement", "receipt", "receipt.txt", "text/plain", png)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		receipt := r.JSON(t)
		require.Equal(t, "image/png", receipt["content_type"])

		elf := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0x90}, 100)...)
		r = h.upload(id, "dev-caseworker", "consent", "scan.pdf", "application/pdf", elf)
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "an executable named .pdf: %s", r.Body)
		r = h.upload(id, "dev-caseworker", "passport", "p.pdf", "application/pdf", pdf)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
		require.Equal(t, "kind", list(r.JSON(t)["errors"])[0]["field"])
		r = h.upload(id, "dev-caseworker", "consent", "", "", nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "no file: %s", r.Body)
		big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 10<<20)...)
		r = h.upload(id, "dev-caseworker", "other", "big.pdf", "application/pdf", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Body))
		r = h.call("POST", path, "dev-caseworker", map[string]any{"kind": "consent"})
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "JSON is not an upload")
		require.Equal(t, http.StatusForbidden, h.upload(id, "dev-approver", "consent", "a.pdf", "application/pdf", pdf).Status)
		require.Equal(t, http.StatusNotFound, h.upload(id, "dev-caseworker-sn", "consent", "a.pdf", "application/pdf", pdf).Status)

		r = h.call("GET", path, "dev-caseworker-gn", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items := list(r.JSON(t)["items"])
		require.Len(t, items, 2, "only the accepted uploads")
		require.Equal(t, doc["id"], items[0]["id"])

		for _, want := range []struct {
			meta    map[string]any
			content []byte
		}{{doc, pdf}, {receipt, png}} {
			r = h.call("GET", path+"/"+want.meta["id"].(string), "dev-manager", nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			require.Equal(t, want.content, r.Body, "byte for byte")
			require.Equal(t, want.meta["content_type"], r.Header.Get("Content-Type"))
			require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			_, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment"))
			require.Equal(t, want.meta["filename"], params["filename"])
		}
		docPath := path + "/" + doc["id"].(string)
		require.Equal(t, http.StatusNotFound, h.call("GET", docPath, "dev-caseworker-sn", nil).Status, "another office")
		require.Equal(t, http.StatusNotFound, h.call("GET", path, "dev-caseworker-sn", nil).Status)
		require.Equal(t, http.StatusNotFound,
			h.call("GET", "/api/v1/cases/"+other+"/documents/"+doc["id"].(string), "dev-caseworker", nil).Status,
			"a document is found only under its own case")

		db, err := h.s.Store.SQL()
		require.NoError(t, err)
		var content []byte
		var filename, key, digest string
		require.NoError(t, db.QueryRow("SELECT content, filename, data_key, sha256 FROM case_documents WHERE kind = 'consent'").
			Scan(&content, &filename, &key, &digest))
		require.NotContains(t, string(content), marker, "ciphertext at rest")
		require.NotContains(t, string(content), "%PDF")
		require.NotContains(t, filename, "Aminata")
		require.True(t, strings.HasPrefix(key, "enc:"), "the data key is sealed under the key ring")
		require.NotEqual(t, doc["sha256"], digest)

		tl := h.cfTimeline(id)
		require.Equal(t, "Document added: receipt", tl["document_added"]["summary"], "the last upload, without its file name")
		require.NotNil(t, tl["document_downloaded"])
		trail := h.cfAuditOf(id)
		require.Contains(t, trail, "caseworker-de documents:create")
		require.Contains(t, trail, "procurement-gn documents:create")
		require.Contains(t, trail, "manager documents:read")
		require.Contains(t, trail, "caseworker-gn documents:list")
	})
}

// person is a registration of a named person, with a phone and a passport.
func person(given, family, phone, doc, sending, receiving, country string) map[string]any {
	r := registration()
	b := r["beneficiary"].(map[string]any)
	b["given_name"], b["family_name"], b["phone"] = given, family, phone
	b["travel_document"] = map[string]any{"number": doc, "expiry": "2030-01-01"}
	r["sending_office"], r["receiving_office"], r["country_of_return"] = sending, receiving, country
	return r
}

func (h *homeward) search(token string, body map[string]any) []string {
	h.t.Helper()
	r := h.call("POST", "/api/v1/cases/search", token, body)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	var refs []string
	for _, c := range list(r.JSON(h.t)["items"]) {
		refs = append(refs, c["reference"].(string))
	}
	return refs
}

// Search finds a case by each field, folded (case, accents, apostrophes,
// spacing, separators), never across offices, audits each search without its
// terms, and keeps the terms out of the logs. A second registration of the
// same person names the earlier case to whoever may see it, and is audited.
func TestSearchAndDuplicates(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		logs := &syncBuffer{}
		h := startWith(t, stack.Options{Config: casefileConfig(t, driver), Temporal: temporalClient(),
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		reg := func(token string, body map[string]any) string {
			r := h.call("POST", "/api/v1/cases", token, body)
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			return r.JSON(t)["reference"].(string)
		}
		gn := reg("dev-caseworker", person("Aïssatou", "N'Diaye  Bâ", "+224620000111", "R0012345", "DE-BER", "GN-CKY", "GN"))
		sn := reg("dev-caseworker", person("Fatou", "NDIAYE", "+221770000222", "SN-77 001", "DE-BER", "SN-DKR", "SN"))

		require.Equal(t, []string{gn}, h.search("dev-caseworker", map[string]any{"name": "aissatou ndiaye"}))
		require.Equal(t, []string{gn}, h.search("dev-caseworker", map[string]any{"name": "BA  n’diaye AÏSSATOU"}))
		require.Equal(t, []string{sn, gn}, h.search("dev-caseworker", map[string]any{"name": "Ndiaye"}), "newest first")
		require.Equal(t, []string{gn}, h.search("dev-caseworker-gn", map[string]any{"name": "Ndiaye"}), "never across offices")
		require.Empty(t, h.search("dev-caseworker-sn", map[string]any{"name": "aissatou"}))
		require.Equal(t, []string{sn}, h.search("dev-caseworker-sn", map[string]any{"name": "fatou"}))
		require.Empty(t, h.search("dev-approver-gn", map[string]any{"name": "Ndiaye"}), "approvers: cases waiting on them")
		require.Equal(t, []string{gn}, h.search("dev-caseworker", map[string]any{"phone": "00224 620-000-111"}))
		require.Equal(t, []string{sn}, h.search("dev-caseworker", map[string]any{"document_number": "sn77001"}))
		require.Equal(t, []string{gn}, h.search("dev-caseworker", map[string]any{"reference": strings.ToLower(gn)}))
		require.ElementsMatch(t, []string{gn, sn}, h.search("dev-manager", map[string]any{"reference": "hw-"}), "a prefix")
		require.Empty(t, h.search("dev-caseworker", map[string]any{"name": "aissatou", "phone": "+221770000222"}),
			"every part must match")
		require.Empty(t, h.search("dev-caseworker", map[string]any{"name": "aissat"}), "whole words only")

		for _, bad := range []map[string]any{{}, {"phone": "0621"}, {"name": "!!"}, {"reference": "HW%"}} {
			require.Equal(t, http.StatusUnprocessableEntity, h.call("POST", "/api/v1/cases/search", "dev-caseworker", bad).Status, bad)
		}
		require.Equal(t, http.StatusBadRequest, h.call("POST", "/api/v1/cases/search", "dev-caseworker",
			map[string]any{"surname": "x"}).Status)
		require.Equal(t, http.StatusForbidden, h.call("POST", "/api/v1/cases/search", "dev-medical",
			map[string]any{"name": "x"}).Status)

		db, err := h.s.Store.SQL()
		require.NoError(t, err)
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM audit_log WHERE part = 'search' AND action = 'search'").Scan(&n))
		require.Equal(t, 13, n, "every search that ran is audited")
		var detail string
		require.NoError(t, db.QueryRow("SELECT detail FROM audit_log WHERE part = 'search' AND action = 'search' "+
			"AND actor_user = 'caseworker-gn'").Scan(&detail))
		require.Equal(t, "hits=1", detail)
		var gnID string
		require.NoError(t, db.QueryRow("SELECT id FROM cases WHERE reference = $1", gn).Scan(&gnID))
		require.Contains(t, h.cfAuditOf(gnID), "caseworker-gn search:found")

		// The same person again: 409 naming the earlier case to a caseworker who
		// may see it; to one who may not, the conflict alone.
		again := h.call("POST", "/api/v1/cases", "dev-caseworker",
			person("Aïssatou", "N'Diaye  Bâ", "+224620000111", "R0012345", "DE-BER", "GN-CKY", "GN"))
		require.Equal(t, http.StatusConflict, again.Status, string(again.Body))
		require.Equal(t, gn, again.JSON(t)["existing_case"].(map[string]any)["reference"])
		require.Contains(t, again.JSON(t)["detail"], gn)
		hidden := h.call("POST", "/api/v1/cases", "dev-caseworker-sn",
			person("Aïssatou", "N'Diaye  Bâ", "+224620000111", "R0012345", "SN-DKR", "GN-CKY", "GN"))
		require.Equal(t, http.StatusConflict, hidden.Status, string(hidden.Body))
		require.NotContains(t, hidden.JSON(t), "existing_case")
		require.NotContains(t, string(hidden.Body), gn)
		trail := h.cfAuditOf(gnID)
		require.Contains(t, trail, "caseworker-de registration:refused_duplicate")
		require.Contains(t, trail, "caseworker-sn registration:refused_duplicate")

		for _, term := range []string{"aissatou", "Aïssatou", "ndiaye", "NDIAYE", "620000111", "sn77001", "R0012345"} {
			require.NotContains(t, logs.String(), term, "search terms are never logged")
		}
		var audited string
		require.NoError(t, db.QueryRow("SELECT COALESCE(STRING_AGG(part || action || detail, ','), '') FROM audit_log").Scan(&audited))
		require.NotContains(t, strings.ToLower(audited), "ndiaye")
	})
}

func (h *homeward) ids(path, token string) []string {
	h.t.Helper()
	r := h.call("GET", path, token, nil)
	require.Equal(h.t, http.StatusOK, r.Status, string(r.Body))
	var out []string
	for _, c := range list(r.JSON(h.t)["items"]) {
		out = append(out, c["id"].(string))
	}
	return out
}

// Ownership: a caseworker takes an unassigned case of their office, an approver
// of the office reassigns it, a manager assigns anywhere; the case, the list
// and the inbox show it (mine first), and a reassigned case moves inboxes.
func TestCaseOwnership(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		// id is the case due later (the workflows enter counselling in either order).
		older, id := h.register(), h.register()
		dueOlder := h.waitCase(older, "counselling", stageIs("Counselling"))["stage_due_at"].(string)
		dueID := h.waitCase(id, "counselling", stageIs("Counselling"))["stage_due_at"].(string)
		if tOlder, tID := mustTime(t, dueOlder), mustTime(t, dueID); tID.Before(tOlder) {
			older, id = id, older
		}
		path := "/api/v1/cases/" + id + "/owner"
		put := func(token, office, user string) response {
			return h.call("PUT", path, token, map[string]any{"office": office, "user": user})
		}

		r := put("dev-caseworker", "DE-BER", "caseworker-de")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Equal(t, map[string]any{"DE-BER": "caseworker-de"}, r.JSON(t)["owners"])
		// The new owner is told (the simulated notification service counts it).
		h.eventually("the owner's notification", 30*time.Second, func() bool {
			return h.s.Simulator.Counts().Notifications["assigned"] == 1
		})
		require.Equal(t, http.StatusConflict, put("dev-caseworker-de-2", "DE-BER", "caseworker-de-2").Status, "already owned")
		require.Equal(t, http.StatusForbidden, put("dev-caseworker-de-2", "DE-BER", "caseworker-de").Status, "only themselves")
		require.Equal(t, http.StatusForbidden, put("dev-caseworker-gn", "DE-BER", "caseworker-gn").Status, "only their office")
		require.Equal(t, http.StatusForbidden, put("dev-approver-gn", "DE-BER", "caseworker-de-2").Status, "only their office")
		require.Equal(t, http.StatusForbidden, put("dev-procurement", "GN-CKY", "procurement-gn").Status)
		require.Equal(t, http.StatusNotFound, put("dev-caseworker-sn", "SN-DKR", "caseworker-sn").Status)
		require.Equal(t, http.StatusUnprocessableEntity, put("dev-manager", "SN-DKR", "caseworker-sn").Status, "not the case's office")
		require.Equal(t, http.StatusUnprocessableEntity, put("dev-manager", "DE-BER", "bad user!").Status)

		require.Contains(t, h.ids("/api/v1/tasks?owner=me", "dev-caseworker"), id)
		require.NotContains(t, h.ids("/api/v1/cases?owner=none", "dev-caseworker"), id)
		require.Contains(t, h.ids("/api/v1/cases?owner=none", "dev-caseworker"), older)
		require.Contains(t, h.ids("/api/v1/cases?owner=none", "dev-caseworker-gn"), id, "no owner at the receiving office yet")

		// The supervisor (approver of the office) reassigns; the case moves inboxes.
		r = put("dev-approver", "DE-BER", "caseworker-de-2")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.NotContains(t, h.ids("/api/v1/tasks?owner=me", "dev-caseworker"), id)
		require.Equal(t, []string{id}, h.ids("/api/v1/tasks?owner=me", "dev-caseworker-de-2"))
		require.Equal(t, []string{id}, h.ids("/api/v1/cases?owner=caseworker-de-2", "dev-caseworker"))
		inbox := h.ids("/api/v1/tasks", "dev-caseworker-de-2")
		require.Equal(t, id, inbox[0], "mine first, though due later")
		require.Contains(t, inbox, older)
		require.Equal(t, older, h.ids("/api/v1/tasks", "dev-caseworker")[0], "the oldest due first for the others")

		r = put("dev-manager", "GN-CKY", "caseworker-gn")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		c := h.call("GET", "/api/v1/cases/"+id, "dev-caseworker", nil).JSON(t)
		require.Equal(t, map[string]any{"DE-BER": "caseworker-de-2", "GN-CKY": "caseworker-gn"}, c["owners"])
		listed := list(h.call("GET", "/api/v1/cases?owner=me", "dev-caseworker-gn", nil).JSON(t)["items"])
		require.Len(t, listed, 1)
		require.Equal(t, c["owners"], listed[0]["owners"])

		require.Equal(t, http.StatusUnprocessableEntity, h.call("GET", "/api/v1/cases?owner=a%20b", "dev-caseworker", nil).Status)
		require.Equal(t, http.StatusUnprocessableEntity, h.call("GET", "/api/v1/tasks?owner=a%20b", "dev-caseworker", nil).Status)
		require.Equal(t, "Owner at GN-CKY: caseworker-gn", h.cfTimeline(id)["owner_assigned"]["summary"])
		require.Contains(t, h.cfAuditOf(id), "approver-de owners:assign")
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

// Corrections: a merge patch onto the registration, validated as a
// registration; the identity key and the search indexes follow; the timeline
// and the audit trail name fields, not values.
func TestCorrectingACase(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		original := person("Aminata", "Camara Correction", "+224620000111", "R0099", "DE-BER", "GN-CKY", "GN")
		r := h.call("POST", "/api/v1/cases", "dev-caseworker", original)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		id, ref := r.JSON(t)["id"].(string), r.JSON(t)["reference"].(string)
		patch := func(token string, body any, headers ...string) response {
			b, ok := body.(string)
			if !ok {
				j, err := json.Marshal(body)
				require.NoError(t, err)
				b = string(j)
			}
			return h.call("PATCH", "/api/v1/cases/"+id, token, b,
				append([]string{"Content-Type", "application/merge-patch+json"}, headers...)...)
		}

		r = patch("dev-caseworker", map[string]any{"beneficiary": map[string]any{"family_name": "Kamara Corrigée",
			"phone": "+224620000333"}, "area_of_return": map[string]any{"district": "Kouroussa"}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		c := r.JSON(t)
		b := c["beneficiary"].(map[string]any)
		require.Equal(t, "Kamara Corrigée", b["family_name"])
		require.Equal(t, "Aminata", b["given_name"], "merged, not replaced")
		require.Equal(t, "R0099", b["travel_document"].(map[string]any)["number"])
		require.Equal(t, map[string]any{"region": "Kankan", "district": "Kouroussa"}, c["area_of_return"])
		require.Equal(t, "Kamara Corrigée", h.call("GET", "/api/v1/cases/"+id, "dev-caseworker-gn", nil).
			JSON(t)["beneficiary"].(map[string]any)["family_name"])

		// The search indexes follow.
		require.Equal(t, []string{ref}, h.search("dev-caseworker", map[string]any{"name": "kamara corrigee"}))
		require.Empty(t, h.search("dev-caseworker", map[string]any{"name": "correction"}))
		require.Equal(t, []string{ref}, h.search("dev-caseworker", map[string]any{"phone": "+224620000333"}))
		require.Empty(t, h.search("dev-caseworker", map[string]any{"phone": "+224620000111"}))
		// So does the identity key: the old identity is free, the new one taken.
		again := h.call("POST", "/api/v1/cases", "dev-caseworker",
			person("Aminata", "Kamara Corrigée", "+224620000444", "R1", "DE-BER", "GN-CKY", "GN"))
		require.Equal(t, http.StatusConflict, again.Status, string(again.Body))
		require.Equal(t, ref, again.JSON(t)["existing_case"].(map[string]any)["reference"])
		require.Equal(t, http.StatusCreated, h.call("POST", "/api/v1/cases", "dev-caseworker", original).Status)

		// A fix that leaves the household's make-up alone is a case-file change.
		r = patch("dev-caseworker", map[string]any{"household": []any{map[string]any{"given_name": "Mariam",
			"relationship": "child", "date_of_birth": "2016-02-11"}}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		// Invalid results, unknown fields, the wrong type, role and office.
		for name, tc := range map[string]struct {
			body   any
			status int
			field  string
		}{
			"bad phone":        {map[string]any{"beneficiary": map[string]any{"phone": "0620"}}, 422, "beneficiary.phone"},
			"future birth":     {map[string]any{"beneficiary": map[string]any{"date_of_birth": "2999-01-01"}}, 422, "beneficiary.date_of_birth"},
			"no given name":    {map[string]any{"beneficiary": map[string]any{"given_name": nil}}, 422, "beneficiary.given_name"},
			"bad relationship": {map[string]any{"household": []any{map[string]any{"given_name": "M", "relationship": "cousin", "date_of_birth": "2016-02-11"}}}, 422, "household[0].relationship"},
			"programme":        {map[string]any{"programme": "other"}, 400, "programme"},
			"unknown nested":   {map[string]any{"beneficiary": map[string]any{"nickname": "x"}}, 400, "nickname"},
			"wrong type":       {map[string]any{"vulnerabilities": "health_needs"}, 400, ""},
			"not an object":    {"[1]", 400, ""},
		} {
			r := patch("dev-caseworker", tc.body)
			require.Equal(t, tc.status, r.Status, "%s: %s", name, r.Body)
			if tc.field != "" {
				require.Equal(t, tc.field, list(r.JSON(t)["errors"])[0]["field"], name)
			}
		}
		r = h.call("PATCH", "/api/v1/cases/"+id, "dev-caseworker", map[string]any{"area_of_return": map[string]any{"district": "X"}})
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "plain JSON is not a merge patch")
		require.Equal(t, http.StatusForbidden, patch("dev-approver", map[string]any{"area_of_return": map[string]any{"district": "X"}}).Status)
		require.Equal(t, http.StatusNotFound, patch("dev-caseworker-sn", map[string]any{"area_of_return": map[string]any{"district": "X"}}).Status)

		c = h.call("GET", "/api/v1/cases/"+id, "dev-caseworker", nil).JSON(t)
		require.Equal(t, "Kouroussa", c["area_of_return"].(map[string]any)["district"], "refused patches changed nothing")
		require.Len(t, c["household"], 1)

		corrected := h.cfTimeline(id)["corrected"]
		require.Equal(t, "Data corrected: household", corrected["summary"])
		require.Contains(t, h.cfAuditOf(id), "caseworker-de personal_data:correct")
		var shown []string
		for _, e := range list(h.call("GET", "/api/v1/cases/"+id+"/audit", "dev-manager", nil).JSON(t)["items"]) {
			if e["action"] == "correct" {
				shown = append(shown, e["detail"].(string))
			}
		}
		require.Equal(t, []string{"fields=area_of_return.district,beneficiary.family_name,beneficiary.phone", "fields=household"}, shown,
			"managers read which fields were corrected, oldest first")
		db, err := h.s.Store.SQL()
		require.NoError(t, err)
		var details, raw, summaries string
		require.NoError(t, db.QueryRow("SELECT COALESCE(STRING_AGG(detail, ';'), '') FROM audit_log WHERE action = 'correct'").Scan(&details))
		require.Contains(t, details, "beneficiary.family_name")
		require.Contains(t, details, "area_of_return.district")
		require.NotContains(t, details, "Kamara")
		require.NoError(t, db.QueryRow("SELECT COALESCE(STRING_AGG(summary, ';'), '') FROM timeline_events WHERE type = 'corrected'").Scan(&summaries))
		require.NotContains(t, summaries, "Kamara")
		require.NoError(t, db.QueryRow("SELECT beneficiary FROM cases WHERE id = $1", id).Scan(&raw))
		require.NotContains(t, raw, "Kamara", "still sealed")
	})
}

// A correction of what the workflow decides with goes through the workflow: an
// adult added to the household raises the cap a plan is held to; the workflow
// refuses a change of the household's size once the plan is approved.
func TestACorrectionChangesTheCapsThroughTheWorkflow(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id := h.register() // an adult and a child: REAG-GARP's cap is 1,000 + 500
		patch := func(body map[string]any) response {
			j, err := json.Marshal(body)
			require.NoError(t, err)
			return h.call("PATCH", "/api/v1/cases/"+id, "dev-caseworker-gn", string(j), "Content-Type", "application/merge-patch+json")
		}
		household := func(extra ...map[string]any) map[string]any {
			hh := []any{map[string]any{"given_name": "Mariama", "relationship": "child", "date_of_birth": "2016-02-11"}}
			for _, m := range extra {
				hh = append(hh, m)
			}
			return map[string]any{"household": hh}
		}
		spouse := map[string]any{"given_name": "Sekou", "relationship": "spouse", "date_of_birth": "1985-01-01"}
		h.counsel(id, "confirmed")
		h.screen(id, "low")
		h.depart(id)
		h.waitCase(id, "planning", stageIs("ReintegrationPlanning"))
		plan := map[string]any{"items": []any{cost("cash", "2000.00")}}
		r := h.call("POST", "/api/v1/cases/"+id+"/plan", "dev-caseworker-gn", plan)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "over the cap of 1,500: %s", r.Body)

		r = patch(household(spouse))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Len(t, r.JSON(t)["household"], 2)
		h.accept("POST", "/api/v1/cases/"+id+"/plan", "dev-caseworker-gn", plan) // the cap is 2,500 now
		require.NotNil(t, h.cfTimeline(id)["process_corrected"], "the workflow recorded it")

		// Vulnerability follows too (the list's filter reads the case file).
		r = patch(map[string]any{"vulnerabilities": []any{}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Contains(t, h.ids("/api/v1/cases?vulnerable=false", "dev-caseworker"), id)

		h.waitCase(id, "plan approval", stageIs("PlanApproval"))
		h.decide(id, "dev-approver-gn", "approve")
		h.waitCase(id, "the approved plan", func(c map[string]any) bool {
			p, _ := c["plan"].(map[string]any)
			return p != nil && p["status"] == "approved"
		})
		r = patch(household())
		require.Equal(t, http.StatusConflict, r.Status, "the plan was approved within the caps: %s", r.Body)
		c := h.call("GET", "/api/v1/cases/"+id, "dev-caseworker", nil).JSON(t)
		require.Len(t, c["household"], 2, "a refused correction writes nothing")
	})
}

// The canary, for the case file: a marker in a note, a document's name and
// bytes, the names searched for and a correction appears in no log line, no
// metric, no problem body, and not in the Temporal history as stored.
func TestCaseFileCanary(t *testing.T) {
	const marker = "Canary7e2b"
	lower := strings.ToLower(marker)
	logs := &syncBuffer{}
	h := startWith(t, stack.Options{Config: casefileConfig(t, "sqlite"), Temporal: temporalClient(),
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	r := h.call("POST", "/api/v1/cases", "dev-caseworker",
		person(marker+"Given", marker+"Family", "+224620000999", marker+"Doc", "DE-BER", "GN-CKY", "GN"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	base := "/api/v1/cases/" + id
	var problems []string
	expect := func(r response, status int) {
		t.Helper()
		require.Equal(t, status, r.Status, string(r.Body))
		if status >= 400 {
			problems = append(problems, string(r.Body))
		}
	}

	expect(h.call("POST", base+"/notes", "dev-caseworker", map[string]any{"text": marker + " told us about her son"}), 201)
	expect(h.call("POST", base+"/notes", "dev-caseworker", map[string]any{"text": marker + strings.Repeat("x", 4000)}), 422)
	expect(h.call("GET", base+"/notes", "dev-caseworker", nil), 200)
	pdf := []byte("%PDF-1.4 " + marker)
	up := h.upload(id, "dev-caseworker", "travel_document", marker+" passport.pdf", "application/pdf", pdf)
	expect(up, 201)
	expect(h.upload(id, "dev-caseworker", "travel_document", marker+".pdf", "application/pdf", []byte("MZ"+marker)), 415)
	expect(h.upload(id, "dev-caseworker", marker, marker+".pdf", "application/pdf", pdf), 422)
	expect(h.call("GET", base+"/documents", "dev-caseworker", nil), 200)
	expect(h.call("GET", base+"/documents/"+up.JSON(t)["id"].(string), "dev-caseworker", nil), 200)
	require.Len(t, h.search("dev-caseworker", map[string]any{"name": marker + "Given " + marker + "Family"}), 1)
	expect(h.call("POST", "/api/v1/cases/search", "dev-caseworker", map[string]any{"phone": marker}), 422)
	expect(h.call("POST", "/api/v1/cases/search", "dev-caseworker", map[string]any{"reference": marker + "%"}), 422)
	patch := func(body string) response {
		return h.call("PATCH", base, "dev-caseworker", body, "Content-Type", "application/merge-patch+json")
	}
	expect(patch(`{"beneficiary": {"family_name": "`+marker+`Corrected"}, "vulnerabilities": []}`), 200)
	expect(patch(`{"beneficiary": {"phone": "`+marker+`"}}`), 422)
	expect(patch(`{"beneficiary": {"date_of_birth": "`+marker+`"}}`), 422)
	expect(h.call("POST", "/api/v1/cases", "dev-caseworker",
		person(marker+"Given", marker+"Family", "+224620000999", marker+"Doc", "DE-BER", "GN-CKY", "GN")), 201)
	expect(h.call("POST", "/api/v1/cases", "dev-caseworker",
		person(marker+"Given", marker+"Family", "+224620000999", marker+"Doc", "DE-BER", "GN-CKY", "GN")), 409)

	// What people write with actions: notes, a transfer's reason, a refused one, a consent withdrawal.
	h.waitCase(id, "counselling", stageIs("Counselling"))
	expect(h.call("POST", base+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now(),
		"notes": marker + " has a brother"}), 200)
	expect(h.call("POST", base+"/transfer", "dev-approver", map[string]any{"receiving_office": "SN-DKR",
		"area_of_return": map[string]any{"region": marker + "Region"}, "reason": marker + strings.Repeat("x", 4000)}), 422)
	expect(h.call("POST", base+"/transfer", "dev-approver", map[string]any{"receiving_office": "SN-DKR",
		"area_of_return": map[string]any{"region": marker + "Region"}, "reason": marker + " moved"}), 200)
	expect(h.call("POST", base+"/consent", "dev-caseworker", map[string]any{"data_processing": false, "withdrawn_at": now()}), 200)
	tl := h.call("GET", base+"/timeline", "dev-caseworker", nil)
	expect(tl, 200)
	require.Contains(t, string(tl.Body), marker+" moved", "the control: the timeline shows it")

	metrics := h.call("GET", "/metrics", "", nil)
	require.NotEmpty(t, logs.String(), "the logs were captured")
	for where, text := range map[string]string{"logs": logs.String(), "metrics": string(metrics.Body),
		"problems": strings.Join(problems, "\n")} {
		require.NotContains(t, strings.ToLower(text), lower, where)
	}
	var raw []byte
	for _, run := range runs(t, "case-"+id) {
		b, err := protojson.Marshal(history(t, "case-"+id, run))
		require.NoError(t, err)
		raw = append(raw, b...)
	}
	require.NotContains(t, strings.ToLower(string(raw)), lower, "the Temporal history")
}

// What people write with their actions (counselling notes, a clearance's and a
// withdrawal's comment) is kept: in the timeline, to those who may see the case,
// sealed in the raw row; each free-text field answers 422 beyond 4,000 characters.
func TestWhatPeopleWriteIsKept(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id := h.register()
		base := "/api/v1/cases/" + id
		long := strings.Repeat("é", 4001)
		for path, body := range map[string]map[string]any{
			"/counselling": {"outcome": "confirmed", "held_at": now(), "notes": long},
			"/withdrawal":  {"reason": "withdrawn", "comment": long},
			"/monitoring": {"visit": 1, "visited_at": now(), "notes": long,
				"scores": map[string]any{"economic": 0.5, "social": 0.5, "psychosocial": 0.5}},
		} {
			r := h.call("POST", base+path, "dev-caseworker", body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", path, r.Body)
		}

		h.waitCase(id, "counselling", stageIs("Counselling"))
		h.accept("POST", base+"/counselling", "dev-caseworker", map[string]any{"outcome": "confirmed", "held_at": now(),
			"notes": "Aminata confirmed with an interpreter"})
		h.screen(id, "high")
		h.waitCase(id, "clearance", func(c map[string]any) bool { return c["waiting_on"] == "approver" })
		r := h.call("POST", base+"/screening/clearance", "dev-approver", map[string]any{"decision": "cleared", "comment": long})
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
		h.accept("POST", base+"/screening/clearance", "dev-approver", map[string]any{"decision": "cleared",
			"comment": "Aminata's mitigations are adequate"})
		h.accept("POST", base+"/withdrawal", "dev-caseworker", map[string]any{"reason": "withdrawn",
			"comment": "Aminata decided to stay with her sister"})

		tl := h.cfTimeline(id)
		require.Equal(t, "Aminata confirmed with an interpreter", tl["counselling"]["text"])
		require.Equal(t, "Aminata's mitigations are adequate", tl["clearance"]["text"])
		require.Equal(t, "Aminata decided to stay with her sister", tl["closed"]["text"])
		require.Nil(t, tl["registered"]["text"], "a line without text has none")
		r = h.call("GET", base+"/timeline", "dev-caseworker-gn", nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, string(r.Body), "decided to stay", "the receiving office sees it too")
		require.Equal(t, http.StatusNotFound, h.call("GET", base+"/timeline", "dev-caseworker-sn", nil).Status)

		db, err := h.s.Store.SQL()
		require.NoError(t, err)
		rows, err := db.Query("SELECT text FROM timeline_events WHERE case_id = $1 AND text <> ''", id)
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			var raw string
			require.NoError(t, rows.Scan(&raw))
			require.NotContains(t, raw, "Aminata")
			require.True(t, strings.HasPrefix(raw, "enc:"), "sealed")
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 3, n)
	})
}

// Consent withdrawn: a caseworker of the case's offices says so; the workflow
// closes the case (withdrawn, "consent withdrawn"), the consent records it, the
// timeline and the audit trail too; the retention schedule then anonymises the
// case at its next run, not after the retention period.
func TestConsentWithdrawal(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		cfg := casefileConfig(t, driver)
		cfg.Retention.After = 365 * 24 * time.Hour
		h := start(t, cfg)
		id := h.register()
		other := h.register()
		h.counsel(other, "withdrawn") // closed, consent kept: stays until the retention period
		h.waitCase(other, "closure", stageIs("Closed"))
		h.counsel(id, "confirmed")
		path := "/api/v1/cases/" + id + "/consent"
		body := map[string]any{"data_processing": false, "withdrawn_at": now()}

		require.Equal(t, http.StatusNotFound, h.call("POST", path, "dev-caseworker-sn", body).Status, "another office")
		require.Equal(t, http.StatusForbidden, h.call("POST", path, "dev-approver", body).Status)
		for name, bad := range map[string]map[string]any{
			"consent given": {"data_processing": true, "withdrawn_at": now()},
			"no flag":       {"withdrawn_at": now()},
			"future":        {"data_processing": false, "withdrawn_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		} {
			require.Equal(t, http.StatusUnprocessableEntity, h.call("POST", path, "dev-caseworker", bad).Status, name)
		}
		require.Equal(t, http.StatusBadRequest, h.call("POST", path, "dev-caseworker",
			map[string]any{"data_processing": false, "withdrawn_at": now(), "why": "x"}).Status)

		r := h.call("POST", path, "dev-caseworker-gn", body, "Idempotency-Key", "consent-1")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		c := r.JSON(t)
		require.Equal(t, "closed", c["status"])
		require.Equal(t, "withdrawn", c["closure_reason"])
		require.NotEmpty(t, c["consent_withdrawn_at"])
		consent := c["consent"].(map[string]any)
		require.Equal(t, false, consent["data_processing"])
		require.NotEmpty(t, consent["withdrawn_at"])
		again := h.call("POST", path, "dev-caseworker-gn", body, "Idempotency-Key", "consent-1")
		require.Equal(t, http.StatusOK, again.Status, "a repeat with the same key: the first answer")
		require.Equal(t, http.StatusConflict, h.call("POST", path, "dev-caseworker", body).Status, "withdrawn once")

		tl := h.cfTimeline(id)
		require.NotNil(t, tl["consent_withdrawn"])
		require.Equal(t, "Case closed: withdrawn, consent withdrawn", tl["closed"]["summary"])
		require.Equal(t, "caseworker-gn", tl["closed"]["actor"].(map[string]any)["user"])
		require.Contains(t, h.cfAuditOf(id), "caseworker-gn consent:withdraw")
		require.Equal(t, http.StatusConflict, h.call("PATCH", "/api/v1/cases/"+id, "dev-caseworker",
			`{"vulnerabilities": []}`, "Content-Type", "application/merge-patch+json").Status)

		schedule := temporalClient().ScheduleClient().GetHandle(context.Background(), worker.RetentionScheduleID(cfg.Temporal.TaskQueue))
		require.NoError(t, schedule.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
		h.waitCase(id, "anonymisation", func(c map[string]any) bool {
			return c["beneficiary"].(map[string]any)["anonymised"] == true
		})
		o := h.call("GET", "/api/v1/cases/"+other, "dev-manager", nil).JSON(t)
		require.Equal(t, "Aminata", o["beneficiary"].(map[string]any)["given_name"], "closed, but consent kept")

		// A case already closed: only the case file records it (the workflow has ended).
		r = h.call("POST", "/api/v1/cases/"+other+"/consent", "dev-caseworker", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Equal(t, false, r.JSON(t)["consent"].(map[string]any)["data_processing"])
		require.NotNil(t, h.cfTimeline(other)["consent_withdrawn"])
	})
}

// Transfer: the sending office moves a case to another receiving office before
// departure, through the workflow; the old receiving office no longer sees it
// (404, not in its list), the new one does; the old office's owner is dropped;
// the timeline keeps the reason; after departure it is refused.
func TestTransferBeforeDeparture(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id := h.register()
		h.counsel(id, "confirmed")
		path := "/api/v1/cases/" + id + "/transfer"
		body := map[string]any{"receiving_office": "SN-DKR", "area_of_return": map[string]any{"region": "Dakar", "district": "Pikine"},
			"reason": "Aminata will live with her aunt in Pikine"}
		r := h.call("PUT", "/api/v1/cases/"+id+"/owner", "dev-caseworker-gn", map[string]any{"office": "GN-CKY", "user": "caseworker-gn"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Contains(t, h.ids("/api/v1/cases", "dev-caseworker-gn"), id)

		require.Equal(t, http.StatusForbidden, h.call("POST", path, "dev-caseworker-gn", body).Status, "the receiving office")
		require.Equal(t, http.StatusNotFound, h.call("POST", path, "dev-caseworker-sn", body).Status, "not yet its case")
		require.Equal(t, http.StatusForbidden, h.call("POST", path, "dev-procurement", body).Status)
		for name, bad := range map[string]map[string]any{
			"same office": {"receiving_office": "GN-CKY", "area_of_return": map[string]any{"region": "Kankan"}, "reason": "x"},
			"sending":     {"receiving_office": "DE-BER", "area_of_return": map[string]any{"region": "Kankan"}, "reason": "x"},
			"bad office":  {"receiving_office": "dakar", "area_of_return": map[string]any{"region": "Dakar"}, "reason": "x"},
			"no reason":   {"receiving_office": "SN-DKR", "area_of_return": map[string]any{"region": "Dakar"}, "reason": ""},
			"no region":   {"receiving_office": "SN-DKR", "area_of_return": map[string]any{"district": "Pikine"}, "reason": "x"},
			"long reason": {"receiving_office": "SN-DKR", "area_of_return": map[string]any{"region": "Dakar"}, "reason": strings.Repeat("x", 4001)},
		} {
			require.Equal(t, http.StatusUnprocessableEntity, h.call("POST", path, "dev-approver", bad).Status, name)
		}

		r = h.call("POST", path, "dev-approver", body, "Idempotency-Key", "transfer-1")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		c := r.JSON(t)
		require.Equal(t, "SN-DKR", c["receiving_office"])
		require.Equal(t, map[string]any{"region": "Dakar", "district": "Pikine"}, c["area_of_return"])
		require.Nil(t, c["owners"], "the old office's owner is dropped")
		require.Equal(t, http.StatusOK, h.call("POST", path, "dev-approver", body, "Idempotency-Key", "transfer-1").Status)

		require.Equal(t, http.StatusNotFound, h.call("GET", "/api/v1/cases/"+id, "dev-caseworker-gn", nil).Status)
		require.NotContains(t, h.ids("/api/v1/cases", "dev-caseworker-gn"), id)
		require.Equal(t, http.StatusOK, h.call("GET", "/api/v1/cases/"+id, "dev-caseworker-sn", nil).Status)
		require.Contains(t, h.ids("/api/v1/cases", "dev-caseworker-sn"), id)
		tl := h.cfTimeline(id)
		require.Equal(t, "Transferred from receiving office GN-CKY to SN-DKR", tl["transferred"]["summary"])
		require.Equal(t, "Aminata will live with her aunt in Pikine", tl["transferred"]["text"])
		require.Contains(t, h.cfAuditOf(id), "approver-de case_file:transfer")
		h.eventuallyFound(`ReceivingOffice = "SN-DKR"`, id) // the search attribute followed

		h.screen(id, "low")
		h.depart(id)
		back := map[string]any{"receiving_office": "GN-CKY", "area_of_return": map[string]any{"region": "Kankan"}, "reason": "back"}
		r = h.call("POST", path, "dev-caseworker", back)
		require.Equal(t, http.StatusConflict, r.Status, "after departure: %s", r.Body)
		require.Equal(t, "SN-DKR", h.call("GET", "/api/v1/cases/"+id, "dev-caseworker", nil).JSON(t)["receiving_office"])
	})
}

// A delivery can carry the scan of its handover certificate: a document of the
// case of kind handover_certificate (another kind or an unknown ID is 422); the
// procurement view records it and the workspace links to it.
func TestADeliveryCarriesItsCertificateScan(t *testing.T) {
	eachDatabase(t, func(t *testing.T, driver string) {
		h := start(t, casefileConfig(t, driver))
		id := h.register()
		h.planApproved(id, cost("in_kind", "300.00"))
		c := h.waitCase(id, "the order", func(c map[string]any) bool {
			ps := list(c["procurement"])
			return len(ps) == 1 && ps[0]["status"] == "ordered"
		})
		item := list(c["procurement"])[0]["id"].(string)
		pdf := []byte("%PDF-1.4 signed handover certificate")
		up := h.upload(id, "dev-procurement", "handover_certificate", "handover.pdf", "application/pdf", pdf)
		require.Equal(t, http.StatusCreated, up.Status, string(up.Body))
		scan := up.JSON(t)["id"].(string)
		receipt := h.upload(id, "dev-procurement", "receipt", "receipt.pdf", "application/pdf", pdf)
		require.Equal(t, http.StatusCreated, receipt.Status, string(receipt.Body))

		path := fmt.Sprintf("/api/v1/cases/%s/procurement/%s/delivery", id, item)
		deliver := func(doc string) response {
			return h.call("POST", path, "dev-procurement", map[string]any{"delivered_at": now(),
				"handover_certificate": "HC-77", "handover_document": doc})
		}
		for name, doc := range map[string]string{"another kind": receipt.JSON(t)["id"].(string), "unknown": "0b9e7d7e-0000-4000-8000-000000000000"} {
			r := deliver(doc)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", name, r.Body)
			require.Equal(t, "handover_document", list(r.JSON(t)["errors"])[0]["field"])
		}
		r := deliver(scan)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		delivery := list(r.JSON(t)["procurement"])[0]["delivery"].(map[string]any)
		require.Equal(t, scan, delivery["handover_document"])

		b := h.browser("")
		b.signIn("procurement-gn")
		pg := b.get("/cases/" + id)
		require.Equal(t, http.StatusOK, pg.status)
		require.Contains(t, pg.body, fmt.Sprintf(`href="/cases/%s/documents/%s"`, id, scan), "the procurement table links to the scan")
		got := b.get(fmt.Sprintf("/cases/%s/documents/%s", id, scan))
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, string(pdf), got.body)
	})
}
