package translate

// plivoVerbs is Plivo XML: every element that may appear in a document, and where.
// Record sits only directly in <Response> (record.md §0 applies the CarrierX rule to Plivo).
var plivoVerbs = verbTable{
	"dial":      {name: "Dial", in: ctxResponse, parse: parsePlivoDial},
	"dtmf":      {name: "DTMF", in: ctxResponse | ctxPreAnswer, parse: parsePlivoDTMF},
	"getdigits": {name: "GetDigits", in: ctxResponse | ctxPreAnswer, parse: parsePlivoGetDigits},
	"getinput":  {name: "GetInput", in: ctxResponse | ctxPreAnswer, parse: parsePlivoGetInput},
	"hangup":    {name: "Hangup", in: ctxResponse, parse: parsePlivoHangup},
	"play":      {name: "Play", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoPlay},
	"preanswer": {name: "PreAnswer", in: ctxResponse, parse: parsePlivoPreAnswer},
	"record":    {name: "Record", in: ctxResponse, parse: parsePlivoRecord},
	"redirect":  {name: "Redirect", in: ctxResponse | ctxPreAnswer, parse: parsePlivoRedirect},
	"speak":     {name: "Speak", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoSpeak},
	"wait":      {name: "Wait", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parsePlivoWait},
}
