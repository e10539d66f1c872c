package redis

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

func codecEntries() []adapter.Entry {
	full := adapter.Entry{
		ID: "ev-1", CallID: "call-1", Seq: 7, App: "voicemail", Dialect: translate.FlexML, Kind: "action",
		Method: translate.POST, URL: "https://app.example.net/cb?x=1", Auth: []byte("sealed\x00auth"),
		Body: []byte("CallUUID=call-1&Digits=1"), BodyType: "application/x-www-form-urlencoded",
		Retry: translate.RetryPolicy{ConnectTimeout: 300 * time.Millisecond, ReadTimeout: 5 * time.Second,
			TotalTimeout: 20 * time.Second, Retries: 4, RetryOn: translate.Retry5xx | translate.RetryConnectTimeout,
			Region: "frankfurt", FromFragment: true},
		Created: time.Date(2026, 11, 21, 23, 0, 0, 123456789, time.UTC),
	}
	bare := adapter.Entry{ID: "e", CallID: "c", Seq: -3, Created: time.Unix(-5, 7).UTC()}
	noCreated := adapter.Entry{ID: "z", CallID: "c", URL: "http://app.test/" + strings.Repeat("é", 200)}
	return []adapter.Entry{full, bare, noCreated}
}

// The entry record round-trips exactly: every immutable field, nothing of the mutable state.
func TestEntryCodecRoundTrip(t *testing.T) {
	for _, want := range codecEntries() {
		got, err := decodeEntry(string(encodeEntry(nil, want)))
		if err != nil {
			t.Fatalf("%s: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", want.ID, got, want)
		}
	}
}

// A truncated, extended or foreign record is an error naming the encoding, never a panic.
func TestEntryCodecRejects(t *testing.T) {
	b := string(encodeEntry(nil, codecEntries()[0]))
	for name, s := range map[string]string{
		"empty": "", "truncated": b[:len(b)-3], "extended": b + "x", "version": "\x07" + b[1:],
		"json": `{"id":"ev-1"}`,
	} {
		if _, err := decodeEntry(s); !errors.Is(err, errEntryCodec) {
			t.Errorf("%s: %v, want errEntryCodec", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, e := range codecEntries() {
		f.Add(string(encodeEntry(nil, e)))
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := decodeEntry(s)
		if err != nil {
			return
		}
		if got := string(encodeEntry(nil, e)); got != s {
			// Only the zero Created of a record with the flag unset may encode otherwise.
			if _, err := decodeEntry(got); err != nil {
				t.Fatalf("re-encoding %q: %v", s, err)
			}
		}
	})
}

// An entry's state reads back as written, whatever bytes its strings hold, and a state cut
// short or with a bad length is refused.
func TestEntryStateRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 22, 0, 0, 0, 123456789, time.UTC)
	for _, e := range []adapter.Entry{
		{ID: "a", CallID: "c"},
		{ID: "b", CallID: "call 1:2 3", Seq: -4, Attempts: 12, Owner: "w 7:8 ", LeaseEnd: at,
			NextAt: at, DeadAt: at.Add(time.Second), LastError: "HTTP 503: 1 2 3 \x00 ☎"},
	} {
		s := encodeState(e)
		got, err := decodeState(s)
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		want := entryState{attempts: strconv.Itoa(e.Attempts), next: timeText(e.NextAt), dead: timeText(e.DeadAt), err: e.LastError}
		if got != want {
			t.Fatalf("decode %q = %+v, want %+v", s, got, want)
		}
		for i := range len(s) - len(e.LastError) {
			if _, err := decodeState(s[:i]); err == nil {
				t.Fatalf("decode of %q (cut at %d) succeeded", s[:i], i)
			}
		}
	}
	if _, err := decodeState("0 99:x0"); !errors.Is(err, errEntryCodec) {
		t.Fatalf("decode of a bad length: %v, want errEntryCodec", err)
	}
}
