package translate

// plivoVerbs is Plivo XML: every element that may appear in a document, and where.
// Record sits only directly in <Response> (record.md §0 applies the CarrierX rule to Plivo).
//
// Plivo's pages nest Speak and Play in GetDigits and GetInput, and Speak, Play and Wait in
// PreAnswer (the plivo-python SDK's element classes agree). Choice: Wait is also accepted in
// GetDigits and GetInput, because the SDK's GetInputElement nests it (add_wait) and Plivo's
// open-source framework allowed it in GetDigits, so documents built with the SDK contain it.
// DTMF, GetDigits, GetInput and Redirect are no longer allowed in PreAnswer (the legacy
// framework allowed some of them; the hosted service documents only Speak, Play and Wait).
//
// Number and User are nouns: parsePlivoDial reads them itself, and their entries exist so that
// one written anywhere else gets "may appear only in <Dial>".
var plivoVerbs = verbTable{
	"dial":      {name: "Dial", in: ctxResponse, parse: parsePlivoDial},
	"dtmf":      {name: "DTMF", in: ctxResponse, parse: parsePlivoDTMF},
	"getdigits": {name: "GetDigits", in: ctxResponse, parse: parsePlivoGetDigits},
	"getinput":  {name: "GetInput", in: ctxResponse, parse: parsePlivoGetInput},
	"hangup":    {name: "Hangup", in: ctxResponse, parse: parsePlivoHangup},
	"number":    {name: "Number", in: ctxDial, parse: nounOutsideDial},
	"play":      {name: "Play", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoPlay},
	"preanswer": {name: "PreAnswer", in: ctxResponse, parse: parsePlivoPreAnswer},
	"record":    {name: "Record", in: ctxResponse, parse: parsePlivoRecord},
	"redirect":  {name: "Redirect", in: ctxResponse, parse: parsePlivoRedirect},
	"speak":     {name: "Speak", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoSpeak},
	"user":      {name: "User", in: ctxDial, parse: nounOutsideDial},
	"wait":      {name: "Wait", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoWait},
}
