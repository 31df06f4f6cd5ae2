package signing

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The test vector the official libraries share (their TestWebhookSign).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustSigner(t testing.TB, secret string) *Signer {
	t.Helper()
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKnownVector(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, SecretPrefix)} {
		got := mustSigner(t, secret).Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
		if got != vectorSignature {
			t.Errorf("Sign with %q = %q, want %q", secret, got, vectorSignature)
		}
	}
}

// TestOfficialLibrary signs with this package and verifies with the official
// Go library, and the other way round.
func TestOfficialLibrary(t *testing.T) {
	t.Parallel()
	key32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	key64 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x01, 0xfe}, 32))
	tests := []struct {
		name   string
		secret string
		id     string
		body   []byte
	}{
		{"vector secret", vectorSecret, vectorID, []byte(vectorBody)},
		{"empty body", vectorSecret, "msg_empty", nil},
		{"32-byte key", SecretPrefix + key32, "01JABCDEF", []byte(`{"a":1}`)},
		{"64-byte key, bare", key64, "step-7f3a", []byte("plain text\nwith lines")},
		{"binary body", vectorSecret, "id with spaces and . dots", []byte{0, 1, 2, 0xff, '.'}},
		{"large body", vectorSecret, "msg_large", bytes.Repeat([]byte("0123456789"), 100_000)},
	}
	for _, tc := range tests {
		ours := mustSigner(t, tc.secret)
		theirs, err := standardwebhooks.NewWebhook(tc.secret)
		if err != nil {
			t.Fatalf("%s: official NewWebhook: %v", tc.name, err)
		}
		ts := time.Now()

		h := http.Header{}
		ours.Headers(h, tc.id, ts, tc.body)
		if err := theirs.Verify(tc.body, h); err != nil {
			t.Errorf("%s: official Verify of our headers: %v", tc.name, err)
		}

		want, err := theirs.Sign(tc.id, ts, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := ours.Sign(tc.id, ts, tc.body); got != want {
			t.Errorf("%s: Sign = %q, official Sign = %q", tc.name, got, want)
		}

		tampered := append(bytes.Clone(tc.body), ' ')
		if err := theirs.Verify(tampered, h); err == nil {
			t.Errorf("%s: official Verify accepted a tampered body", tc.name)
		}
		other := h.Clone()
		other.Set(HeaderID, tc.id+"x")
		if err := theirs.Verify(tc.body, other); err == nil {
			t.Errorf("%s: official Verify accepted another id", tc.name)
		}
		other = h.Clone()
		other.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()-1))
		if err := theirs.Verify(tc.body, other); err == nil {
			t.Errorf("%s: official Verify accepted another timestamp", tc.name)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, vectorSecret)
	h := http.Header{}
	h.Set(HeaderSignature, "v1,stale")
	s.Headers(h, vectorID, time.Unix(vectorTimestamp, 999_999_999), []byte(vectorBody))
	want := map[string]string{
		"webhook-id":        vectorID,
		"webhook-timestamp": "1614265330",
		"webhook-signature": vectorSignature,
	}
	for name, value := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("header %s = %q, want [%q]", name, got, value)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers %v, want only the three", h)
	}
}

var secretCases = []struct {
	secret  string
	wantErr string // "" means valid
}{
	{vectorSecret, ""},
	{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
	{" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", ""},
	{SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 32)), ""},
	{SecretPrefix + base64.RawStdEncoding.EncodeToString(make([]byte, 32)), ""},
	{SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 100)), ""},
	{"", "empty"},
	{"whsec_", "empty"},
	{"   ", "empty"},
	{"whsec_not-base64!", "not standard base64"},
	{SecretPrefix + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 24)), "not standard base64"},
	{SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes, want at least 24"},
	{"whsec_YQ==", "1 bytes, want at least 24"},
	{"whsec_a", "not standard base64"},
	{"whsec_MfKQ9r8GKYqr\nTwjUPD8ILPZIo2LaLaSw", "line breaks"},
	{"whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw", "spaces"},
}

func TestValidSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range secretCases {
		err := ValidSecret(tc.secret)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("ValidSecret(%q) = %v, want nil", tc.secret, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ValidSecret(%q) = %v, want an error containing %q", tc.secret, err, tc.wantErr)
			continue
		}
		if b64 := strings.TrimPrefix(strings.TrimSpace(tc.secret), SecretPrefix); len(b64) > 4 && strings.Contains(err.Error(), b64) {
			t.Errorf("ValidSecret(%q) = %v, repeats the secret", tc.secret, err)
		}
		if s, err2 := NewSigner(tc.secret); s != nil || err2 == nil {
			t.Errorf("NewSigner(%q) = %v, %v; want nil and an error", tc.secret, s, err2)
		}
	}
}

func TestSignerDoesNotShowItsKey(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, vectorSecret)
	holder := struct{ S *Signer }{s}
	var out strings.Builder
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		fmt.Fprintf(&out, format+"\n", s)
		fmt.Fprintf(&out, format+"\n", holder)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("signer", "s", s)
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, SecretPrefix))
	for _, leak := range []string{string(key), fmt.Sprint(key), fmt.Sprintf("%x", key), strings.TrimPrefix(vectorSecret, SecretPrefix)} {
		if strings.Contains(out.String(), leak) {
			t.Fatalf("output shows the key:\n%s", out.String())
		}
	}
}

func FuzzNewSigner(f *testing.F) {
	for _, tc := range secretCases {
		f.Add(tc.secret)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		s, err := NewSigner(secret)
		if err != nil {
			return
		}
		// Whatever we accept, the official library reads as the same key
		// (it wants padding and no surrounding space).
		b64 := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
		if n := len(b64) % 4; n != 0 {
			b64 += strings.Repeat("=", 4-n)
		}
		theirs, err := standardwebhooks.NewWebhook(b64)
		if err != nil {
			t.Fatalf("NewSigner(%q) accepted it, the official library did not: %v", secret, err)
		}
		ts := time.Unix(vectorTimestamp, 0)
		want, _ := theirs.Sign(vectorID, ts, []byte(vectorBody))
		if got := s.Sign(vectorID, ts, []byte(vectorBody)); got != want {
			t.Fatalf("NewSigner(%q): Sign = %q, official = %q", secret, got, want)
		}
	})
}
