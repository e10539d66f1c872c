package translate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalJSON renders the program for people (`pbxbridge validate --json` and the golden
// files): each verb as an object whose first keys are "Verb" and "Pos", durations as "5s",
// URLs with passwords redacted, secrets as "[redacted]", default retry policies left out, and
// nil pointers, empty strings and empty lists omitted. It is a view, not a wire format: there
// is no UnmarshalJSON.
func (p *Program) MarshalJSON() ([]byte, error) {
	b := appendJSON(nil, reflect.ValueOf(*p))
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

var (
	typDuration = reflect.TypeFor[time.Duration]()
	typURL      = reflect.TypeFor[url.URL]()
	typSecret   = reflect.TypeFor[Secret]()
	typKeySet   = reflect.TypeFor[KeySet]()
	typRetryOn  = reflect.TypeFor[RetryClass]()
	typPolicy   = reflect.TypeFor[RetryPolicy]()
	typBase     = reflect.TypeFor[VerbBase]()
)

func appendJSON(b []byte, v reflect.Value) []byte {
	switch v.Type() {
	case typDuration:
		return appendQuoted(b, time.Duration(v.Int()).String())
	case typURL:
		u := v.Interface().(url.URL)
		return appendQuoted(b, u.Redacted())
	case typSecret:
		return appendQuoted(b, v.Interface().(Secret).String())
	case typKeySet:
		if v.Uint() == 0 {
			return appendQuoted(b, "none")
		}
		return appendQuoted(b, KeySet(v.Uint()).String())
	case typRetryOn:
		return appendQuoted(b, RetryClass(v.Uint()).String())
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...)
		}
		if vb, ok := v.Interface().(Verb); ok {
			return appendVerb(b, vb)
		}
		return appendJSON(b, v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendJSON(b, v.Elem())
	case reflect.Struct:
		b = append(b, '{')
		b, _ = appendFields(b, v, false)
		return append(b, '}')
	case reflect.Slice, reflect.Array:
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.String:
		return appendQuoted(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 64)
	}
	return appendQuoted(b, v.String())
}

func appendVerb(b []byte, vb Verb) []byte {
	b = append(b, `{"Verb":`...)
	b = appendQuoted(b, vb.Element())
	b = append(b, `,"Pos":`...)
	b = appendQuoted(b, vb.Position().String())
	v := reflect.ValueOf(vb)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		b, _ = appendFields(b, v, true)
	}
	return append(b, '}')
}

// appendFields writes the fields of a struct, flattening embedded structs like encoding/json.
// comma says whether a field was already written before these.
func appendFields(b []byte, v reflect.Value, comma bool) ([]byte, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type == typBase || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				b, comma = appendFields(b, fv, comma)
				continue
			}
		}
		if omit(fv) {
			continue
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = appendQuoted(b, f.Name)
		b = append(b, ':')
		b = appendJSON(b, fv)
	}
	return b, comma
}

func omit(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		if v.Type() == typPolicy {
			return !v.Interface().(RetryPolicy).FromFragment
		}
		if v.Type() == typSecret {
			return !v.Interface().(Secret).IsSet()
		}
	}
	return false
}

// appendQuoted writes s as a JSON string without HTML escaping, so URLs stay readable.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c == '\n':
			b = append(b, '\\', 'n')
			i++
		case c == '\t':
			b = append(b, '\\', 't')
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}
