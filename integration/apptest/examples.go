package apptest

import (
	"net/http"
	"strings"
)

// Example applications, good and broken, for `pbxbridge call`'s tests, the demo and anyone
// who wants a voicemail to call (the docker and dashboard work): Examples serves them all
// on one App, under the paths below. Each good one records a message that ends with '#'
// (or a silence of 5 s, or 30 s), then thanks the caller and hangs up; its callbackUrl
// answers 200.
const (
	// FlexMLVoicemail: CarrierX FlexML Record with action (executed) and callbackUrl.
	FlexMLVoicemail = "/flexml/voicemail"
	// PlivoVoicemail: Plivo XML Record with action (executed) and callbackUrl.
	PlivoVoicemail = "/plivo/voicemail"
	// BrokenDocument: a FlexML answer that is not well-formed XML (a Record never closed).
	BrokenDocument = "/broken/document"
	// BrokenCallback: the FlexML voicemail whose callbackUrl answers 500.
	BrokenCallback = "/broken/callback"
	// ExampleStatus is the status (hangup) callback endpoint of every example; it answers 200.
	ExampleStatus = "/status"
)

const flexmlVoicemail = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Record action="/flexml/after-record" callbackUrl="%CALLBACK%" playBeep="false" finishOnKey="#"
          maxLength="30" timeout="5" fileFormat="wav" trim="do-not-trim"/>
  <Hangup/>
</Response>`

const flexmlAfterRecord = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Pause length="1"/>
  <Hangup/>
</Response>`

const plivoVoicemail = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Record action="/plivo/after-record" method="POST" callbackUrl="/plivo/recorded" callbackMethod="POST"
          playBeep="false" finishOnKey="#" maxLength="30" timeout="5" fileFormat="wav"/>
  <Hangup/>
</Response>`

const plivoAfterRecord = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Wait length="1"/>
  <Hangup/>
</Response>`

// brokenDocument is cut off: the Response is never closed.
const brokenDocument = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Record action="/flexml/after-record" maxLength="30" finishOnKey="#">
`

// Examples serves every example application on a.
func Examples(a *App) {
	a.Document(FlexMLVoicemail, replaceCallback(flexmlVoicemail, "/flexml/recorded"))
	a.Document("/flexml/after-record", flexmlAfterRecord)
	a.Status("/flexml/recorded", http.StatusOK)

	a.Document(PlivoVoicemail, plivoVoicemail)
	a.Document("/plivo/after-record", plivoAfterRecord)
	a.Status("/plivo/recorded", http.StatusOK)

	a.Document(BrokenDocument, brokenDocument)

	a.Document(BrokenCallback, replaceCallback(flexmlVoicemail, "/broken/recorded"))
	a.Status("/broken/recorded", http.StatusInternalServerError)

	a.Status(ExampleStatus, http.StatusOK)
}

func replaceCallback(doc, path string) string { return strings.Replace(doc, "%CALLBACK%", path, 1) }
