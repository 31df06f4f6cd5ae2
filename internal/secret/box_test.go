package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	rand.Read(key)
	return key
}

func newBox(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBoxKeySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewBox(make([]byte, n)); err == nil {
			t.Errorf("NewBox(%d bytes) = nil error, want one", n)
		}
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	box := newBox(t, newKey(t))
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", nil, nil},
		{"short", []byte("s3cr3t"), []byte("org_1/API_TOKEN")},
		{"binary", []byte{0, 1, 2, 255}, nil},
		{"long", bytes.Repeat([]byte("x"), 1<<16), []byte("aad")},
	}
	for _, tc := range tests {
		sealed := box.Seal(tc.plaintext, tc.aad)
		if got, want := len(sealed), 1+12+len(tc.plaintext)+16; got != want {
			t.Errorf("%s: sealed length %d, want %d", tc.name, got, want)
		}
		if sealed[0] != 1 {
			t.Errorf("%s: version byte %d, want 1", tc.name, sealed[0])
		}
		if len(tc.plaintext) > 4 && bytes.Contains(sealed, tc.plaintext) {
			t.Errorf("%s: sealed value contains the plaintext", tc.name)
		}
		got, err := box.Open(sealed, tc.aad)
		if err != nil || !bytes.Equal(got, tc.plaintext) {
			t.Errorf("%s: Open = %q, %v; want the plaintext", tc.name, got, err)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	t.Parallel()
	box := newBox(t, newKey(t))
	a, b := box.Seal([]byte("same"), nil), box.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Errorf("two seals of the same plaintext are equal: %x", a)
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	box := newBox(t, key)
	aad := []byte("org_1/TOKEN")
	sealed := box.Seal([]byte("hunter2"), aad)
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		box    *Box
		sealed []byte
		aad    []byte
	}{
		{"wrong key", newBox(t, newKey(t)), sealed, aad},
		{"wrong aad", box, sealed, []byte("org_2/TOKEN")},
		{"missing aad", box, sealed, nil},
		{"version byte", box, flip(0), aad},
		{"nonce", box, flip(1), aad},
		{"ciphertext", box, flip(14), aad},
		{"tag", box, flip(len(sealed) - 1), aad},
		{"truncated", box, sealed[:len(sealed)-1], aad},
		{"too short", box, sealed[:10], aad},
		{"version only", box, sealed[:1], aad},
		{"empty", box, nil, aad},
		{"appended", box, append(bytes.Clone(sealed), 0), aad},
	}
	for _, tc := range tests {
		got, err := tc.box.Open(tc.sealed, tc.aad)
		if !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: Open = %q, %v; want nil, ErrOpen", tc.name, got, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	box, err := NewBox(make([]byte, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(box.Seal([]byte("hello"), nil), []byte(nil))
	f.Add(box.Seal(nil, []byte("aad")), []byte("aad"))
	f.Add([]byte{1}, []byte(nil))
	f.Add([]byte{}, []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		if _, err := box.Open(sealed, aad); err != nil && !errors.Is(err, ErrOpen) {
			t.Fatalf("Open = %v, want an ErrOpen", err)
		}
	})
}

func TestBoxSeveralKeys(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newKey(t), newKey(t)
	oldBox := newBox(t, oldKey)
	both, err := NewBox(newKey, oldKey, newKey) // a key given twice counts once
	if err != nil {
		t.Fatal(err)
	}
	if both.Keys() != 2 {
		t.Fatalf("Keys() = %d, want 2", both.Keys())
	}
	aad := []byte("secret:org_1:TOKEN")
	tests := []struct {
		name    string
		sealed  []byte
		wantKey int
	}{
		{"sealed with the old key", oldBox.Seal([]byte("v"), aad), 1},
		{"sealed with the new key", both.Seal([]byte("v"), aad), 0},
		{"sealed by a box sealing with its second key", both.SealingWith(1).Seal([]byte("v"), aad), 1},
	}
	for _, tc := range tests {
		got, key, err := both.OpenKey(tc.sealed, aad)
		if err != nil || string(got) != "v" || key != tc.wantKey {
			t.Errorf("%s: OpenKey = %q, key %d, %v; want \"v\", key %d", tc.name, got, key, err, tc.wantKey)
		}
	}
	if _, err := oldBox.Open(both.Seal([]byte("v"), aad), aad); !errors.Is(err, ErrOpen) {
		t.Errorf("the old key alone opened a value sealed with the new key: %v", err)
	}
	stranger := newBox(t, newKey)
	if _, _, err := both.OpenKey(newBox(t, make([]byte, KeySize)).Seal([]byte("v"), aad), aad); !errors.Is(err, ErrOpen) {
		t.Errorf("a value sealed with a third key opened: %v", err)
	}
	if got := both.SealingWith(1).SealsWith(); got != 1 {
		t.Errorf("SealingWith(1).SealsWith() = %d, want 1", got)
	}
	if _, err := stranger.Open(both.SealingWith(1).Seal([]byte("v"), aad), aad); !errors.Is(err, ErrOpen) {
		t.Errorf("the new key alone opened a value sealed with the old key: %v", err)
	}
	if _, err := NewBox(newKey, make([]byte, 16)); err == nil {
		t.Error("NewBox with a short second key = nil error, want one")
	}
}
