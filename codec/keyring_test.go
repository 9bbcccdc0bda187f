package codec

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func fixedKey(c byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = c + byte(i)
	}
	return k
}

func ringJSON(active string, keys map[string][]byte) string {
	m := map[string]string{}
	for id, k := range keys {
		m[id] = b64(k)
	}
	b, _ := json.Marshal(keyFile{Active: active, Keys: m})
	return string(b)
}

func TestParseKeyRing(t *testing.T) {
	k1, k2 := fixedKey(1), fixedKey(100)
	r, err := ParseKeyRing(ringJSON("k2", map[string][]byte{"k1": k1, "k2": k2}))
	if err != nil {
		t.Fatal(err)
	}
	if r.ActiveKeyID() != "k2" {
		t.Fatalf("active = %q", r.ActiveKeyID())
	}
	if got := fmt.Sprint(r.KeyIDs()); got != "[k1 k2]" {
		t.Fatalf("KeyIDs = %s", got)
	}
	// Marshal round-trips.
	r2, err := ParseKeyRing(string(r.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	if string(r2.Marshal()) != string(r.Marshal()) {
		t.Fatal("Marshal does not round-trip")
	}
}

func TestParseKeyRingErrors(t *testing.T) {
	good := b64(fixedKey(7))
	short := b64(fixedKey(7)[:16])
	cases := []struct {
		name, in, want string
	}{
		{"empty", "  ", "empty"},
		{"not json", "active=k1", "not valid JSON"},
		{"no keys", `{"active":"k1"}`, "no keys"},
		{"empty keys", `{"active":"k1","keys":{}}`, "no keys"},
		{"no active", `{"keys":{"k1":"` + good + `"}}`, "no active key"},
		{"unknown active", `{"active":"k9","keys":{"k1":"` + good + `"}}`, `active key "k9" is not one of the keys ["k1"]`},
		{"wrong length", `{"active":"k1","keys":{"k1":"` + short + `"}}`, `key "k1" is 16 bytes, want 32`},
		{"bad base64", `{"active":"k1","keys":{"k1":"not*base64"}}`, `key "k1" is not standard base64`},
		{"bad id", `{"active":"k 1","keys":{"k 1":"` + good + `"}}`, "not a valid key ID"},
		{"unknown field", `{"active":"k1","activ":"k1","keys":{"k1":"` + good + `"}}`, `unknown field "activ"`},
		{"wrong type", `{"active":1,"keys":{"k1":"` + good + `"}}`, `field "active" has the wrong type`},
		{"duplicate id", `{"active":"k1","keys":{"k1":"` + good + `","k1":"` + b64(fixedKey(9)) + `"}}`, `key ID "k1" appears twice`},
		{"key pasted as id", `{"active":"k1","keys":{"` + good + `":"k1"}}`, "not a valid key ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyRing(tc.in)
			if err == nil {
				t.Fatalf("no error for %s", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{good, short} {
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:12]) {
					t.Fatalf("error %q prints key material", err)
				}
			}
		})
	}
}

func TestKeyRingNeverPrintsKeyMaterial(t *testing.T) {
	k := fixedKey(42)
	r, err := NewKeyRing("k1", map[string][]byte{"k1": k})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("ring", "ring", r)
	j, _ := json.Marshal(r)
	outputs := []string{fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s", r, r, r, r), fmt.Sprintf("%#v", *r), sb.String(), string(j)}
	for _, out := range outputs {
		if strings.Contains(out, b64(k)) || strings.Contains(out, string(k)) || strings.Contains(out, fmt.Sprintf("%d", k)) {
			t.Fatalf("key material printed: %s", out)
		}
		if !strings.Contains(out, "k1") {
			t.Fatalf("key ID missing from %s", out)
		}
	}
}

func TestGenerateKeyRingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codec-keys.json")
	r, err := GenerateKeyRingFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.KeyIDs()) != 1 || r.KeyIDs()[0] != r.ActiveKeyID() {
		t.Fatalf("generated ring %v", r)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	loaded, err := LoadKeyRing(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(loaded.Marshal()) != string(r.Marshal()) {
		t.Fatal("loaded ring differs from generated ring")
	}

	before, _ := os.ReadFile(path)
	if _, err := GenerateKeyRingFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second GenerateKeyRingFile: err = %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("existing key file was overwritten")
	}

	// LoadOrGenerate: loads the existing one, creates a missing one.
	got, created, err := LoadOrGenerateKeyRingFile(path)
	if err != nil || created || got.ActiveKeyID() != r.ActiveKeyID() {
		t.Fatalf("LoadOrGenerate existing: %v %v %v", got, created, err)
	}
	other := filepath.Join(filepath.Dir(path), "other.json")
	got, created, err = LoadOrGenerateKeyRingFile(other)
	if err != nil || !created || got == nil {
		t.Fatalf("LoadOrGenerate missing: %v %v %v", got, created, err)
	}
	// In a folder that does not exist yet (data/ on a fresh checkout), the folder is made.
	fresh := filepath.Join(filepath.Dir(path), "data", "codec-keys.json")
	if got, created, err = LoadOrGenerateKeyRingFile(fresh); err != nil || !created || got == nil {
		t.Fatalf("LoadOrGenerate in a missing folder: %v %v %v", got, created, err)
	}
	// A broken file is an error, not silently replaced.
	if err := os.WriteFile(other, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrGenerateKeyRingFile(other); err == nil {
		t.Fatal("LoadOrGenerate replaced or accepted a broken key file")
	}
}

func TestLoadKeyRingMissing(t *testing.T) {
	_, err := LoadKeyRing(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestRotateKeyRing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	r1, err := GenerateKeyRingFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := r1.ActiveKeyID()
	newID, err := RotateKeyRingFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if newID == old {
		t.Fatal("rotation kept the same key ID")
	}
	r2, err := LoadKeyRing(path)
	if err != nil {
		t.Fatal(err)
	}
	if r2.ActiveKeyID() != newID {
		t.Fatalf("active = %q, want %q", r2.ActiveKeyID(), newID)
	}
	if len(r2.KeyIDs()) != 2 {
		t.Fatalf("keys = %v", r2.KeyIDs())
	}
	if string(r2.raw[old]) != string(r1.raw[old]) {
		t.Fatal("old key material changed")
	}
	st, _ := os.Stat(path)
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rotate %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	// Content-level rotation validates its input.
	if _, _, err := RotateKeyRing([]byte(`{"active":"x","keys":{}}`)); err == nil {
		t.Fatal("RotateKeyRing accepted an invalid ring")
	}

	// WithKey without activation keeps the active key; WithActive switches.
	r3, err := r2.WithKey("manual", fixedKey(3), false)
	if err != nil || r3.ActiveKeyID() != newID {
		t.Fatalf("WithKey: %v %v", r3, err)
	}
	if _, err := r3.WithKey("manual", fixedKey(4), true); err == nil {
		t.Fatal("WithKey accepted a duplicate ID")
	}
	r4, err := r3.WithActive("manual")
	if err != nil || r4.ActiveKeyID() != "manual" {
		t.Fatalf("WithActive: %v %v", r4, err)
	}
	if _, err := r3.WithActive("nope"); err == nil {
		t.Fatal("WithActive accepted an unknown ID")
	}
}
