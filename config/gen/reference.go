package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/config"
)

// sample is the smallest configuration that has one element of every list, so that the
// elements' defaults show. The values it sets itself are not defaults (supplied).
const sample = `
asterisk: [{password: x}]
freeswitch: [{}]
apps: [{name: a, dialect: flexml, url: "http://app.invalid/doc"}]
`

var supplied = map[string]bool{
	"asterisk[].password": true, "apps[].name": true, "apps[].dialect": true, "apps[].url": true,
	"default_app":      true, // the first app: "a" here
	"containers[].sid": true, // the default container
}

// docs are the doc comments of the config package: type name -> field name -> text, and
// type name -> the type's own comment.
type docs struct {
	fields map[string]map[string]string
	types  map[string]string
}

func parseDocs(dir string) (*docs, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	structs := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if _, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = true
				}
			}
			return true
		})
	}
	d := &docs{fields: map[string]map[string]string{}, types: map[string]string{}}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				d.types[ts.Name.Name] = text(doc)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				m := map[string]string{}
				prev, prevLine := "", -2
				for _, fl := range st.Fields.List {
					t := text(fl.Doc)
					if t == "" {
						t = text(fl.Comment)
					}
					line := fset.Position(fl.Pos()).Line
					if t == "" && line == prevLine+1 && !isStruct(structs, fl.Type) {
						// one comment above a run of fields describes them all (a struct
						// field is described by its type instead)
						t = prev
					}
					for _, n := range fl.Names {
						m[n.Name] = t
					}
					prev, prevLine = t, fset.Position(fl.End()).Line
				}
				d.fields[ts.Name.Name] = m
			}
		}
	}
	return d, nil
}

// isStruct reports whether a field's type is (a list of) a struct type of the package.
func isStruct(structs map[string]bool, e ast.Expr) bool {
	if a, ok := e.(*ast.ArrayType); ok {
		e = a.Elt
	}
	id, ok := e.(*ast.Ident)
	return ok && structs[id.Name]
}

func text(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// row is one key of the reference.
type row struct {
	key, typ, def, desc string
}

// section is one struct: its rows, in field order.
type section struct {
	path, typeName, doc string
	rows                []row
}

// reference returns docs/config.md, and the keys that have no description.
func reference(dir string) (string, []string, error) {
	d, err := parseDocs(dir)
	if err != nil {
		return "", nil, err
	}
	cfg, err := config.Parse([]byte(sample))
	if err != nil {
		return "", nil, fmt.Errorf("sample configuration: %w", err)
	}
	var secs []section
	var missing []string
	var walk func(path string, t reflect.Type, v reflect.Value)
	walk = func(path string, t reflect.Type, v reflect.Value) {
		sec := section{path: path, typeName: t.Name(), doc: d.types[t.Name()]}
		type sub struct {
			path string
			t    reflect.Type
			v    reflect.Value
		}
		var subs []sub
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			key := tag
			if path != "" {
				key = path + "." + tag
			}
			desc := d.fields[t.Name()][f.Name]
			ft, fv := f.Type, v.Field(i)
			elem := ft
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				elem = ft.Elem()
			}
			if desc == "" && elem.Kind() == reflect.Struct {
				desc = d.types[elem.Name()]
			}
			if desc == "" {
				missing = append(missing, key)
			}
			r := row{key: key, typ: typeName(ft), desc: desc}
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
				r.def = "see [`" + key + "`](#" + anchor(key) + ")"
				subs = append(subs, sub{key, ft, fv})
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				r.def = "see [`" + key + "[]`](#" + anchor(key+"[]") + ")"
				var ev reflect.Value
				if fv.Len() > 0 {
					ev = fv.Index(0)
				} else {
					ev = reflect.New(ft.Elem()).Elem()
				}
				switch key {
				case "asterisk":
					r.def = "one, `http://127.0.0.1:8088/ari` with the test password `pbxbridge-test`, when neither `asterisk` nor `freeswitch` is given"
				case "containers":
					r.def = "one, `default`"
				}
				subs = append(subs, sub{key + "[]", ft.Elem(), ev})
			default:
				r.def = defaultOf(key, fv)
			}
			sec.rows = append(sec.rows, r)
		}
		secs = append(secs, sec)
		for _, s := range subs {
			walk(s.path, s.t, s.v)
		}
	}
	walk("", reflect.TypeFor[config.Config](), reflect.ValueOf(*cfg))

	var b strings.Builder
	b.WriteString("# pbxbridge configuration reference\n\n")
	b.WriteString("<!-- Generated by `go generate ./config` (config/gen) from config/*.go: edit the doc comments there, not this file. -->\n\n")
	b.WriteString("`pbxbridge serve --config FILE` reads one YAML file. `${VAR}` is replaced from the environment\n")
	b.WriteString("(`$$` is a `$`), unknown keys are refused, and every error names the key at fault. A key left\n")
	b.WriteString("out takes its default. Secrets (type *secret*) are never logged, written to callbacks or\n")
	b.WriteString("stored in clear; pass them as `${VAR}`. `key[]` means each element of the list `key`.\n")
	for _, s := range secs {
		title := s.path
		if title == "" {
			title = "Top level"
		} else {
			title = "`" + title + "`"
		}
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		if s.path != "" && s.doc != "" {
			fmt.Fprintf(&b, "%s\n\n", s.doc)
		}
		b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
		for _, r := range s.rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.key, r.typ, cell(r.def), cell(r.desc))
		}
	}
	sort.Strings(missing)
	return b.String(), missing, nil
}

// anchor is GitHub's heading anchor for a heading `key`.
func anchor(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func typeName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[config.Duration]():
		return "duration"
	case reflect.TypeFor[config.Secret]():
		return "secret"
	}
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of " + t.Elem().Name()
		}
		return "list of " + typeName(t.Elem())
	case reflect.Struct:
		return "section"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return "string"
}

// defaultOf is the value config.Parse filled in, as YAML would write it; "—" for none.
func defaultOf(key string, v reflect.Value) string {
	if supplied[key] || v.IsZero() {
		return ""
	}
	switch x := v.Interface().(type) {
	case config.Secret:
		return ""
	case config.Duration:
		return "`" + shortDuration(time.Duration(x)) + "`"
	}
	if v.Kind() == reflect.Slice {
		return ""
	}
	return fmt.Sprintf("`%v`", v.Interface())
}

// shortDuration writes 2m rather than 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
