package translate

// flexmlVerbs is CarrierX FlexML: every element that may appear in a document, and where.
// Record sits only directly in <Response> (record.md §0). Gather holds the prompts played while
// digits are collected: CarrierX nests Say, Play and Pause there. PreAnswer holds what may run
// before the call is answered; Choice: CarrierX lists no nesting for it, so it takes the same
// media verbs as Gather (what Plivo documents for its PreAnswer), since anything else (Dial,
// Gather, Record) would need the call answered.
//
// Number and Sip are nouns: parseFlexMLDial reads them itself, and their entries exist so that
// one written anywhere else gets "may appear only in <Dial>". p.verbs is never called with
// ctxDial, so their parse functions are never used.
var flexmlVerbs = verbTable{
	"dial":      {name: "Dial", in: ctxResponse, parse: parseFlexMLDial},
	"gather":    {name: "Gather", in: ctxResponse, parse: parseFlexMLGather},
	"hangup":    {name: "Hangup", in: ctxResponse, parse: parseFlexMLHangup},
	"number":    {name: "Number", in: ctxDial, parse: nounOutsideDial},
	"pause":     {name: "Pause", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLPause},
	"play":      {name: "Play", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLPlay},
	"preanswer": {name: "PreAnswer", in: ctxResponse, parse: parseFlexMLPreAnswer},
	"record":    {name: "Record", in: ctxResponse, parse: parseFlexMLRecord},
	"redirect":  {name: "Redirect", in: ctxResponse, parse: parseFlexMLRedirect},
	"reject":    {name: "Reject", in: ctxResponse, parse: parseFlexMLReject},
	"say":       {name: "Say", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLSay},
	"sip":       {name: "Sip", in: ctxDial, parse: nounOutsideDial},
}
