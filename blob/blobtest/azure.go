package blobtest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Azure is a fake of the Azure Blob service, path-style as Azurite serves it
// (http://host/<account>/<container>/<blob>), limited to the calls azblob makes for blob.azure:
// Put Blob, Put Block and Put Block List, Get Blob (whole or with x-ms-range / Range), Get Blob
// Properties (HEAD) and Delete Blob. It checks every request's credentials as the service
// does: a SharedKey signature recomputed from the request (the documented string-to-sign,
// x-ms-date required), or a SAS whose parameters must match the token issued, with its expiry
// and permissions enforced. Errors come as the service sends them: status, x-ms-error-code and
// an XML <Error> body. Azurite, the real emulator, is a Node program and cannot run here.
type Azure struct {
	Account string
	Key     []byte // the account key, decoded
	SAS     url.Values

	mu         sync.Mutex
	containers map[string]map[string]*azObject // container -> blob -> object
	blocks     map[string]map[string][]byte    // container/blob -> block id -> data
}

type azObject struct {
	data        []byte
	contentType string
	modified    time.Time
	etag        string
}

// NewAzure returns a fake for account, whose key is keyB64 (base64), holding the given
// empty containers. sas, when not empty, is a SAS token the fake accepts besides SharedKey.
func NewAzure(account, keyB64, sas string, containers ...string) (*Azure, error) {
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil {
		return nil, fmt.Errorf("azure fake: key: %w", err)
	}
	a := &Azure{Account: account, Key: key, containers: map[string]map[string]*azObject{}, blocks: map[string]map[string][]byte{}}
	if sas != "" {
		if a.SAS, err = url.ParseQuery(strings.TrimPrefix(sas, "?")); err != nil {
			return nil, fmt.Errorf("azure fake: sas: %w", err)
		}
	}
	for _, c := range containers {
		a.containers[c] = map[string]*azObject{}
	}
	return a, nil
}

// Object returns a stored blob's bytes and content type.
func (a *Azure) Object(container, name string) ([]byte, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.containers[container][name]
	if !ok {
		return nil, "", false
	}
	return append([]byte(nil), o.data...), o.contentType, true
}

func azError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("x-ms-request-id", "fake")
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (a *Azure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 || parts[0] != a.Account || parts[2] == "" {
		azError(w, r, http.StatusBadRequest, "InvalidUri", "path-style /account/container/blob expected")
		return
	}
	if code, msg := a.authorize(r); code != "" {
		azError(w, r, http.StatusForbidden, code, msg)
		return
	}
	cont, name := parts[1], parts[2]
	q := r.URL.Query()
	a.mu.Lock()
	defer a.mu.Unlock()
	objs, ok := a.containers[cont]
	if !ok {
		azError(w, r, http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
		return
	}
	w.Header().Set("x-ms-request-id", "fake")
	w.Header().Set("x-ms-version", r.Header.Get("x-ms-version"))
	switch {
	case r.Method == http.MethodPut && q.Get("comp") == "block":
		id := q.Get("blockid")
		if id == "" {
			azError(w, r, http.StatusBadRequest, "InvalidQueryParameterValue", "blockid")
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		k := cont + "/" + name
		if a.blocks[k] == nil {
			a.blocks[k] = map[string][]byte{}
		}
		a.blocks[k][id] = data
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPut && q.Get("comp") == "blocklist":
		var list struct {
			IDs []struct {
				XMLName xml.Name
				ID      string `xml:",chardata"`
			} `xml:",any"`
		}
		if err := xml.NewDecoder(r.Body).Decode(&list); err != nil {
			azError(w, r, http.StatusBadRequest, "InvalidXmlDocument", err.Error())
			return
		}
		k := cont + "/" + name
		var data []byte
		for _, id := range list.IDs {
			b, ok := a.blocks[k][id.ID]
			if !ok {
				azError(w, r, http.StatusBadRequest, "InvalidBlockList", "unknown block "+id.ID)
				return
			}
			data = append(data, b...)
		}
		delete(a.blocks, k)
		a.store(w, objs, name, data, r.Header.Get("x-ms-blob-content-type"))
	case r.Method == http.MethodPut && q.Get("comp") == "":
		if r.Header.Get("x-ms-blob-type") != "BlockBlob" {
			azError(w, r, http.StatusBadRequest, "MissingRequiredHeader", "x-ms-blob-type")
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		ct := r.Header.Get("x-ms-blob-content-type")
		if ct == "" {
			ct = r.Header.Get("Content-Type")
		}
		a.store(w, objs, name, data, ct)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && q.Get("comp") == "":
		o, ok := objs[name]
		if !ok {
			azError(w, r, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
			return
		}
		h := w.Header()
		h.Set("Content-Type", o.contentType)
		h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
		h.Set("ETag", o.etag)
		h.Set("x-ms-blob-type", "BlockBlob")
		h.Set("Accept-Ranges", "bytes")
		if r.Method == http.MethodHead {
			h.Set("Content-Length", strconv.Itoa(len(o.data)))
			w.WriteHeader(http.StatusOK)
			return
		}
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		if rng == "" {
			h.Set("Content-Length", strconv.Itoa(len(o.data)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(o.data)
			return
		}
		start, end, ok := parseRange(rng, int64(len(o.data)))
		if !ok {
			azError(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.")
			return
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(o.data)))
		h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(o.data[start : end+1])
	case r.Method == http.MethodDelete:
		if _, ok := objs[name]; !ok {
			azError(w, r, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
			return
		}
		delete(objs, name)
		w.WriteHeader(http.StatusAccepted)
	default:
		azError(w, r, http.StatusBadRequest, "UnsupportedHttpVerb", r.Method+" "+q.Get("comp"))
	}
}

func (a *Azure) store(w http.ResponseWriter, objs map[string]*azObject, name string, data []byte, ct string) {
	if ct == "" {
		ct = "application/octet-stream"
	}
	now := time.Now().UTC().Truncate(time.Second)
	sum := md5.Sum(data)
	o := &azObject{data: data, contentType: ct, modified: now, etag: fmt.Sprintf(`"0x%X"`, now.UnixNano())}
	objs[name] = o
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Last-Modified", now.Format(http.TimeFormat))
	w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("x-ms-request-server-encrypted", "true")
	w.WriteHeader(http.StatusCreated)
}

// parseRange reads "bytes=a-b" or "bytes=a-" against size.
func parseRange(s string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

// authorize checks SharedKey or SAS; it returns the service's error code, or "".
func (a *Azure) authorize(r *http.Request) (string, string) {
	q := r.URL.Query()
	if q.Get("sig") != "" {
		if a.SAS == nil {
			return "AuthenticationFailed", "no SAS issued"
		}
		for k, v := range a.SAS {
			if q.Get(k) != v[0] {
				return "AuthenticationFailed", "Signature did not match: parameter " + k
			}
		}
		if se := a.SAS.Get("se"); se != "" {
			t, err := time.Parse(time.RFC3339, se)
			if err != nil || time.Now().After(t) {
				return "AuthenticationFailed", "Signed expiry time has passed"
			}
		}
		need := map[string]string{http.MethodGet: "r", http.MethodHead: "r", http.MethodPut: "w", http.MethodDelete: "d"}[r.Method]
		if !strings.Contains(a.SAS.Get("sp"), need) {
			return "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission."
		}
		return "", ""
	}
	auth := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(auth, " ")
	acct, sig, _ := strings.Cut(rest, ":")
	if scheme != "SharedKey" || acct != a.Account {
		return "NoAuthenticationInformation", "Server failed to authenticate the request."
	}
	if r.Header.Get("x-ms-date") == "" || r.Header.Get("x-ms-version") == "" {
		return "AuthenticationFailed", "x-ms-date and x-ms-version are required"
	}
	mac := hmac.New(sha256.New, a.Key)
	mac.Write([]byte(a.stringToSign(r)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
	}
	return "", ""
}

// stringToSign is the SharedKey string-to-sign of the Blob service (version 2009-09-19 and
// later), as the service documents it.
func (a *Azure) stringToSign(r *http.Request) string {
	h := r.Header
	cl := h.Get("Content-Length")
	if cl == "" && r.ContentLength > 0 {
		cl = strconv.FormatInt(r.ContentLength, 10)
	}
	if cl == "0" {
		cl = ""
	}
	var xms []string
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-ms-") {
			xms = append(xms, lk)
		}
	}
	sort.Strings(xms)
	var ch []string
	for _, k := range xms {
		ch = append(ch, k+":"+strings.Join(h.Values(k), ","))
	}
	res := "/" + a.Account + r.URL.EscapedPath()
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		res += "\n" + strings.ToLower(k) + ":" + strings.Join(vs, ",")
	}
	return strings.Join([]string{
		r.Method, h.Get("Content-Encoding"), h.Get("Content-Language"), cl, h.Get("Content-MD5"),
		h.Get("Content-Type"), "" /* Date: x-ms-date stands in */, h.Get("If-Modified-Since"), h.Get("If-Match"),
		h.Get("If-None-Match"), h.Get("If-Unmodified-Since"), h.Get("Range"),
		strings.Join(ch, "\n"), res,
	}, "\n")
}
