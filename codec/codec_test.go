package codec

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

func mustRing(t *testing.T, active string, ids ...string) *KeyRing {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = fixedKey(byte(10 * (i + 1)))
	}
	r, err := NewKeyRing(active, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	c := NewCodec(mustRing(t, "k1", "k1"))
	in := []*commonpb.Payload{jsonPayload(t, map[string]string{"name": "Secret Person"}), jsonPayload(t, 42), jsonPayload(t, nil)}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != len(in) {
		t.Fatalf("%d payloads encoded, want %d", len(enc), len(in))
	}
	for i, p := range enc {
		if !IsEncrypted(p) || string(p.Metadata[MetadataKeyID]) != "k1" {
			t.Fatalf("payload %d metadata %v", i, p.Metadata)
		}
		if len(p.Metadata) != 2 {
			t.Fatalf("payload %d leaks metadata %v", i, p.Metadata)
		}
		if bytes.Contains(p.Data, []byte("Secret Person")) || bytes.Contains(p.Data, []byte("json/plain")) {
			t.Fatalf("payload %d in clear", i)
		}
	}
	// Same input twice gives different ciphertext (random nonce).
	enc2, _ := c.Encode(in[:1])
	if bytes.Equal(enc[0].Data, enc2[0].Data) {
		t.Fatal("ciphertext is deterministic")
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(in[i], dec[i]) {
			t.Fatalf("payload %d: got %v want %v", i, dec[i], in[i])
		}
	}
	// Inputs not mutated.
	if IsEncrypted(in[0]) {
		t.Fatal("Encode mutated its input")
	}
}

func TestEncodeAlwaysEncrypts(t *testing.T) {
	c := NewCodec(mustRing(t, "k1", "k1"))
	enc, _ := c.Encode([]*commonpb.Payload{jsonPayload(t, "x")})
	twice, err := c.Encode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(twice[0].Data, enc[0].Data) {
		t.Fatal("already-encrypted payload passed through Encode")
	}
	empty, err := c.Encode([]*commonpb.Payload{{}})
	if err != nil || !IsEncrypted(empty[0]) {
		t.Fatalf("empty payload: %v %v", empty, err)
	}
}

func TestRotation(t *testing.T) {
	ring1 := mustRing(t, "k1", "k1")
	old, err := NewCodec(ring1).Encode([]*commonpb.Payload{jsonPayload(t, "before rotation")})
	if err != nil {
		t.Fatal(err)
	}
	ring2, err := ring1.WithKey("k2", fixedKey(200), true)
	if err != nil {
		t.Fatal(err)
	}
	c2 := NewCodec(ring2)
	fresh, err := c2.Encode([]*commonpb.Payload{jsonPayload(t, "after rotation")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(fresh[0].Metadata[MetadataKeyID]); got != "k2" {
		t.Fatalf("new payload key = %q, want k2", got)
	}
	dec, err := c2.Decode(append(old, fresh...))
	if err != nil {
		t.Fatal(err)
	}
	var s1, s2 string
	_ = converter.GetDefaultDataConverter().FromPayload(dec[0], &s1)
	_ = converter.GetDefaultDataConverter().FromPayload(dec[1], &s2)
	if s1 != "before rotation" || s2 != "after rotation" {
		t.Fatalf("decoded %q %q", s1, s2)
	}
	// The old ring cannot read the new key's payloads: an error, never a fallback.
	if _, err := NewCodec(ring1).Decode(fresh); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old ring on new payload: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := NewCodec(mustRing(t, "k1", "k1"))
	enc, err := c.Encode([]*commonpb.Payload{jsonPayload(t, "hello")})
	if err != nil {
		t.Fatal(err)
	}
	clone := func() *commonpb.Payload { return proto.Clone(enc[0]).(*commonpb.Payload) }

	unknown := clone()
	unknown.Metadata[MetadataKeyID] = []byte("k9")
	tampered := clone()
	tampered.Data[len(tampered.Data)-20] ^= 1
	tamperedNonce := clone()
	tamperedNonce.Data[0] ^= 1
	truncated := clone()
	truncated.Data = truncated.Data[:10]
	noKeyID := clone()
	delete(noKeyID.Metadata, MetadataKeyID)
	// Moving a payload to another key ID must not authenticate even if that key existed.
	otherRing := mustRing(t, "k1", "k1", "k2")
	swapped := clone()
	swapped.Metadata[MetadataKeyID] = []byte("k2")

	cases := []struct {
		name  string
		codec *Codec
		p     *commonpb.Payload
		want  error
	}{
		{"unknown key", c, unknown, ErrUnknownKey},
		{"tampered ciphertext", c, tampered, ErrDecrypt},
		{"tampered nonce", c, tamperedNonce, ErrDecrypt},
		{"truncated", c, truncated, ErrMalformed},
		{"no key id", c, noKeyID, ErrMalformed},
		{"swapped key id", NewCodec(otherRing), swapped, ErrDecrypt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fine, err := tc.codec.Encode([]*commonpb.Payload{jsonPayload(t, "fine")})
			if err != nil {
				t.Fatal(err)
			}
			out, err := tc.codec.Decode([]*commonpb.Payload{fine[0], tc.p})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if out != nil {
				t.Fatalf("returned payloads with an error: %v", out)
			}
		})
	}
}

// A payload Homeward did not encrypt (typed in the Temporal UI or CLI, or sent by a client without
// the key ring) is refused, whatever its encoding; only the few the Temporal server writes itself
// pass, unchanged.
func TestDecodeRefusesUnencrypted(t *testing.T) {
	c := NewCodec(mustRing(t, "k1", "k1"))
	for name, p := range map[string]*commonpb.Payload{
		"json":                   jsonPayload(t, map[string]string{"result": "unfit"}),
		"null":                   {Metadata: map[string][]byte{"encoding": []byte("binary/null")}},
		"empty":                  {},
		"server-like text":       jsonPayload(t, "ACTIVITY_ID_NOT_STARTED and more"),
		"server text, more meta": {Metadata: map[string][]byte{"encoding": []byte("json/plain"), "x": []byte("1")}, Data: []byte(`"ACTIVITY_ID_NOT_STARTED"`)},
	} {
		enc, err := c.Encode([]*commonpb.Payload{jsonPayload(t, "fine")})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Decode([]*commonpb.Payload{enc[0], p})
		if !errors.Is(err, ErrNotEncrypted) || out != nil {
			t.Fatalf("%s: %v %v", name, out, err)
		}
		// The UI's endpoint shows it as it is.
		if out, err := c.DecodeForDisplay([]*commonpb.Payload{p}); err != nil || out[0] != p {
			t.Fatalf("%s: display: %v %v", name, out, err)
		}
	}
	var s string
	if err := DataConverter(mustRing(t, "k1", "k1")).FromPayload(jsonPayload(t, "typed in the UI"), &s); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("the data converter took a payload in clear: %q %v", s, err)
	}
	server := []*commonpb.Payload{jsonPayload(t, ActivityNotStartedDetails), jsonPayload(t, "terminated by new runID: 0d6c"),
		jsonPayload(t, "terminated by version: 3")}
	dec, err := c.Decode(server)
	if err != nil {
		t.Fatal(err)
	}
	for i := range server {
		if dec[i] != server[i] {
			t.Fatalf("payload %d changed", i)
		}
	}
}

func TestDataConverter(t *testing.T) {
	ring := mustRing(t, "k1", "k1")
	dc := DataConverter(ring)
	p, err := dc.ToPayload(map[string]string{"name": "Secret Person"})
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(p) || bytes.Contains(p.Data, []byte("Secret Person")) {
		t.Fatalf("not encrypted: %v", p)
	}
	var got map[string]string
	if err := dc.FromPayload(p, &got); err != nil || got["name"] != "Secret Person" {
		t.Fatalf("FromPayload: %v %v", got, err)
	}
	// A converter with a ring that lacks the key fails instead of returning garbage.
	if err := DataConverter(mustRing(t, "other", "other")).FromPayload(p, &got); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("foreign ring: %v", err)
	}
}

func TestFailureConverterEncryptsMessage(t *testing.T) {
	_, fc := ClientOptions(mustRing(t, "k1", "k1"))
	appErr := temporal.NewApplicationError("Canary123 went wrong", "CanaryType", "Canary123Detail")
	f := fc.ErrorToFailure(appErr)
	b, err := proto.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("Canary123")) {
		t.Fatalf("failure proto contains the message in clear: %v", f)
	}
	if f.EncodedAttributes == nil || !IsEncrypted(f.EncodedAttributes) {
		t.Fatalf("encoded attributes not encrypted: %v", f.EncodedAttributes)
	}
	back := fc.FailureToError(f)
	var ae *temporal.ApplicationError
	if !errors.As(back, &ae) || !strings.Contains(ae.Error(), "Canary123 went wrong") {
		t.Fatalf("round trip: %v", back)
	}
	var detail string
	if err := ae.Details(&detail); err != nil || detail != "Canary123Detail" {
		t.Fatalf("details: %q %v", detail, err)
	}
}

// The SDK's test workflow environment runs a workflow and an activity with the encrypting data
// converter: arguments and results go through Encode and Decode.
func TestWorkflowEnvironment(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	counting := &countingCodec{inner: NewCodec(mustRing(t, "k1", "k1"))}
	env.SetDataConverter(converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), counting))

	greet := func(ctx context.Context, name string) (string, error) {
		return "hello " + name, nil
	}
	wf := func(ctx workflow.Context, name string) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		var out string
		err := workflow.ExecuteActivity(ctx, "greet", name).Get(ctx, &out)
		return out, err
	}
	env.RegisterActivityWithOptions(greet, activity.RegisterOptions{Name: "greet"})
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "wf"})
	env.ExecuteWorkflow("wf", "Secret Person")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "hello Secret Person" {
		t.Fatalf("result %q %v", out, err)
	}
	if counting.enc.Load() == 0 || counting.dec.Load() == 0 {
		t.Fatalf("codec not used: encode %d decode %d", counting.enc.Load(), counting.dec.Load())
	}
}

type countingCodec struct {
	inner    *Codec
	enc, dec atomic.Int64
}

func (c *countingCodec) Encode(p []*commonpb.Payload) ([]*commonpb.Payload, error) {
	c.enc.Add(1)
	return c.inner.Encode(p)
}

func (c *countingCodec) Decode(p []*commonpb.Payload) ([]*commonpb.Payload, error) {
	c.dec.Add(1)
	return c.inner.Decode(p)
}

// Homeward's clients send without gzip (Connection): what they send is ciphertext,
// which does not compress, while the same data in the clear shrinks several times.
func TestCiphertextDoesNotCompress(t *testing.T) {
	if _, ok := Connection().GrpcCompression.(*client.GrpcCompressionNone); !ok {
		t.Fatalf("Homeward's connection compresses: %T", Connection().GrpcCompression)
	}
	var stages []map[string]string
	for i := range 40 {
		stages = append(stages, map[string]string{"stage": "ReintegrationPlanning", "waiting_on": "caseworker",
			"summary": "Counsel the returnee and submit the integrated reintegration plan.", "n": strings.Repeat("x", i%7)})
	}
	plain := jsonPayload(t, stages)
	sealed, err := DataConverter(mustRing(t, "k1", "k1")).ToPayload(stages)
	if err != nil {
		t.Fatal(err)
	}
	gzipped := func(b []byte) int {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Len()
	}
	if got := gzipped(plain.Data); got*3 > len(plain.Data) {
		t.Fatalf("the clear JSON should shrink: %d -> %d bytes", len(plain.Data), got)
	}
	if got := gzipped(sealed.Data); got < len(sealed.Data) {
		t.Fatalf("ciphertext shrank under gzip: %d -> %d bytes", len(sealed.Data), got)
	}
}
