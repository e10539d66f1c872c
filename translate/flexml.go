package translate

// flexmlVerbs is CarrierX FlexML: every element that may appear in a document, and where.
// Record sits only directly in <Response> (record.md §0). Gather holds the prompts played while
// digits are collected; PreAnswer holds what may run before the call is answered.
var flexmlVerbs = verbTable{
	"dial":      {name: "Dial", in: ctxResponse, parse: parseFlexMLDial},
	"gather":    {name: "Gather", in: ctxResponse, parse: parseFlexMLGather},
	"hangup":    {name: "Hangup", in: ctxResponse, parse: parseFlexMLHangup},
	"pause":     {name: "Pause", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLPause},
	"play":      {name: "Play", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLPlay},
	"preanswer": {name: "PreAnswer", in: ctxResponse, parse: parseFlexMLPreAnswer},
	"record":    {name: "Record", in: ctxResponse, parse: parseFlexMLRecord},
	"redirect":  {name: "Redirect", in: ctxResponse, parse: parseFlexMLRedirect},
	"reject":    {name: "Reject", in: ctxResponse, parse: parseFlexMLReject},
	"say":       {name: "Say", in: ctxResponse | ctxGather | ctxPreAnswer, parse: parseFlexMLSay},
}
