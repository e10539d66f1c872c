package adapter_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

// TestRecover: a call left live in the store by a process that died gets its status callback
// at the next start, and its state is removed; calls of other PBXs are left alone.
func TestRecover(t *testing.T) {
	ctx := context.Background()
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bl, err := blob.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	cfg, err := config.Parse([]byte(`
apps:
  - {name: vm, dialect: flexml, url: "http://127.0.0.1:1/vm", status_url: "https://u:p@app.example.net/status"}
`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	for _, c := range []adapter.CallState{
		{ID: "c1", PBX: "asterisk", App: "vm", Dialect: translate.FlexML, From: "+15550100001", To: "15550109999",
			Direction: "inbound", DocumentURL: "http://127.0.0.1:1/vm", Started: t0, Updated: t0.Add(42 * time.Second)},
		{ID: "c2", PBX: "elsewhere", App: "vm", Dialect: translate.FlexML, Started: t0, Updated: t0},
	} {
		if _, err := st.PutCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	sealed := 0
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{}, Links: noLinks{},
		Seal: func(p []byte) []byte { sealed++; return append([]byte("sealed:"), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := eng.Recover(ctx, []string{"asterisk"})
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 call", n, err)
	}
	if _, err := st.GetCall(ctx, "c1"); err == nil {
		t.Error("recovered call still in the store")
	}
	if _, err := st.GetCall(ctx, "c2"); err != nil {
		t.Errorf("another PBX's call was touched: %v", err)
	}
	es, err := st.Claim(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox: %d entries, %v; want the status callback", len(es), err)
	}
	e := es[0]
	if e.Kind != "hangup" || e.URL != "https://app.example.net/status" || string(e.Auth) != "sealed:u:p" || sealed != 1 {
		t.Errorf("entry: kind %q url %q auth %q", e.Kind, e.URL, e.Auth)
	}
	var body map[string]any
	if err := json.Unmarshal(e.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["CallSid"] != "c1" || body["CallStatus"] != "completed" || body["From"] != "15550100001" || body["OriginalFrom"] != "+15550100001" {
		t.Errorf("status callback body: %v", body)
	}
}

type noSender struct{}

func (noSender) Send(context.Context, adapter.Request) (*adapter.Response, error) { panic("unused") }

type noMedia struct{}

func (noMedia) Audio(context.Context, *url.URL) (string, error)                { panic("unused") }
func (noMedia) Speech(context.Context, string, string, string) (string, error) { panic("unused") }

type noLinks struct{}

func (noLinks) FileURL(sid, ext string) string { return "http://bridge/f/" + sid }
