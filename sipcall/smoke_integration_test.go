package sipcall_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/sipcall"
)

// TestBaselineCall calls the project Asterisk's record-dtmf entry point (a dialplan Record
// that ends on '#', no pbxbridge) and checks that the call is answered and that the caller
// hangs up after Hold. Needs PBXBRIDGE_INTEGRATION=1 and the project's Asterisk.
func TestBaselineCall(t *testing.T) {
	if os.Getenv("PBXBRIDGE_INTEGRATION") == "" {
		t.Skip("set PBXBRIDGE_INTEGRATION=1 (and start integration/asterisk/run.sh) to run")
	}
	ul := make([]byte, 8000*3)
	for i := range ul {
		ul[i] = byte(0x10 + i%64) // loud noise
	}
	digits, err := sipcall.ParseDTMF("2s:#")
	if err != nil {
		t.Fatal(err)
	}
	res, err := sipcall.Run(context.Background(), sipcall.Call{PBX: "127.0.0.1:5060", To: "record-dtmf",
		ULaw: ul, Digits: digits, Hold: 4 * time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Output)
	}
	if !res.Answered || res.FarEnd {
		t.Fatalf("answered %v, far end hung up %v", res.Answered, res.FarEnd)
	}
	t.Logf("%+v", res)
}
