// Package signing signs outbound webhooks the Standard Webhooks way
// (https://www.standardwebhooks.com/): webhook-id, webhook-timestamp and a
// webhook-signature that is an HMAC-SHA256 over "id.timestamp.body" keyed with
// a "whsec_..." secret.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, as the specification writes them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts a secret written the Standard Webhooks way.
const SecretPrefix = "whsec_"

// MinKeySize is the shortest key accepted: the specification recommends keys
// of 24 to 64 bytes. Longer keys are accepted, since HMAC handles them and
// refusing would only break receivers that chose one.
const MinKeySize = 24

// Signer signs messages with one key. It is safe for concurrent use, and
// prints and logs as [redacted], never as its key.
type Signer struct {
	key []byte
}

// Guards: the key cannot reach fmt or slog.
var (
	_ fmt.Formatter  = (*Signer)(nil)
	_ slog.LogValuer = (*Signer)(nil)
)

// NewSigner returns a Signer for secret: "whsec_" followed by the key in
// standard base64, or the base64 alone; padding is optional. The error says
// what is wrong without repeating the secret.
func NewSigner(secret string) (*Signer, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key}, nil
}

// ValidSecret returns the error NewSigner would give for secret, or nil.
func ValidSecret(secret string) error {
	_, err := decodeSecret(secret)
	return err
}

func decodeSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
	if b64 == "" {
		return nil, errors.New("signing secret: empty")
	}
	if strings.ContainsAny(b64, " \t\r\n") {
		return nil, errors.New("signing secret: contains spaces or line breaks")
	}
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(b64)
	if err != nil {
		var bad base64.CorruptInputError
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("signing secret: not standard base64 after %q (at character %d)", SecretPrefix, int64(bad)+1)
		}
		return nil, fmt.Errorf("signing secret: %w", err)
	}
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("signing secret: key is %d bytes, want at least %d", len(key), MinKeySize)
	}
	return key, nil
}

// Sign returns the webhook-signature header value for a message:
// "v1," and the base64 HMAC-SHA256 of id + "." + unix seconds + "." + body.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Headers sets webhook-id, webhook-timestamp (unix seconds) and
// webhook-signature on h for a message.
func (s *Signer) Headers(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
}

// Format prints [redacted] whatever the verb.
func (s *Signer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// LogValue logs [redacted].
func (s *Signer) LogValue() slog.Value { return slog.StringValue("[redacted]") }
