// Command exampleapp serves the example applications of integration/apptest (a FlexML and a
// Plivo voicemail, and two broken ones) on loopback and logs every request they receive, so
// that 'pbxbridge call' has something to call:
//
//	go run ./integration/apptest/exampleapp &     # prints the URLs
//	pbxbridge call --url http://127.0.0.1:PORT/flexml/voicemail --dtmf 6s:#
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

func main() {
	app, err := apptest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "exampleapp:", err)
		os.Exit(1)
	}
	defer app.Close()
	apptest.Examples(app)
	for _, p := range []string{apptest.FlexMLVoicemail, apptest.PlivoVoicemail, apptest.BrokenDocument, apptest.BrokenCallback} {
		fmt.Printf("%s%s\n", app.URL, p)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	seen := 0
	for {
		select {
		case <-sig:
			return
		case <-time.After(200 * time.Millisecond):
		}
		reqs := app.Requests()
		for ; seen < len(reqs); seen++ {
			fmt.Print(reqs[seen].Format())
		}
	}
}
