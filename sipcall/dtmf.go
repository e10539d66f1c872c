package sipcall

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrDTMF: a DTMF schedule does not parse.
var ErrDTMF = errors.New("invalid DTMF schedule")

// Digit is one DTMF digit sent at a time after the call is answered.
type Digit struct {
	At    time.Duration // from the answer (the start of the audio)
	Digit byte          // 0-9, *, #, A-D
}

// ToneLength is how long each digit sounds. Asterisk's default minimum is 40 ms; phones send
// 100 ms or more.
const ToneLength = 200 * time.Millisecond

// ParseDTMF reads a schedule such as "3s:1,5.5s:#,8s:12#": comma-separated TIME:DIGITS, where
// TIME is a Go duration from the answer and DIGITS are sent one after the other (each
// ToneLength, with as much silence between). The result is sorted by time; digits may not
// overlap.
func ParseDTMF(s string) ([]Digit, error) {
	var out []Digit
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		at, digits, ok := strings.Cut(item, ":")
		if !ok || digits == "" {
			return nil, fmt.Errorf("%w: %q: want TIME:DIGITS, e.g. 3s:1 or 5.5s:#", ErrDTMF, item)
		}
		d, err := time.ParseDuration(strings.TrimSpace(at))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: %q: the time %q is not a duration >= 0 such as 3s or 1500ms", ErrDTMF, item, at)
		}
		for i := 0; i < len(digits); i++ {
			c := digits[i]
			if _, ok := eventCode(c); !ok {
				return nil, fmt.Errorf("%w: %q: %q is not a DTMF digit (0-9, *, #, A-D)", ErrDTMF, item, string(c))
			}
			out = append(out, Digit{At: d + time.Duration(i)*2*ToneLength, Digit: c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	for i := 1; i < len(out); i++ {
		if out[i].At < out[i-1].At+ToneLength+2*packet {
			return nil, fmt.Errorf("%w: %q at %s and %q at %s overlap: digits need %s between their starts",
				ErrDTMF, string(out[i-1].Digit), out[i-1].At, string(out[i].Digit), out[i].At, ToneLength+2*packet)
		}
	}
	return out, nil
}

// eventCode is the RFC 4733 event of a digit.
func eventCode(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c == '*':
		return 10, true
	case c == '#':
		return 11, true
	case c >= 'A' && c <= 'D':
		return 12 + c - 'A', true
	case c >= 'a' && c <= 'd':
		return 12 + c - 'a', true
	}
	return 0, false
}
