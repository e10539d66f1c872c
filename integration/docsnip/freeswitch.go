package docsnip

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Dialplan is what the documented FreeSWITCH extension does before it hands the call over.
type Dialplan struct {
	Vars   map[string]string // set actions: name -> value
	Socket string            // the socket action's data: "127.0.0.1:8084 async full"
	Line   int
}

// SocketMode is the socket data after the address: "async full".
func (d Dialplan) SocketMode() string {
	_, mode, _ := strings.Cut(d.Socket, " ")
	return mode
}

// FreeSWITCHDialplan reads the first <extension> snippet of docs/freeswitch.md.
func FreeSWITCHDialplan() (Dialplan, error) {
	blocks, err := Blocks("docs/freeswitch.md")
	if err != nil {
		return Dialplan{}, err
	}
	for _, b := range blocks {
		if b.Lang != "xml" || !strings.Contains(b.Text, "<extension") {
			continue
		}
		var ext struct {
			Actions []struct {
				App  string `xml:"application,attr"`
				Data string `xml:"data,attr"`
			} `xml:"condition>action"`
		}
		if err := xml.Unmarshal([]byte(b.Text), &ext); err != nil {
			return Dialplan{}, fmt.Errorf("docs/freeswitch.md:%d: %w", b.Line, err)
		}
		d := Dialplan{Vars: map[string]string{}, Line: b.Line}
		for _, a := range ext.Actions {
			switch a.App {
			case "set":
				k, v, _ := strings.Cut(a.Data, "=")
				d.Vars[k] = v
			case "socket":
				d.Socket = a.Data
			}
		}
		return d, nil
	}
	return Dialplan{}, fmt.Errorf("docs/freeswitch.md: no <extension> snippet")
}

// EventSocket reads the params of the documented event_socket.conf.xml.
func EventSocket() (map[string]string, error) {
	blocks, err := Blocks("docs/freeswitch.md")
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if b.Lang != "xml" || !strings.Contains(b.Text, `name="event_socket.conf"`) {
			continue
		}
		var c struct {
			Params []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"settings>param"`
		}
		if err := xml.Unmarshal([]byte(b.Text), &c); err != nil {
			return nil, fmt.Errorf("docs/freeswitch.md:%d: %w", b.Line, err)
		}
		out := map[string]string{}
		for _, p := range c.Params {
			out[p.Name] = p.Value
		}
		return out, nil
	}
	return nil, fmt.Errorf("docs/freeswitch.md: no event_socket.conf snippet")
}
