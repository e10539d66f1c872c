package webhook

import (
	"errors"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/seal"
	"github.com/pbxbridge/pbxbridge/translate"
)

// TestEntryRequestSealedAuth: an entry's URL credentials come sealed from the store and go out
// as the request URL's userinfo (Basic auth); without the key the entry cannot be sent.
func TestEntryRequestSealedAuth(t *testing.T) {
	box, err := seal.New([]byte("a test key of enough bytes"))
	if err != nil {
		t.Fatal(err)
	}
	e := adapter.Entry{ID: "e1", CallID: "c1", Dialect: translate.FlexML, Method: translate.POST,
		URL: "https://app.example.net/cb", Auth: box.Seal([]byte("alice:p%40ss")), Retry: translate.DefaultRetryPolicy()}
	r, err := NewClient(Options{Open: box.Open}).EntryRequest(e)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := r.URL.User.Password()
	if r.URL.User.Username() != "alice" || pw != "p@ss" {
		t.Fatalf("userinfo = %v, want alice / p@ss", r.URL.User)
	}
	if _, err := NewClient(Options{}).EntryRequest(e); !errors.Is(err, ErrRequest) {
		t.Fatalf("without a key: err = %v, want ErrRequest", err)
	}
}
