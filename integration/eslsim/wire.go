package eslsim

import (
	"bufio"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// header is one "Name: value" line; values are stored decoded and encoded on the wire.
type header struct{ k, v string }

// urlUnsafe is the set FreeSWITCH's switch_url_encode escapes (switch_utils.c), besides
// control bytes and bytes >= 0x80.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// Encode escapes a header value the way FreeSWITCH does for plain events.
func Encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(urlUnsafe, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// command is one message a client sent: the command line, its headers (sendmsg) and body.
type command struct {
	line    string
	headers textproto.MIMEHeader
	body    string
}

// readCommand reads one client message: lines up to a blank line (LF or CRLF), then
// Content-Length bytes of body when a Content-Length header was given.
func readCommand(r *bufio.Reader) (command, error) {
	var cmd command
	cmd.headers = textproto.MIMEHeader{}
	first := true
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return cmd, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if first {
				continue // stray blank line between commands
			}
			break
		}
		if first {
			cmd.line = line
			first = false
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			cmd.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	if n, err := strconv.Atoi(cmd.headers.Get("Content-Length")); err == nil && n > 0 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return cmd, err
		}
		cmd.body = string(buf)
	}
	return cmd, nil
}

// Frames, byte for byte as FreeSWITCH 1.10 writes them (mod_event_socket.c).

func replyFrame(text string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func apiFrame(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func disconnectFrame(uuid string) []byte {
	var b strings.Builder
	b.WriteString("Content-Type: text/disconnect-notice\n")
	if uuid != "" {
		b.WriteString("Controlled-Session-UUID: " + uuid + "\n")
		b.WriteString("Content-Disposition: disconnect\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(goodbye), goodbye)
	return []byte(b.String())
}

func lingerFrame(uuid, channelName string, linger int) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\n"+
		"Content-Disposition: linger\nChannel-Name: %s\nLinger-Time: %d\nContent-Length: 0\n\n",
		uuid, channelName, linger))
}

// plainBody renders an event's headers as the body of a text/event-plain frame: one
// "Name: url-encoded value" line each, then a blank line, then the event body if any.
func plainBody(hs []header, body string) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.k + ": " + Encode(h.v) + "\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(body), body)
		return b.String()
	}
	b.WriteString("\n")
	return b.String()
}

func eventFrame(hs []header, body string) []byte {
	pb := plainBody(hs, body)
	return []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(pb), pb))
}

// jsonEventFrame renders an event as FreeSWITCH does for `event json` (f_json_record_dtmf):
// one JSON object, keys in header order, values not URL-encoded, an event body under "_body"
// after its "Content-Length", and no newline after the object.
func jsonEventFrame(hs []header, body string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, h.k)
		b.WriteByte(':')
		writeJSONString(&b, h.v)
	}
	if body != "" {
		fmt.Fprintf(&b, `,"Content-Length":"%d","_body":`, len(body))
		writeJSONString(&b, body)
	}
	b.WriteByte('}')
	return []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-json\n\n%s", b.Len(), b.String()))
}

// writeJSONString escapes as cJSON does: quote, backslash and control bytes; '/' and
// non-ASCII bytes as they are.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
