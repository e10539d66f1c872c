// Package seal encrypts the few secrets pbxbridge must keep in its store, such as the Basic
// auth credentials of a callback URL (https://user:pass@host/...), so that the store never
// holds them in clear (AES-256-GCM, a random nonce per value). Every instance that shares a
// store must use the same key.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrOpen: a sealed value is damaged or was sealed with another key.
var ErrOpen = errors.New("seal: cannot open value (wrong key or damaged)")

// Box seals and opens values. It is safe for concurrent use.
type Box struct{ aead cipher.AEAD }

// New derives a box from a key of any length (at least 16 bytes; it is hashed to 32).
func New(key []byte) (*Box, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("seal: key of %d bytes is too short: want at least 16", len(key))
	}
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain. An empty value stays empty.
func (b *Box) Seal(plain []byte) []byte {
	if len(plain) == 0 {
		return nil
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("seal: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return b.aead.Seal(nonce, nonce, plain, nil)
}

// Open decrypts a value made by Seal.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
