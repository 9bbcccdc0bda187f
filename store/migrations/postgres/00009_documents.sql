-- +goose Up
-- Supporting documents of a case, encrypted at rest with envelope encryption:
-- each document has its own random AES-256 data key, which encrypts its bytes
-- (content: nonce and AES-256-GCM ciphertext), and is itself sealed under the
-- database key ring (data_key). Removing a document's data key, or the ring's
-- key that sealed it, makes the document unreadable. The file name and the
-- checksum are sealed too; kind, type, size and who uploaded it are not.
CREATE TABLE case_documents (
    id            text PRIMARY KEY,
    case_id       text NOT NULL REFERENCES cases (id),
    kind          text NOT NULL,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size          bigint NOT NULL,
    sha256        text NOT NULL,
    data_key      text NOT NULL,
    content       bytea NOT NULL,
    uploaded_by   text NOT NULL,
    uploaded_role text NOT NULL,
    uploaded_at   timestamptz NOT NULL
);
CREATE INDEX case_documents_case ON case_documents (case_id, uploaded_at, id);

-- +goose Down
DROP TABLE case_documents;
