package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New([]byte("0123456789abcdef-key"))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := b.Seal([]byte("user:pass")), b.Seal([]byte("user:pass"))
	if bytes.Contains(s1, []byte("pass")) || bytes.Equal(s1, s2) {
		t.Fatalf("sealed value leaks or repeats: %q %q", s1, s2)
	}
	got, err := b.Open(s1)
	if err != nil || string(got) != "user:pass" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New([]byte("another key of 16+ bytes"))
	if _, err := other.Open(s1); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong key: err = %v, want ErrOpen", err)
	}
	s1[len(s1)-1] ^= 1
	if _, err := b.Open(s1); !errors.Is(err, ErrOpen) {
		t.Fatalf("damaged: err = %v, want ErrOpen", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
	if b.Seal(nil) != nil {
		t.Fatal("empty value sealed to something")
	}
}
