// Package codec encrypts Temporal payloads (workflow and activity inputs and results, signals,
// queries, updates, memo, UI summaries and details, and failure messages and stack traces) with
// AES-256-GCM before they leave the process, so the Temporal service and its database only ever
// see ciphertext. Search attributes, workflow IDs and type names are never payloads, so they stay
// in clear: keep personal data out of them.
//
// Wiring:
//
//	ring, err := codec.LoadKeyRing(path)            // or codec.ParseKeyRing(os.Getenv(...))
//	dc, fc := codec.ClientOptions(ring)
//	c, err := client.Dial(client.Options{..., DataConverter: dc, FailureConverter: fc})
//
// Workers built from that client use the same converters. codec.Handler serves the remote codec
// endpoint that lets the Temporal UI (or `temporal --codec-endpoint`) show decrypted payloads.
package codec

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// MetadataEncoding is the payload metadata key that names the encoding.
	MetadataEncoding = converter.MetadataEncoding // "encoding"
	// EncodingEncrypted is the encoding of a payload encrypted by this package.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID is the payload metadata key that names the key that encrypted it.
	MetadataKeyID = "encryption-key-id"

	nonceSize = 12
	tagSize   = 16
)

// Errors returned by Decode, wrapped with the payload's position and key ID.
var (
	// ErrUnknownKey: the payload names a key that is not in the ring.
	ErrUnknownKey = errors.New("unknown encryption key ID")
	// ErrDecrypt: the ciphertext does not authenticate (tampered, truncated, or another key).
	ErrDecrypt = errors.New("payload does not authenticate (tampered or wrong key)")
	// ErrMalformed: the encrypted payload is not in this package's format.
	ErrMalformed = errors.New("malformed encrypted payload")
	// ErrNotEncrypted: the payload is not encrypted by this package (typed in the Temporal UI or
	// CLI, or sent by a client without the key ring) and is not one Temporal writes itself.
	ErrNotEncrypted = errors.New("payload is not encrypted by Homeward's codec")
)

// Codec is a converter.PayloadCodec that encrypts every payload with the ring's active key and
// decrypts payloads encrypted under any key in the ring.
//
// Encrypted payload layout: metadata {"encoding": "binary/encrypted", "encryption-key-id": <id>},
// data = 12-byte random nonce || AES-256-GCM(proto.Marshal(original payload)) with the key ID as
// additional authenticated data. The original payload's metadata (its JSON encoding, message type,
// and so on) is inside the ciphertext.
type Codec struct {
	ring *KeyRing
}

var _ converter.PayloadCodec = (*Codec)(nil)

// NewCodec returns the payload codec for ring. It panics if ring is nil.
func NewCodec(ring *KeyRing) *Codec {
	if ring == nil {
		panic("codec: nil KeyRing")
	}
	return &Codec{ring: ring}
}

// Encode encrypts every payload with the active key. It never passes a payload through in clear,
// even one that is already encrypted.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.ring.active
	aead := c.ring.aeads[id]
	ad := []byte(id)
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: encode payload %d: %w", i, err)
		}
		buf := make([]byte, nonceSize, nonceSize+len(plain)+aead.Overhead())
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("codec: encode payload %d: nonce: %w", i, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(id),
			},
			Data: aead.Seal(buf, buf, plain, ad),
		}
	}
	return out, nil
}

// Decode decrypts payloads encrypted by this package and refuses every other payload
// (ErrNotEncrypted), so a signal, update, workflow input or activity argument typed in the
// Temporal UI or CLI, or sent by any client without Homeward's key ring, never reaches a workflow
// or an activity: the SDK drops a signal it cannot decode, rejects an update, and fails the task.
//
// The only exceptions are the payloads the Temporal server writes itself and may hand to Homeward's
// data converter (see WrittenByTemporal). An encrypted payload whose key is not in the ring, or
// whose ciphertext does not authenticate, is an error too: there is no fallback to the ciphertext
// or to anything in clear.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.decode(payloads, true)
}

// DecodeForDisplay is Decode for the Temporal UI's codec endpoint: it decrypts what is encrypted
// and returns any other payload unchanged, so the UI can show a history that holds a payload
// Homeward refused (a signal typed in the UI, a termination's details) instead of failing the
// whole page. Nothing decoded here reaches a workflow.
func (c *Codec) DecodeForDisplay(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.decode(payloads, false)
}

func (c *Codec) decode(payloads []*commonpb.Payload, strict bool) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			if strict && !WrittenByTemporal(p) {
				return nil, fmt.Errorf("codec: decode payload %d: %w (encoding %q)", i, ErrNotEncrypted, shortEncoding(p))
			}
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		if id == "" {
			return nil, fmt.Errorf("codec: decode payload %d: %w: no %s metadata", i, ErrMalformed, MetadataKeyID)
		}
		aead, ok := c.ring.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: decode payload %d: %w %s (the ring has %q)", i, ErrUnknownKey, describeID(id), c.ring.KeyIDs())
		}
		data := p.GetData()
		if len(data) < nonceSize+tagSize {
			return nil, fmt.Errorf("codec: decode payload %d (key %q): %w: %d bytes is too short", i, id, ErrMalformed, len(data))
		}
		plain, err := aead.Open(nil, data[:nonceSize], data[nonceSize:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: decode payload %d (key %q): %w", i, id, ErrDecrypt)
		}
		dp := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, dp); err != nil {
			return nil, fmt.Errorf("codec: decode payload %d (key %q): %w: inner payload: %v", i, id, ErrMalformed, err)
		}
		out[i] = dp
	}
	return out, nil
}

// Payloads the Temporal server (1.29) writes itself, in clear, into a history: json/plain
// strings. Found in the server's source (go.temporal.io/server: payloads.EncodeString):
const (
	// ActivityNotStartedDetails: the details of an activity cancelled before a worker started it
	// (service/history/api/respondworkflowtaskcompleted). The SDK hands them to the workflow as
	// the CanceledError's details, decoded through the data converter if the workflow asks.
	ActivityNotStartedDetails = "ACTIVITY_ID_NOT_STARTED"
	// terminatedByPrefixes: the details of a termination the server makes (a new run with
	// WorkflowIdReusePolicy TerminateIfRunning; a version conflict between clusters). The SDK
	// never decodes a termination's details (a terminated run's result is a TerminatedError
	// without them), but a client that did must not fail on them.
	terminatedByRunPrefix     = "terminated by new runID: "
	terminatedByVersionPrefix = "terminated by version: "
)

// WrittenByTemporal reports whether p is one of the few payloads the Temporal server writes
// itself rather than a client: a json/plain string that is ActivityNotStartedDetails or a
// server termination's details. Everything else that reaches Homeward's data converter is written
// by an SDK client or worker, so it is encrypted when it comes from Homeward. Not payloads at all,
// hence never seen by the codec: search attributes (the SDK encodes them with the default
// converter; Temporal's own, such as TemporalScheduledById, too), workflow IDs and types,
// cancellation requests (a reason string), termination reasons, and the messages of the failures
// the server makes (timeouts, terminations, an update aborted): their details, when they carry
// any, are the worker's own (encrypted) heartbeat details. Memo and headers are not decoded by
// Homeward's data converter (Homeward sets no memo; the batch operations' memo is the batcher's,
// not a case's).
func WrittenByTemporal(p *commonpb.Payload) bool {
	if string(p.GetMetadata()[MetadataEncoding]) != converter.MetadataEncodingJSON || len(p.GetMetadata()) != 1 {
		return false
	}
	var s string
	if err := json.Unmarshal(p.GetData(), &s); err != nil {
		return false
	}
	return s == ActivityNotStartedDetails || strings.HasPrefix(s, terminatedByRunPrefix) || strings.HasPrefix(s, terminatedByVersionPrefix)
}

// shortEncoding is a payload's encoding for an error message, cut to 40 bytes (it is the
// sender's text).
func shortEncoding(p *commonpb.Payload) string {
	e := string(p.GetMetadata()[MetadataEncoding])
	if len(e) > 40 {
		e = e[:40] + "..."
	}
	return e
}

// IsEncrypted reports whether p carries this package's encrypted encoding.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[MetadataEncoding]) == EncodingEncrypted
}

// DataConverter returns the SDK's default data converter wrapped with the encrypting codec.
func DataConverter(ring *KeyRing) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewCodec(ring))
}

// FailureConverter returns the default failure converter with EncodeCommonAttributes set, so a
// failure's message and stack trace travel as an encoded (here: encrypted) payload and the
// failure proto itself only says "Encoded failure". dc should be DataConverter(ring).
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// ClientOptions returns the DataConverter and FailureConverter for client.Options:
//
//	dc, fc := codec.ClientOptions(ring)
//	client.Options{DataConverter: dc, FailureConverter: fc}
func ClientOptions(ring *KeyRing) (converter.DataConverter, converter.FailureConverter) {
	dc := DataConverter(ring)
	return dc, FailureConverter(dc)
}

// Connection is how a client of Homeward's talks to Temporal: without gRPC
// compression. Its payloads are ciphertext, which gzip cannot shrink, and the
// SDK's default gzip cost both ends of every call CPU for nothing (about a tenth
// of the worker's CPU and 4% of the dev server's under load, docs/benchmarks.md).
func Connection() client.ConnectionOptions {
	return client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}
}
