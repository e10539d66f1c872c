package sipcall

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Markers the scenario writes to SIPp's log (-trace_logs), one per line, so that Run can tell
// how the call went.
const (
	logAnswered = "pbxbridge-sipcall: answered"
	logFarBye   = "pbxbridge-sipcall: far end hung up"
	logNearBye  = "pbxbridge-sipcall: caller hung up"
)

// scenario is a UAC that offers µ-law and telephone-event, plays pcap once answered, and
// then waits up to hold for the far end's BYE (the application hanging up); if none comes,
// it hangs up itself.
func scenario(from, pcap string, hold time.Duration) string {
	r := strings.NewReplacer(
		"@FROM@", from,
		"@PCAP@", html.EscapeString(pcap),
		"@HOLD@", fmt.Sprint(max(hold.Milliseconds(), 1)),
		"@PT@", fmt.Sprint(EventPayloadType),
		"@ANSWERED@", logAnswered, "@FARBYE@", logFarBye, "@NEARBYE@", logNearBye,
	)
	return r.Replace(scenarioTemplate)
}

const scenarioTemplate = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Written by pbxbridge call (sipcall): one call with pcap audio and RFC 4733 digits. -->
<scenario name="pbxbridge call">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]pbxbcall[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: pbxbridge-call
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=pbxbridge 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 @PT@
      a=rtpmap:0 PCMU/8000
      a=rtpmap:@PT@ telephone-event/8000
      a=fmtp:@PT@ 0-16
      a=ptime:20
      a=sendrecv

    ]]>
  </send>

  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="183" optional="true" />
  <recv response="200" rtd="true" />

  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]pbxbcall[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <nop>
    <action>
      <log message="@ANSWERED@" />
      <exec play_pcap_audio="@PCAP@" />
    </action>
  </nop>

  <recv request="BYE" timeout="@HOLD@" ontimeout="1" />
  <nop>
    <action>
      <log message="@FARBYE@" />
    </action>
  </nop>
  <send next="2">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>

  <label id="1" />
  <nop>
    <action>
      <log message="@NEARBYE@" />
    </action>
  </nop>
  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]pbxbcall[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true" />

  <label id="2" />
</scenario>
`
